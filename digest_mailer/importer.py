"""Subscriber CSV import: a pure parser that reports every bad row, and one apply step.

Columns (header names case-insensitive, surrounding spaces ignored): email, name,
categories, keywords, exclusions, timezone, send_hour, language; other columns (such as
the export's "status") are ignored. List cells separate items with "|" (a keyword may be
a phrase with spaces). UTF-8 with or without BOM; comma, semicolon or tab delimited
(Excel's "sep=;" first line is honoured). The whole import is one transaction, and
someone who unsubscribed or bounced is never re-activated unless ``resubscribe`` is set.

:func:`import_csv` is the one entry point for the CLI and the web admin upload.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from digest_mailer import store
from digest_mailer.errors import DigestError, ImportRowError
from digest_mailer.exporter import COLUMNS as COLUMNS
from digest_mailer.exporter import ImportReport as ImportReport
from digest_mailer.exporter import restore
from digest_mailer.models import Subscriber, SubscriberStatus

log = logging.getLogger(__name__)

LANGUAGES = ("en", "zh")
RESUBSCRIBED = "resubscribed by import"
FIELDS = ("name", "categories", "keywords", "excluded_keywords", "timezone", "send_hour",
          "language")
CHUNK = 900  # addresses per IN query (under SQLite's bound-parameter limit)
_SEP_LINE = re.compile(r'^"?sep=(.)"?\s*$')

# progress(desc, total) → an object with update(n) and close(), e.g. functools.partial(tqdm…)
Progress = Callable[[str, int], Any]


@dataclass(frozen=True)
class SubscriberRow:
    line: int
    email: str  # normalised by email-validator, then lower-cased
    name: str
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...]
    timezone: str
    send_hour: int
    language: str


@dataclass
class ParsedFile:
    rows: list[SubscriberRow]
    errors: list[ImportRowError]
    header: list[str] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)  # original cells of bad records
    fatal: bool = False  # the file itself is unusable (encoding, header): nothing is imported


class ImportConflict(DigestError):
    """The same subscribers were written by someone else during the import."""


# --- parsing: pure ---------------------------------------------------------------------

def decode(data: bytes) -> str:
    """UTF-8 text with or without a BOM; anything else is refused, naming line and byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRowError(1, "file", "the file is UTF-16 (Excel 'Unicode Text'); save it "
                                        "as 'CSV UTF-8 (comma delimited)' and try again")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        offset = err.start - (data.rfind(b"\n", 0, err.start) + 1)
        raise ImportRowError(line, "file", (
            f"not UTF-8 text: byte 0x{data[err.start]:02x} at byte {offset + 1} of the line "
            "(probably a Windows-1252/Latin-1 export); save the file as 'CSV UTF-8' and "
            "try again")) from None


def _items(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in cell.split("|") if i.strip()))


@lru_cache(maxsize=4096)
def _zone(name: str) -> str | None:
    """The canonical IANA spelling of a zone name (matched case-insensitively), or None."""
    canonical = _zones_folded().get(name.casefold())
    if canonical is not None:
        return canonical
    try:  # a zone the listing misses (no tzdata index): ask zoneinfo itself
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return name


@lru_cache(maxsize=1)
def _zones_folded() -> dict[str, str]:
    return {z.casefold(): z for z in available_timezones()}


def _delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def parse(text: str | bytes, *, known_categories: Sequence[str], default_timezone: str = "UTC",
          default_send_hour: int = 7, check_dns: bool = False,
          progress: Progress | None = None) -> ParsedFile:
    """Read and validate every row; nothing is written."""
    if isinstance(text, bytes):
        try:
            text = decode(text)
        except ImportRowError as err:
            return ParsedFile([], [err], fatal=True)
    text = text.removeprefix("\ufeff")
    handle = io.StringIO(text, newline="")
    first = handle.readline()
    skipped = 0
    sep = _SEP_LINE.match(first.strip("\r\n"))
    if sep:  # Excel's "sep=;" hint line
        delimiter, skipped = sep.group(1), 1
        first = handle.readline()
    else:
        delimiter = _delimiter(first)
    handle.seek(0)
    if skipped:
        handle.readline()
    reader = csv.reader(handle, delimiter=delimiter, skipinitialspace=True)
    header = next(reader, None)
    header_line = skipped + 1
    if not header or not any(h.strip() for h in header):
        return ParsedFile([], [ImportRowError(header_line, "email", "the file has no header "
                                              "line (email,name,categories,…)")], fatal=True)
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.replace("\ufeff", "").strip().lower()
        if key in position:
            return ParsedFile([], [ImportRowError(header_line, key,
                                                  "this column appears twice")],
                              header, fatal=True)
        if key:
            position[key] = i
    if "email" not in position:
        found = ", ".join(repr(h.strip()) for h in header if h.strip())
        return ParsedFile([], [ImportRowError(header_line, "email", (
            f"the header has no 'email' column (found {found}; delimiter {delimiter!r})"))],
            header, fatal=True)
    check = _Checker(known_categories, default_timezone, default_send_hour, check_dns)
    result = ParsedFile([], [], header)
    bar = progress("validate", text.count("\n")) if progress else None
    previous = reader.line_num
    for cells in reader:
        line, previous = previous + 1 + skipped, reader.line_num
        if bar is not None:
            bar.update(reader.line_num + skipped - line + 1)
        if not any(c.strip() for c in cells):
            continue
        row, errors = check.record(line, cells, position, len(header))
        if row is not None:
            result.rows.append(row)
        else:
            result.errors.extend(errors)
            result.cells[line] = cells
    if bar is not None:
        bar.close()
    return result


