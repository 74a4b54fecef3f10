"""Bounded reading of a CSV file for the csv module: one decoded line at a time.

:class:`Lines` hands the csv reader a file's lines without ever holding more than one
bounded line: a line, or a quoted record over several lines, past MAX_RECORD_CHARS is
skipped to its real end (as the csv module would split it) and reported, never read whole.
"""

from __future__ import annotations

import io
import re
from typing import BinaryIO

from digest_mailer import i18n
from digest_mailer.errors import ImportRowError


def row_error(line: int, column: str, code: str, **params: object) -> ImportRowError:
    """A refused line, worded in English by the ``import.<code>`` string; a page words it
    in its own language from the code."""
    return ImportRowError(line, column, i18n.t(i18n.REFERENCE, f"import.{code}", **params),
                          code=code, params=params)

# Far above any real cell (50 keywords of 100 characters are ~5,000), far below the csv
# module's own 131,072 that used to end the import with a traceback.
MAX_CELL_CHARS = 10_000
MAX_RECORD_CHARS = 100_000  # one line, or one record across lines (a quoted newline)
_LINE_BYTES = 4 * MAX_RECORD_CHARS + 3  # UTF-8 needs at most 4 bytes a character; + CRLF
_SKIP_BYTES = 1 << 20
_QUOTE_OR_END = re.compile(rb'["\n]')


class RecordTooLong(Exception):
    """The record being read passed MAX_RECORD_CHARS; the rest of it was skipped."""


class Lines:
    """The file's lines for the csv reader, decoded one at a time and each one bounded.

    A line, or a record spanning lines (a quoted newline), past MAX_RECORD_CHARS raises
    :class:`RecordTooLong` without ever being held whole: the csv reader starts afresh at the
    next line. A byte that is not UTF-8 raises ImportRowError (the file is refused).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.delimiter = b","  # the caller sets the file's
        self.line = 0  # physical lines handed out (or skipped) so far
        self.record_chars = 0  # of the record being read; the caller resets it
        self._pending: str | None = None

    def __iter__(self) -> Lines:
        return self

    def push_back(self, text: str) -> None:
        """Hand ``text`` out again as the next line."""
        self._pending = text
        self.line -= 1

    def __next__(self) -> str:
        if self._pending is not None:
            text, self._pending = self._pending, None
            self.line += 1
        else:
            raw = self.stream.readline(_LINE_BYTES)
            if not raw:
                raise StopIteration
            self.line += 1
            if len(raw) == _LINE_BYTES and not raw.endswith(b"\n"):
                self._skip_record(raw, in_quotes=self.record_chars > 0)
            text = self._decode(self._first(raw) if self.line == 1 else raw)
            if self.record_chars + len(text) > MAX_RECORD_CHARS + 2:  # + CRLF
                self._skip_record(raw, in_quotes=self.record_chars > 0)
        self.record_chars += len(text)
        return text

    def _skip_record(self, data: bytes, *, in_quotes: bool) -> None:
        """Read past the rest of the record ``data`` belongs to, as the csv module would
        split it (a quote opens a field only at its start; "" inside quotes is a quote),
        holding one bounded chunk at a time; then raise :class:`RecordTooLong`.

        ``in_quotes``: the record began on an earlier line, so ``data`` starts inside a
        quoted cell (a record only spans lines there).
        """
        last = b"\n"  # the last byte outside quotes that is not a space (\n: line start)
        quote_at_end = False  # the chunk ended on a quote inside quotes: "" or a close?
        while data:
            i = 0
            if quote_at_end:
                quote_at_end = False
                if data[:1] == b'"':
                    i = 1
                else:
                    in_quotes, last = False, b'"'
            while i < len(data):
                if in_quotes:
                    j = data.find(b'"', i)
                    if j < 0 or j + 1 == len(data):
                        quote_at_end = j >= 0
                        break
                    if data[j + 1:j + 2] == b'"':
                        i = j + 2
                        continue
                    in_quotes, last, i = False, b'"', j + 1
                    continue
                found = _QUOTE_OR_END.search(data, i)
                end = found.start() if found else len(data)
                if segment := data[i:end].rstrip(b" "):
                    last = segment[-1:]
                if found is None:
                    break
                if found.group() == b"\n":
                    raise RecordTooLong
                in_quotes = last in (b"\n", self.delimiter)
                last, i = (last if in_quotes else b'"'), end + 1
            data = self.stream.readline(_SKIP_BYTES)
            if data.endswith(b"\n"):
                self.line += 1
        raise RecordTooLong

    def _first(self, raw: bytes) -> bytes:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise row_error(1, "file", "utf16")
        return raw.removeprefix(b"\xef\xbb\xbf")

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise row_error(self.line, "file", "not_utf8", byte=f"{raw[err.start]:02x}",
                            at=err.start + 1) from None


def open_stream(source: str | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, str):
        return io.BytesIO(source.encode("utf-8", "surrogatepass"))
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return source


def count_lines(stream: BinaryIO) -> int:
    """Lines left in a seekable stream (for the progress bar), read in bounded chunks."""
    if not stream.seekable():
        return 0
    here, count = stream.tell(), 0
    while chunk := stream.read(_SKIP_BYTES):
        count += chunk.count(b"\n")
    stream.seek(here)
    return count
