"""Subscriber CSV import: a pure parser that reports every bad row, and one apply step.

Columns (header names case-insensitive, surrounding spaces ignored): email, name,
categories, keywords, exclusions, timezone, send_hour, language and, optionally, max_papers,
cadence ("daily" | "weekly") and weekday (mon…sun or 0…6, which a weekly row needs), each
kept as stored when empty (a new reader is daily), and library (arXiv ids or DOIs; a filled
cell replaces the reader's library seeds, an empty one keeps them); other columns (such as
the export's "status") are ignored. List cells separate items with "|" (a keyword may be a
phrase with spaces) or, in a cell without "|", with ";" or "," (``"cs.CV;cs.AI"``). UTF-8
with or without BOM; comma, semicolon or tab delimited (Excel's "sep=;" first line is
honoured). The file is read a line at a time: a record
past MAX_RECORD_CHARS, a cell past MAX_CELL_CHARS or with a NUL is a rejected row, never a
crash. Each row's fields are checked by :mod:`digest_mailer.domain.subscriber`, as the
preferences page's and the CLI's are; a row's missing time zone and send hour are the
caller's defaults (the settings'), never this module's. The whole import is one
transaction, and someone who unsubscribed or bounced is never re-activated unless
``resubscribe`` is set.

:func:`import_csv` is the one entry point for the CLI and the web admin upload.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import SubscriberStatus
from digest_mailer.domain.library import Seed, library_cell
from digest_mailer.domain.subscriber import check_profile, split_cell
from digest_mailer.errors import ImportConflict, ImportRowError, LibraryError
from digest_mailer.services.csvlines import MAX_CELL_CHARS as MAX_CELL_CHARS
from digest_mailer.services.csvlines import MAX_RECORD_CHARS as MAX_RECORD_CHARS
from digest_mailer.services.csvlines import (
    Lines,
    RecordTooLong,
    count_lines,
    open_stream,
    row_error,
)
from digest_mailer.services.exporter import COLUMNS as COLUMNS
from digest_mailer.services.exporter import restore
from digest_mailer.services.import_report import ImportReport as ImportReport

log = logging.getLogger(__name__)

RESUBSCRIBED = "resubscribed by import"
ADDED = "added by import"
FIELDS = ("name", "categories", "keywords", "excluded_keywords", "timezone", "send_hour",
          "language", "max_papers", "cadence", "weekday")
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
    max_papers: int | None = None  # None: the cell was empty, the stored value stays
    cadence: str | None = None  # None: the cell was empty, the stored value stays
    weekday: int | None = None  # likewise
    library: tuple[Seed, ...] | None = None  # None: no library cell, the stored seeds stay


@dataclass
class ParsedFile:
    rows: list[SubscriberRow]
    errors: list[ImportRowError]
    header: list[str] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)  # original cells of bad records
    fatal: bool = False  # the file itself is unusable (encoding, header): nothing is imported


# --- parsing: pure ---------------------------------------------------------------------

def _delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def parse(source: str | bytes | BinaryIO, *, known_categories: Sequence[str],
          default_timezone: str, default_send_hour: int, check_dns: bool = False,
          smtputf8: bool = False, progress: Progress | None = None) -> ParsedFile:
    """Read and validate every row; nothing is written.

    ``default_timezone`` and ``default_send_hour`` fill a row's empty cells: pass the
    settings' ``default_timezone`` and ``default_send_hour``.

    ``source`` may be an open binary file: it is read a line at a time, so memory stays
    bounded by MAX_RECORD_CHARS whatever the file holds.
    """
    stream = open_stream(source)
    total = count_lines(stream) if progress else 0
    lines = Lines(stream)
    try:
        return _parse(lines, _Checker(known_categories, default_timezone, default_send_hour,
                                      check_dns, smtputf8),
                      progress("validate", total) if progress else None)
    except ImportRowError as err:  # the file is not UTF-8
        return ParsedFile([], [err], fatal=True)


def _too_long(line: int) -> ImportRowError:
    return row_error(line, "(line)", "line_too_long", limit=f"{MAX_RECORD_CHARS:,}",
                     cell_limit=f"{MAX_CELL_CHARS:,}")


def _parse(lines: Lines, check: _Checker, bar: Any) -> ParsedFile:
    try:
        first = next(lines, "")
    except RecordTooLong:
        return ParsedFile([], [_too_long(1)], fatal=True)
    skipped = 0
    sep = _SEP_LINE.match(first.strip("\r\n"))
    if sep:  # Excel's "sep=;" hint line
        delimiter, skipped = sep.group(1), 1
    else:
        delimiter = _delimiter(first)
        lines.push_back(first)
    lines.delimiter = delimiter.encode()
    header_line = skipped + 1
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
    try:
        header = next(reader, None)
    except (RecordTooLong, csv.Error):
        return ParsedFile([], [_too_long(header_line)], fatal=True)
    if not header or not any(h.strip() for h in header):
        return ParsedFile([], [row_error(header_line, "email", "no_header")], fatal=True)
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.replace("\ufeff", "").strip().lower()
        if key in position:
            return ParsedFile([], [row_error(header_line, key, "column_twice")], header,
                              fatal=True)
        if key:
            position[key] = i
    if "email" not in position:
        found = ", ".join(repr(h.strip()) for h in header if h.strip())
        return ParsedFile([], [row_error(header_line, "email", "no_email_column", found=found,
                                         delimiter=repr(delimiter))], header, fatal=True)
    result = ParsedFile([], [], header)
    names = {i: key for key, i in position.items()}
    while True:
        line, lines.record_chars = lines.line + 1, 0
        try:
            cells = next(reader)
        except StopIteration:
            break
        except RecordTooLong:
            result.errors.append(_too_long(line))
            continue
        except csv.Error as err:
            result.errors.append(row_error(line, "(line)", "not_csv", detail=str(err)))
            continue
        finally:
            if bar is not None:
                bar.update(lines.line - line + 1)
        if not any(c.strip() for c in cells):
            continue
        row, errors = check.record(line, cells, position, len(header), names)
        if row is not None:
            result.rows.append(row)
        else:
            result.errors.extend(errors)
            # what the rejects file shows: bounded, and without the NULs that were refused
            result.cells[line] = [c[:MAX_CELL_CHARS].replace("\0", "\ufffd") for c in cells]
    if bar is not None:
        bar.close()
    return result


class _Checker:
    """Validation of one record at a time; remembers addresses to find duplicates."""

    def __init__(self, known_categories: Sequence[str], default_timezone: str,
                 default_send_hour: int, check_dns: bool, smtputf8: bool) -> None:
        self.known = list(known_categories)
        self.default_timezone, self.default_send_hour = default_timezone, default_send_hour
        self.check_dns, self.smtputf8 = check_dns, smtputf8
        self.seen: dict[str, int] = {}

    def record(self, line: int, cells: list[str], position: dict[str, int], width: int,
               names: dict[int, str]) -> tuple[SubscriberRow | None, list[ImportRowError]]:
        errors = list(_bad_cells(line, cells, names))
        if errors:  # the file is damaged or hostile here: no field is worth checking
            return None, errors

        def cell(name: str) -> str:
            i = position.get(name)
            return restore(cells[i].strip()) if i is not None and i < len(cells) else ""

        if any(c.strip() for c in cells[width:]):
            errors.append(row_error(line, "(extra cells)", "extra_cells", cells=len(cells),
                                    width=width))
        profile = check_profile(
            email=cell("email"), name=cell("name"), categories=split_cell(cell("categories")),
            keywords=split_cell(cell("keywords")), exclusions=split_cell(cell("exclusions")),
            timezone=cell("timezone") or self.default_timezone,
            send_hour=cell("send_hour") or str(self.default_send_hour),
            language=cell("language") or "en", max_papers=cell("max_papers") or None,
            cadence=cell("cadence") or None, weekday=cell("weekday") or None,
            known_categories=self.known, smtputf8=self.smtputf8, check_dns=self.check_dns)
        errors += [ImportRowError(line, e.field, e.reason, e) for e in profile.errors]
        library = None
        if cell("library"):
            try:
                library = library_cell(cell("library"))
            except LibraryError as err:
                errors.append(row_error(line, "library", "library", detail=err.reason))
        if profile.email:
            if profile.email in self.seen:
                errors.insert(0, row_error(line, "email", "duplicate",
                                           first=self.seen[profile.email]))
            else:
                self.seen[profile.email] = line
        if errors:
            return None, errors
        return SubscriberRow(line, profile.email, profile.name, tuple(profile.categories),
                             tuple(profile.keywords), tuple(profile.exclusions),
                             profile.timezone, profile.send_hour, profile.language,
                             profile.max_papers, profile.cadence, profile.weekday,
                             library), []


def _bad_cells(line: int, cells: list[str], names: dict[int, str]) -> Iterator[ImportRowError]:
    """Cells no subscriber field could hold: past MAX_CELL_CHARS, or with a NUL in them."""
    for i, value in enumerate(cells):
        column = names.get(i, f"column {i + 1}")
        if len(value) > MAX_CELL_CHARS:
            yield row_error(line, column, "cell_too_long", limit=f"{MAX_CELL_CHARS:,}",
                            length=f"{len(value):,}")
        elif "\0" in value:
            yield row_error(line, column, "nul", at=value.index(chr(0)) + 1)


# --- applying: one transaction ---------------------------------------------------------

def _values(row: SubscriberRow) -> dict[str, Any]:
    values = {"name": row.name, "categories": list(row.categories),
              "keywords": list(row.keywords), "excluded_keywords": list(row.exclusions),
              "timezone": row.timezone, "send_hour": row.send_hour, "language": row.language}
    optional = {"max_papers": row.max_papers, "cadence": row.cadence, "weekday": row.weekday}
    values.update({k: v for k, v in optional.items() if v is not None})
    return values


def _existing(session: Session, rows: Sequence[SubscriberRow],
              progress: Progress | None) -> dict[str, Any]:
    """The stored state of these rows' subscribers, by address (chunked IN queries on the
    index, plain rows rather than ORM objects: a re-import of 100,000 stays cheap).

    Addresses are stored in lower case; a row stored in mixed case by an older version is
    found by one extra query over the mixed-case rows only, and gets its address lowered.
    """
    wanted = sorted({r.email for r in rows})
    bar = progress("look up", len(wanted)) if progress else None
    found = db.subscribers.profiles_by_email(
        session, wanted, ("id", "email", "status", *FIELDS),
        done=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
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
    held = db.library.identities(session, [existing[r.email].id for r in rows
                                           if r.library is not None and r.email in existing])
    libraries: list[SubscriberRow] = []  # rows whose library is (re)written
    changes: list[dict[str, Any]] = []
    new: list[SubscriberRow] = []
    for row in rows:
        values = _values(row)
        stored = existing.get(row.email)
        if stored is None:
            report.added.append(row.email)
            new.append(row)
            libraries += [row] if row.library else []
            continue
        if stored.status != SubscriberStatus.ACTIVE and not resubscribe:
            report.kept_unsubscribed.append(row.email)
            report.previous_status[row.email] = stored.status
            continue
        changed = tuple(k for k, v in values.items() if getattr(stored, k) != v)
        if row.library is not None and [s.identity for s in row.library] != held.get(
                stored.id, []):
            changed, libraries = (*changed, "library"), [*libraries, row]
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
            if set(changed) - {"library"}:
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
    db.subscribers.update_many(session, changes)
    bar = progress("insert", len(new)) if progress and new else None
    db.subscribers.insert_many(session, [{**_values(r), "email": r.email} for r in new], now,
                               done=bar.update if bar is not None else None)
    _write_libraries(session, libraries)
    _record_statuses(session, report, {r.email for r in new}, existing, now)
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


def _record_statuses(session: Session, report: ImportReport, added: set[str],
                     existing: dict[str, Any], now: datetime) -> None:
    """The status history of this import: each new subscriber starts active, and each
    resubscribed one is active again, by "import"."""
    ids = db.subscribers.ids_by_email(session, sorted(added)) if added else {}
    rows = [{"subscriber_id": ids[e], "status": SubscriberStatus.ACTIVE, "previous": None,
             "reason": ADDED, "by": "import"} for e in sorted(added) if e in ids]
    rows += [{"subscriber_id": existing[e].id, "status": SubscriberStatus.ACTIVE,
              "previous": report.previous_status[e], "reason": RESUBSCRIBED, "by": "import"}
             for e in report.resubscribed]
    db.statuses.record_many(session, rows, now)


def _write_libraries(session: Session, rows: Sequence[SubscriberRow]) -> None:
    """Each row's library cell replaces that reader's library seeds (the statement stays),
    in the import's transaction; ids of stored papers get their titles."""
    ids = db.subscribers.ids_by_email(session, [r.email for r in rows])
    for row in rows:
        seeds, _ = db.library.resolve(session, row.library or ())
        db.library.add(session, ids[row.email], seeds, replacing=True)