class _Checker:
    """Validation of one record at a time; remembers addresses to find duplicates."""

    def __init__(self, known_categories: Sequence[str], default_timezone: str,
                 default_send_hour: int, check_dns: bool) -> None:
        self.known = {c.casefold(): c for c in known_categories}
        self.default_timezone, self.default_send_hour = default_timezone, default_send_hour
        self.check_dns = check_dns
        self.seen: dict[str, int] = {}

    def record(self, line: int, cells: list[str], position: dict[str, int],
               width: int) -> tuple[SubscriberRow | None, list[ImportRowError]]:
        def cell(name: str) -> str:
            i = position.get(name)
            return restore(cells[i].strip()) if i is not None and i < len(cells) else ""

        errors: list[ImportRowError] = []

        def bad(column: str, reason: str) -> None:
            errors.append(ImportRowError(line, column, reason))

        if any(c.strip() for c in cells[width:]):
            bad("(extra cells)", f"{len(cells)} cells for a header of {width} columns "
                                 "(a delimiter inside an unquoted cell?)")
        email = cell("email")
        try:
            email = validate_email(email, check_deliverability=self.check_dns).normalized
            email = email.lower()
        except EmailNotValidError as err:
            bad("email", str(err) if email else "no address")
        else:
            if email in self.seen:
                bad("email", f"duplicate of line {self.seen[email]}")
            else:
                self.seen[email] = line
        categories = []
        for item in _items(cell("categories")):
            if item.casefold() in self.known:
                categories.append(self.known[item.casefold()])
            else:
                known = ", ".join(sorted(self.known.values())[:12]) or "none configured"
                bad("categories", f"unknown category {item!r} (the sources' categories: "
                                  f"{known})")
        zone_text = cell("timezone") or self.default_timezone
        zone = _zone(zone_text)
        if zone is None:
            bad("timezone", f"unknown time zone {zone_text!r} (an IANA name such as "
                            "'Europe/Berlin')")
        hour_text = cell("send_hour") or str(self.default_send_hour)
        hour_ok = hour_text.isdecimal() and 0 <= int(hour_text) <= 23
        if not hour_ok:
            bad("send_hour", "must be an hour from 0 to 23")
        language = (cell("language") or "en").lower()
        if language not in LANGUAGES:
            bad("language", "must be 'en' or 'zh'")
        keywords = _items(cell("keywords"))
        if not categories and not keywords and not any(e.column == "categories"
                                                      for e in errors):
            bad("categories", "give at least one category or keyword")
        if errors:
            return None, errors
        return SubscriberRow(line, email, cell("name"), tuple(categories), keywords,
                             _items(cell("exclusions")), zone or "", int(hour_text),
                             language), []


def parse_csv(text: str | bytes, *, known_categories: Sequence[str], default_timezone: str,
              default_send_hour: int,
              check_dns: bool = False) -> tuple[list[SubscriberRow], list[ImportRowError]]:
    """:func:`parse` as (good rows, errors)."""
    parsed = parse(text, known_categories=known_categories, default_timezone=default_timezone,
                   default_send_hour=default_send_hour, check_dns=check_dns)
    return parsed.rows, parsed.errors


# --- applying: one transaction ---------------------------------------------------------

def _values(row: SubscriberRow) -> dict[str, Any]:
    return {"name": row.name, "categories": list(row.categories),
            "keywords": list(row.keywords), "excluded_keywords": list(row.exclusions),
            "timezone": row.timezone, "send_hour": row.send_hour, "language": row.language}


def _existing(session: Session, rows: Sequence[SubscriberRow],
              progress: Progress | None) -> dict[str, Any]:
    """The stored state of these rows' subscribers, by address (chunked IN queries on the
    index, plain rows rather than ORM objects: a re-import of 100,000 stays cheap).

    Addresses are stored in lower case; a row stored in mixed case by an older version is
    found by one extra query over the mixed-case rows only, and gets its address lowered.
    """
    table = Subscriber.__table__  # type: ignore[attr-defined]
    query = select(*(table.c[name] for name in ("id", "email", "status", *FIELDS)))
    wanted = sorted({r.email for r in rows})
    found: dict[str, Any] = {}
    bar = progress("look up", len(wanted)) if progress else None
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        found.update((s.email, s) for s in session.execute(
            query.where(table.c.email.in_(chunk))))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if len(found) < len(wanted):
        for stored in session.execute(query.where(table.c.email != func.lower(table.c.email))):
            found.setdefault(stored.email.lower(), stored)
    return found


