"""The admin dashboard's figures: the Run rows' counts summed per UTC day, last 30 days.

The Run rows are the source of truth, as in ``digest-mailer runs``: a day's figure is the
sum of one count over that day's runs of one kind, each run placed on the UTC date of its
``started_at`` (the date the CLI prints). Pure: :func:`per_day` takes the rows, so it is
tested without a database or a web server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from digest_mailer.db.models import Run
from digest_mailer.replies.classify import BOUNCES

DAYS = 30

# Each series: the run kind it reads and the counts it sums.
SUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sent": ("send", ("sent",)),
    # A failed attempt (permanent or to be retried): the run's "failed", as printed.
    "failed": ("send", ("failed",)),
    "empty": ("send", ("skipped_empty",)),
    # Verified bounces only: an unverified one proves nothing about the address.
    "bounced": ("replies", BOUNCES),
    # The briefing calls and the TL;DR calls both go to the model.
    "llm_calls": ("send", ("llm_calls", "llm_tldr_calls")),
    "llm_cache_hits": ("send", ("llm_cache_hits", "llm_tldr_cache_hits")),
    "llm_input_tokens": ("send", ("llm_prompt_tokens",)),
    "fetch_failures": ("ingest", ("failed",)),
}
# Ingest runs come every few minutes: a source failing all day would count once a run, so
# "sources failing" is the most that failed in any one run of the day.
MAXIMA: dict[str, tuple[str, str]] = {"sources_failing": ("ingest", "failed")}
SERIES = (*SUMS, *MAXIMA)


@dataclass(frozen=True)
class Days:
    """One value per day and series, oldest day first; ``errors``: each day's ingest errors
    ("source label: reason", as the runs record them), distinct, in the order seen."""

    days: tuple[date, ...]
    series: dict[str, tuple[int, ...]]
    errors: tuple[tuple[str, ...], ...]

    def of(self, name: str) -> tuple[int, ...]:
        return self.series[name]


def window(today: date, days: int = DAYS) -> tuple[date, datetime]:
    """The first day shown and the instant it starts (UTC midnight)."""
    first = today - timedelta(days=days - 1)
    return first, datetime(first.year, first.month, first.day, tzinfo=UTC)


def per_day(runs: Iterable[Run], today: date, days: int = DAYS) -> Days:
    """The runs' counts per UTC day from ``today - days + 1`` to ``today``; runs outside
    that window are left out."""
    first, _ = window(today, days)
    dates = tuple(first + timedelta(days=i) for i in range(days))
    values = {name: [0] * days for name in SERIES}
    errors: list[dict[str, None]] = [{} for _ in range(days)]
    for run in runs:
        i = (run.started_at.astimezone(UTC).date() - first).days
        if not 0 <= i < days:
            continue
        counts = run.counts or {}
        for name, (kind, keys) in SUMS.items():
            if run.kind == kind:
                values[name][i] += sum(int(counts.get(k, 0)) for k in keys)
        for name, (kind, key) in MAXIMA.items():
            if run.kind == kind:
                values[name][i] = max(values[name][i], int(counts.get(key, 0)))
        if run.kind == "ingest":
            errors[i].update(dict.fromkeys(run.errors or ()))
    return Days(dates, {k: tuple(v) for k, v in values.items()},
                tuple(tuple(e) for e in errors))
