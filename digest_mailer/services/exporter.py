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
from typing import TextIO

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.domain.schedule import WEEKDAYS, WEEKLY

COLUMNS = ("email", "name", "categories", "keywords", "exclusions", "timezone", "send_hour",
           "language")
# cadence and weekday (mon…sun, a weekly reader's only) import too, as optional columns.
EXPORT_COLUMNS = (*COLUMNS, "cadence", "weekday", "status")
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
    """A list cell. One item holding ";" or "," gets a trailing "|": the importer splits a
    cell without "|" on those, and would read it as several."""
    cell = "|".join(items)
    return cell + "|" if len(items) == 1 and any(c in cell for c in ";,") else cell


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
    """Every subscriber, in the importer's columns plus cadence, weekday and status;
    returns the row count."""
    rows = [
        (s.email, s.name, join_items(s.categories), join_items(s.keywords),
         join_items(s.excluded_keywords), s.timezone, str(s.send_hour), s.language, s.cadence,
         WEEKDAYS[s.weekday] if s.cadence == WEEKLY else "", s.status)
        for s in db.subscribers.every(session)
    ]
    write_rows(handle, EXPORT_COLUMNS, rows)
    return len(rows)


