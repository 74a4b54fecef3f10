"""What one run did: the counts and errors every service returns and saves as a Run row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    """Counts and errors of one run; saved as a Run row and printed by the CLI."""

    kind: str
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def fail(self, what: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.errors.append(f"{what}: {reason}")
