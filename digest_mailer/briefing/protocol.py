"""What every briefer is and shares: the Briefer protocol, the run's budget, the cache."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from digest_mailer.domain.digest import Briefing, CategoryGroup

if TYPE_CHECKING:
    from digest_mailer.briefing.themes import Theme


class BudgetExhausted(Exception):
    """The run's LLM budget (calls, input tokens or time) is spent: use the extractive one."""


class RunBudget:
    """What the briefings of one send run may spend; 0 means unlimited. Thread-safe.

    A call reserves its estimated input tokens (the prompt's characters / 4) before it is
    made, so concurrent calls cannot overshoot ``max_tokens``; the endpoint's own count
    replaces the estimate when it answers.
    """

    def __init__(self, max_calls: int = 0, max_tokens: int = 0, seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls, self.max_tokens = max_calls, max_tokens
        self.clock = clock
        self.deadline = clock() + seconds if seconds else None
        self.calls = self.tokens = 0
        self._lock = threading.Lock()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def take(self, tokens: int) -> None:
        """Reserve one call of about ``tokens`` input tokens, or raise BudgetExhausted."""
        with self._lock:
            if self.deadline is not None and self.clock() >= self.deadline:
                raise BudgetExhausted("time")
            if self.max_calls and self.calls >= self.max_calls:
                raise BudgetExhausted("calls")
            if self.max_tokens and self.tokens + tokens > self.max_tokens:
                raise BudgetExhausted("tokens")
            self.calls += 1
            self.tokens += tokens

    def settle(self, estimated: int, actual: int) -> None:
        """Replace a call's estimate by the endpoint's count."""
        if actual > 0:
            with self._lock:
                self.tokens += actual - estimated


class Briefer(Protocol):
    """Anything that writes a digest's briefing paragraph: the LLM briefer, the extractive one."""

    def brief(self, groups: Sequence[CategoryGroup], language: str,
              budget: RunBudget | None = None, themes: Sequence[Theme] | None = None,
              cadence: str = "daily") -> Briefing:
        """The briefing; with a ``budget``, may raise BudgetExhausted instead of a call.
        ``themes``: the send batch's (each briefer finds its own when None); ``cadence``:
        "weekly" words the extractive briefing as the week's."""
        ...


class BriefingCache(Protocol):
    """Briefings by :func:`cache_key`, shared by whoever writes the same digest.

    ``claim`` makes one writer ask the endpoint for a key while the others wait for its
    answer (workers that meet the same new selection at once); a claim older than
    ``stale_after`` seconds was abandoned and may be taken over; ``release`` gives a
    claim up after a failed call.
    """

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str, model: str) -> None: ...

    def claim(self, key: str, stale_after: float) -> bool: ...

    def release(self, key: str) -> None: ...


class MemoryBriefingCache:
    """A process-local :class:`BriefingCache` (tests, one-off runs)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
        return item[0] if item else None

    def put(self, key: str, text: str, model: str) -> None:
        with self._lock:
            self._items[key] = (text, model)
            self._claims.pop(key, None)

    def claim(self, key: str, stale_after: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if key in self._items or now - self._claims.get(key, -math.inf) < stale_after:
                return False
            self._claims[key] = now
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)
