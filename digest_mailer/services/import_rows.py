"""Reading a subscriber CSV: a pure parser that checks every row and reports every bad one.

Columns (header names case-insensitive, surrounding spaces ignored): email, name,
categories, keywords, exclusions, timezone, send_hour, language and, optionally, max_papers,
cadence ("daily" | "weekly") and weekday (mon…sun or 0…6, which a weekly row needs), each
kept as stored when empty (a new reader is daily), and library (arXiv ids or DOIs; a filled
cell replaces the reader's library seeds, an empty one keeps them); other columns (such as
the export's "status") are ignored. List cells separate items with "|" (a keyword may be a
phrase with spaces) or, in a cell without "|", with ";" or "," (``"cs.CV;cs.AI"``). UTF-8
with or without BOM; comma, semicolon or tab delimited (Excel's "sep=;" first line is
honoured). The file is read a line at a time: a record past MAX_RECORD_CHARS, a cell past
MAX_CELL_CHARS or with a NUL is a rejected row, never a crash. Each row's fields are checked
by :mod:`digest_mailer.domain.subscriber`, as the preferences page's and the CLI's are; a
row's missing time zone and send hour are the caller's defaults (the settings'), never this
module's. Nothing here touches the database: :mod:`.importer` applies what it returns.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from digest_mailer.domain.library import Seed, library_cell
from digest_mailer.domain.subscriber import check_profile, split_cell
from digest_mailer.errors import ImportRowError, LibraryError
from digest_mailer.services.csvlines import (
    MAX_CELL_CHARS,
    MAX_RECORD_CHARS,
    Lines,
    RecordTooLong,
    count_lines,
    open_stream,
    row_error,
)
from digest_mailer.services.exporter import restore

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