def apply_rows(session: Session, rows: Sequence[SubscriberRow],
               report: ImportReport | None = None, *, dry_run: bool = False,
               resubscribe: bool = False, progress: Progress | None = None,
               now: datetime | None = None) -> ImportReport:
    """Add or update subscribers in one transaction (or only plan it, with ``dry_run``).

    Unsubscribed and bounced subscribers are left as they are ("kept unsubscribed") unless
    ``resubscribe``: then they are re-activated, logged at WARNING and marked so.
    """
    report = report or ImportReport()
    report.dry_run = dry_run
    existing = _existing(session, rows, progress)
    changes: list[dict[str, Any]] = []
    new: list[SubscriberRow] = []
    for row in rows:
        values = _values(row)
        stored = existing.get(row.email)
        if stored is None:
            report.added.append(row.email)
            new.append(row)
            continue
        if stored.status != SubscriberStatus.ACTIVE and not resubscribe:
            report.kept_unsubscribed.append(row.email)
            report.previous_status[row.email] = stored.status
            continue
        changed = tuple(k for k, v in values.items() if getattr(stored, k) != v)
        if stored.email != row.email:
            changed = ("email", *changed)
            values["email"] = row.email
        if stored.status != SubscriberStatus.ACTIVE:
            report.resubscribed.append(row.email)
            report.previous_status[row.email] = stored.status
            report.changes[row.email] = changed
            changes.append({**values, "id": stored.id, "status": SubscriberStatus.ACTIVE,
                            "status_reason": RESUBSCRIBED, "soft_bounces": 0})
        elif changed:
            report.updated.append(row.email)
            report.changes[row.email] = changed
            changes.append({**values, "id": stored.id})
        else:
            report.unchanged.append(row.email)
    if dry_run:
        session.rollback()
        return report
    now = now or datetime.now(UTC)
    for values in changes:
        if "status" in values:
            values["status_changed_at"] = now
    for start in range(0, len(changes), CHUNK):  # ORM bulk UPDATE by primary key
        session.execute(update(Subscriber), changes[start:start + CHUNK])
    # New rows go in as multi-row INSERTs (the model's Python defaults taken once from a
    # template, public_id from its column default per row): ~10× faster than add_all.
    template = Subscriber(email="").model_dump(exclude={"id", "email", "public_id"})
    template["created_at"] = now
    bar = progress("insert", len(new)) if progress and new else None
    for start in range(0, len(new), CHUNK):
        chunk = new[start:start + CHUNK]
        session.execute(insert(Subscriber.__table__),  # type: ignore[attr-defined]
                        [{**template, **_values(r), "email": r.email} for r in chunk])
        if bar is not None:
            bar.update(len(chunk))
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise ImportConflict("some of these subscribers were added meanwhile by someone "
                             "else; nothing was written, run the import again") from err
    finally:
        if bar is not None:
            bar.close()
    report.written = True
    for email in report.resubscribed:
        log.warning("resubscribed by import: %s (was %s)", email, report.previous_status[email])
    return report


@contextmanager
def _session(target: Engine | Session) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
        return
    with Session(target) as session:
        yield session


def import_csv(target: Engine | Session, data: str | bytes, *,
               known_categories: Sequence[str] | None = None, default_timezone: str = "UTC",
               default_send_hour: int = 7, check_dns: bool = False, dry_run: bool = False,
               skip_invalid: bool = False, resubscribe: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportReport:
    """Parse, validate and apply a subscriber CSV: the CLI's and the admin upload's import.

    Any rejected row means nothing is written unless ``skip_invalid``; a file-level error
    (encoding, header) always means nothing is written. ``known_categories`` defaults to
    the configured sources' categories. ``dry_run`` plans the same import and writes nothing.
    """
    with _session(target) as session:
        if known_categories is None:
            known_categories = store.subscribable_categories(session)
        parsed = parse(data, known_categories=known_categories,
                       default_timezone=default_timezone, default_send_hour=default_send_hour,
                       check_dns=check_dns, progress=progress)
        report = ImportReport(rejected=parsed.errors, header=parsed.header, cells=parsed.cells,
                              dry_run=dry_run)
        report.refused = parsed.fatal or (bool(parsed.errors) and not skip_invalid)
        if parsed.fatal or (report.refused and not dry_run):
            return report
        return apply_rows(session, parsed.rows, report, dry_run=dry_run,
                          resubscribe=resubscribe, progress=progress, now=now)
