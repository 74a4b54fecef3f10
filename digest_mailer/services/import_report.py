"""What an import did or would do, as CLI text, the admin page's table and a rejects CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from digest_mailer import i18n
from digest_mailer.domain.subscriber import phrase
from digest_mailer.errors import ImportRowError
from digest_mailer.services.exporter import write_rows


@dataclass
class ImportReport:
    """What an import added, updated, kept and rejected (or would, in a dry run)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # email → changed fields
    unchanged: list[str] = field(default_factory=list)
    kept_unsubscribed: list[str] = field(default_factory=list)
    resubscribed: list[str] = field(default_factory=list)
    previous_status: dict[str, str] = field(default_factory=dict)  # kept or resubscribed
    rejected: list[ImportRowError] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)
    dry_run: bool = False
    refused: bool = False  # rows rejected without skip_invalid (or a file error): no write
    fatal: bool = False  # the file itself is unusable (encoding, header): no row was read
    written: bool = False

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({e.line for e in self.rejected})

    def summary(self) -> str:
        text = (f"{len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.kept_unsubscribed)} left "
                f"unsubscribed, {len(self.rejected_lines)} rejected")
        return text + (f", {len(self.resubscribed)} resubscribed" if self.resubscribed else "")

    def headline(self) -> str:
        if self.dry_run:
            refused = ("; without --skip-invalid this import would be refused"
                       if self.refused else "")
            return f"dry run, nothing written{refused}: {self.summary()}"
        if self.refused:
            return (f"refused, nothing written: {len(self.rejected_lines)} rows rejected "
                    "(fix them, or --skip-invalid to import the others)")
        return f"imported: {self.summary()}"

    def plan(self) -> list[tuple[str, str, str]]:
        """(action, email or line, detail) rows: the CLI's text and the admin page's table."""
        out = [("add", e, "") for e in self.added]
        out += [("update", e, ", ".join(self.changes.get(e, ()))) for e in self.updated]
        out += [("unchanged", e, "") for e in self.unchanged]
        out += [("kept unsubscribed", e, self.previous_status.get(e, ""))
                for e in self.kept_unsubscribed]
        out += [("resubscribe", e, f"was {self.previous_status.get(e, '')}")
                for e in self.resubscribed]
        out += [("reject", f"line {e.line}", f"column {e.column!r}: {e.reason}")
                for e in self.rejected]
        return out

    def lines(self, *, everything: bool) -> list[str]:
        """The report as text; without ``everything``, only resubscriptions and rejects."""
        shown = [p for p in self.plan() if everything or p[0] in ("resubscribe", "reject")]
        return [f"  {a:17} {who}" + (f"  ({detail})" if detail else "")
                for a, who, detail in shown]

    def write_rejects(self, handle: TextIO) -> None:
        """One CSV row per rejected record: line, column(s), reason(s), the original cells.

        The extra columns are ignored by the importer: fix the cells and import it again.
        """
        grouped: dict[int, list[ImportRowError]] = {}
        for error in self.rejected:
            grouped.setdefault(error.line, []).append(error)
        rows = [[str(line), "; ".join(e.column for e in errors),
                 "; ".join(e.reason for e in errors), *self.cells.get(line, [])]
                for line, errors in sorted(grouped.items())]
        write_rows(handle, ["line", "column", "reason", *self.header], rows)


def worded(error: ImportRowError, lang: str) -> str:
    """Why a line was refused, in ``lang``: the validator's refusal or the importer's own."""
    if error.refusal is not None:
        return phrase(error.refusal, lang)
    if error.code:
        return i18n.t(lang, f"import.{error.code}", **error.params)
    return error.reason