@contextmanager
def _session(target: Engine | Session) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
        return
    with Session(target) as session:
        yield session


def import_csv(target: Engine | Session, data: str | bytes | BinaryIO, *,
               default_timezone: str, default_send_hour: int,
               known_categories: Sequence[str] | None = None, check_dns: bool = False,
               smtputf8: bool = False,
               dry_run: bool = False, skip_invalid: bool = False, resubscribe: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportReport:
    """Parse, validate and apply a subscriber CSV: the CLI's and the admin upload's import.

    ``default_timezone`` and ``default_send_hour`` (the settings') fill a row's empty cells.
    ``data`` may be an open binary file (read a line at a time). Any rejected row means
    nothing is written unless ``skip_invalid``; a file-level error (encoding, header)
    always means nothing is written. ``known_categories`` defaults to
    ``db.sources.subscribable_categories`` (the sources' and stored arXiv papers' categories).
    ``smtputf8`` admits non-ASCII local parts (``DIGEST_SMTP_UTF8``).
    ``dry_run`` plans the same import and writes nothing.
    """
    with _session(target) as session:
        if known_categories is None:
            known_categories = db.sources.subscribable_categories(session)
        parsed = parse(data, known_categories=known_categories,
                       default_timezone=default_timezone, default_send_hour=default_send_hour,
                       check_dns=check_dns, smtputf8=smtputf8, progress=progress)
        report = ImportReport(rejected=parsed.errors, header=parsed.header, cells=parsed.cells,
                              dry_run=dry_run)
        report.fatal = parsed.fatal
        report.refused = parsed.fatal or (bool(parsed.errors) and not skip_invalid)
        if parsed.fatal or (report.refused and not dry_run):
            return report
        return apply_rows(session, parsed.rows, report, dry_run=dry_run,
                          resubscribe=resubscribe, progress=progress, now=now)
