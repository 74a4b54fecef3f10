"""Subscriber CSV export, the cell convention it shares with the importer, and the
import report (rendered as CLI text, as the admin page's table and as a rejects CSV).

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a CR) are
written with a leading "'" (OWASP "CSV injection"); the importer removes exactly that one
quote again, so export → import is lossless. A value that itself starts with quotes followed
by such a character gets one more quote, for the same reason.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.errors import ImportRowError

COLUMNS = ("email", "name", "categories", "keywords", "exclusions", "timezone", "send_hour",
           "language")
EXPORT_COLUMNS = (*COLUMNS, "status")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(value: str) -> bool:
    return value.lstrip("'")[:1] in FORMULA_STARTS and value.lstrip("'") != ""


def neutralise(value: str) -> str:
    """The cell as written to a CSV: a formula-looking value gets a leading "'"."""
    return "'" + value if _formula_like(value) else value


def restore(value: str) -> str:
    """The inverse of :func:`neutralise`, applied by the importer to every cell."""
    return value[1:] if value[:1] == "'" and _formula_like(value) else value


def join_items(items: Sequence[str]) -> str:
    return "|".join(items)


def write_rows(handle: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write a CSV with every cell neutralised (Excel-compatible: CRLF, quoted when needed).

    NUL characters (which the importer refuses, but an older version stored) are left out,
    so an export always imports again.
    """
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows([neutralise(str(cell).replace("\0", "")) for cell in row]
                     for row in rows)


def export_csv(session: Session, handle: TextIO) -> int:
    """Every subscriber, in the importer's columns plus status; returns the row count."""
    rows = [
        (s.email, s.name, join_items(s.categories), join_items(s.keywords),
         join_items(s.excluded_keywords), s.timezone, str(s.send_hour), s.language, s.status)
        for s in db.subscribers.every(session)
    ]
    write_rows(handle, EXPORT_COLUMNS, rows)
    return len(rows)


@dataclass
class ImportReport:
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
