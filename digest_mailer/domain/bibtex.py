"""BibTeX and RIS records as raw fields, each with the line it starts on (pure).

A small parser of our own: no well-kept BibTeX parser is installed (bibtexparser is not in the
venv), and what a library needs is narrow — entries, ``{…}``/``"…"`` values, ``#``
concatenation, ``@string`` macros, ``@comment``/``@preamble`` skipped. Anything outside an
entry is a comment, as in BibTeX itself. An entry that never closes is an error naming the
line it opened on, so a file is refused rather than half read.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from digest_mailer.domain.library_refusal import library_error
from digest_mailer.errors import LibraryError

_MONTHS = {m: m.capitalize() for m in
           ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")}
_NAME_RE = re.compile(r"[^\s\"#%'(),={}]+")
_SPACE_RE = re.compile(r"\s*")


@dataclass(frozen=True)
class RawRecord:
    line: int
    fields: dict[str, str]  # lower-case field names → values as written (braces stripped)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_right(self._starts, self.pos if pos is None else pos)

    def skip_space(self) -> None:
        self.pos = _SPACE_RE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self, what: str) -> str:
        """A name; ``what`` is the library.what.* phrase for what was expected."""
        self.skip_space()
        match = _NAME_RE.match(self.text, self.pos)
        if not match:
            raise self._expected("expected", what=what)
        self.pos = match.end()
        return match.group(0)

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            raise self._expected("expected_char", char=repr(char))
        self.pos += 1

    def _expected(self, code: str, **params: str) -> LibraryError:
        if self.pos >= len(self.text):
            return library_error(self.line(), f"{code}_end", **params)
        return library_error(self.line(), code, found=repr(self.text[self.pos:self.pos + 12]),
                             **params)

    def braced(self, opened_at: int) -> str:
        """From just after a ``{`` to its matching ``}``; returns the inside."""
        depth, start = 1, self.pos
        while depth:
            nxt = _next_brace(self.text, self.pos)
            if nxt < 0:
                raise library_error(self.line(opened_at), "unclosed", char=repr("{"))
            depth += 1 if self.text[nxt] == "{" else -1
            self.pos = nxt + 1
        return self.text[start:self.pos - 1]

    def quoted(self, opened_at: int) -> str:
        """From just after a ``"`` to the closing ``"`` outside braces."""
        depth, start = 0, self.pos
        while True:
            match = re.compile(r'(?<!\\)[{}"]').search(self.text, self.pos)
            if not match:
                raise library_error(self.line(opened_at), "unclosed", char=repr('"'))
            char, self.pos = match.group(0), match.end()
            if char == '"' and depth == 0:
                return self.text[start:self.pos - 1]
            depth += {"{": 1, "}": -1}.get(char, 0)


def _next_brace(text: str, pos: int) -> int:
    while True:
        a, b = text.find("{", pos), text.find("}", pos)
        nxt = min(a, b) if a >= 0 and b >= 0 else max(a, b)
        if nxt <= 0 or text[nxt - 1] != "\\":
            return nxt
        pos = nxt + 1  # \{ and \} are characters, not grouping


def bibtex_records(text: str) -> list[RawRecord]:
    reader, macros, records = _Reader(text), dict(_MONTHS), []
    while (at := text.find("@", reader.pos)) >= 0:
        reader.pos = at + 1
        start = reader.line(at)
        kind = reader.name("entry_type").lower()
        reader.skip_space()
        opener = reader.peek()
        if opener not in "{(" or not opener:
            raise library_error(start, "not_followed", kind=kind)
        reader.pos += 1
        closer = "}" if opener == "{" else ")"
        if kind in ("comment", "preamble"):
            if opener == "{":
                reader.braced(at)
            else:
                reader.pos = text.find(")", reader.pos) + 1 or len(text)
            continue
        if kind == "string":
            key = reader.name("string_name").lower()
            reader.expect("=")
            macros[key] = _value(reader, macros)
            reader.expect(closer)
            continue
        fields = _entry_fields(reader, closer, macros, start)
        records.append(RawRecord(start, fields))
    return records


def _entry_fields(reader: _Reader, closer: str, macros: dict[str, str],
                  start: int) -> dict[str, str]:
    reader.skip_space()
    if reader.peek() != ",":
        reader.name("key")  # the key itself says nothing about the paper
    fields: dict[str, str] = {}
    while True:
        reader.skip_space()
        char = reader.peek()
        if char == closer:
            reader.pos += 1
            return fields
        if char == ",":
            reader.pos += 1
            continue
        if not char:
            raise library_error(start, "entry_unclosed", open=repr("{"), close=repr("}"))
        name = reader.name("field_name").lower()
        reader.expect("=")
        fields[name] = _value(reader, macros)


def _value(reader: _Reader, macros: dict[str, str]) -> str:
    parts = []
    while True:
        reader.skip_space()
        char, at = reader.peek(), reader.pos
        if char == "{":
            reader.pos += 1
            parts.append(reader.braced(at))
        elif char == '"':
            reader.pos += 1
            parts.append(reader.quoted(at))
        else:
            word = reader.name("value")
            parts.append(word if word.isdigit() else macros.get(word.lower(), word))
        reader.skip_space()
        if reader.peek() != "#":
            return "".join(parts)
        reader.pos += 1


_RIS_TAG_RE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*)|)$")
_RIS_KEEP = {"TI": "title", "T1": "title", "AB": "abstract", "N2": "abstract", "DO": "doi",
             "UR": "url", "L1": "url", "M3": "note"}


def ris_records(lines: list[str]) -> list[RawRecord]:
    """RIS: ``TY  - `` opens a record, ``ER  - `` closes it; an untagged line continues the
    field above it (exporters wrap long abstracts)."""
    records: list[RawRecord] = []
    fields: dict[str, str] | None = None
    start, last = 0, ""
    for number, line in enumerate(lines, 1):
        match = _RIS_TAG_RE.match(line.rstrip())
        if not line.strip():
            continue
        if match is None:
            if fields is None:
                raise library_error(number, "ris_not_line")
            if last:
                fields[last] = f"{fields[last]} {line.strip()}"
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if fields is not None:
                raise library_error(start, "ris_no_end")
            fields, start, last = {}, number, ""
        elif fields is None:
            raise library_error(number, "ris_outside", tag=tag)
        elif tag == "ER":
            records.append(RawRecord(start, fields))
            fields, last = None, ""
        elif (name := _RIS_KEEP.get(tag)) and name not in fields:
            fields[name], last = value, name
        else:
            last = ""  # a field we do not keep; its continuation lines go with it
    if fields is not None:
        raise library_error(start, "ris_unclosed")
    return records
