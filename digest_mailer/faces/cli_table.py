"""`send --dry-run` as a table: who would get what, one row per digest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest_mailer.services.listing import DigestListing

HEADER = ("subscriber", "date", "digest", "papers", "per category", "briefing")


def digest_rows(listings: Sequence[DigestListing]) -> list[tuple[str, ...]]:
    """One row per digest: its reader, day, new or retry, papers, count per category
    (in the email's order) and briefing kind."""
    rows = []
    for listing in listings:
        per = Counter(paper.category for paper in listing.papers)  # keeps the email's order
        rows.append((listing.email, listing.digest_date.isoformat(),
                     "retry" if listing.retry else "new", str(len(listing.papers)),
                     ", ".join(f"{group} {n}" for group, n in per.items()) or "-",
                     listing.briefing or "-"))
    return rows


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...] = HEADER) -> list[str]:
    """Aligned columns (numbers to the right); the last column is not padded."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = [bool(rows) and all(row[i].isdigit() for row in rows) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [cell.rjust(w) if right else cell.ljust(w)
                 for cell, w, right in zip(row, widths, numeric, strict=True)]
        cells[-1] = row[-1]
        lines.append("  ".join(cells).rstrip())
    return lines
