"""A reader's library file → seed papers (pure): BibTeX, RIS, CSV, JSONL or a list of ids.

The format is read from the content, not the name: exports arrive as ``.txt`` and
``library.bib`` may hold RIS. A file is taken whole or not at all: the first bad record raises
:class:`LibraryError` naming its line, so nothing is half imported. Titles and abstracts are
capped as ingest caps feed text; a line longer than any real record is refused, not cut.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from digest_mailer.domain.bibtex import RawRecord, bibtex_records, ris_records
from digest_mailer.domain.library_refusal import library_error
from digest_mailer.ingest.clean import arxiv_id
from digest_mailer.ingest.parse import MAX_ABSTRACT, MAX_TITLE
from digest_mailer.ingest.tex import tex_to_unicode
from digest_mailer.text import one_line

MAX_SEEDS = 5_000
MAX_BYTES = 32 * 1024 * 1024  # 5,000 seeds with long abstracts fit several times over
MAX_LINE = 65_536  # a BibTeX abstract on one line is ~10 kB; a 10 MB line is no record
FORMATS = ("bibtex", "ris", "csv", "jsonl", "ids")
KINDS = ("library", "statement")

_DOI_RE = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)", re.I)
_RIS_START_RE = re.compile(r"^[A-Z][A-Z0-9]  -")
_UNBRACE_RE = re.compile(r"(?<!\\)[{}]")


@dataclass(frozen=True)
class Seed:
    """One paper that says what the reader works on; title or an id at least."""

    title: str = ""
    abstract: str = ""
    arxiv_id: str | None = None
    doi: str | None = None  # lower case: DOIs compare case-insensitively
    line: int = 0  # where its record starts in the file

    @property
    def identity(self) -> str:
        return (self.arxiv_id or (f"doi:{self.doi}" if self.doi else "")
                or "title:" + " ".join(self.title.lower().split()))


@dataclass(frozen=True)
class Library:
    format: str
    seeds: tuple[Seed, ...]
    duplicates: int = 0  # records naming a paper an earlier record already named


def parse_library(data: bytes) -> Library:
    """Every seed of a library file, or :class:`LibraryError` for the first bad line."""
    if len(data) > MAX_BYTES:
        raise library_error(0, "too_large", limit=MAX_BYTES // 2**20)
    text = _decode(data)
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise library_error(number, "line_too_long", limit=MAX_LINE)
        if "\x00" in line:
            raise library_error(number, "nul")
    kind = detect(lines)
    if kind == "bibtex":
        seeds = [_from_fields(r, tex=True) for r in bibtex_records(text)]
    elif kind == "ris":
        seeds = [_from_fields(r) for r in ris_records(lines)]
    elif kind == "jsonl":
        seeds = [_from_fields(r) for r in _jsonl_records(lines)]
    elif kind == "csv":
        seeds = [_from_fields(r) for r in _csv_records(text)]
    else:
        seeds = [_from_id(n, line) for n, line in enumerate(lines, 1) if _is_content(line)]
    return _checked(kind, seeds)


def detect(lines: list[str]) -> str:
    """The format of a file from its first line of content."""
    first = next((line.strip() for line in lines
                  if line.strip() and not line.lstrip().startswith("%")), "")
    if not first:
        raise library_error(0, "empty")
    if first.startswith("@"):
        return "bibtex"
    if _RIS_START_RE.match(first):
        return "ris"
    if first.startswith("{"):
        return "jsonl"
    if first.startswith("#") or _identifier(first) != (None, None):
        return "ids"
    header = {h.strip().lower() for h in re.split(r"[,;\t]", first)}
    if header & {"title", "arxiv_id", "doi", "id"}:
        return "csv"
    number = next(n for n, line in enumerate(lines, 1) if line.strip() == first)
    raise library_error(number, "unknown_format")


def identifiers(text: str) -> tuple[str | None, str | None]:
    """(arXiv id, DOI) of ``arXiv:2401.01234v2``, an arxiv.org link, ``10.…`` or a doi.org
    link; (None, None) when it is neither."""
    return _identifier(text.strip())


def statement_seed(text: str) -> Seed:
    """The reader's "what I work on" sentence as a seed: its text is the abstract."""
    statement = one_line(text)
    if not statement:
        raise library_error(0, "statement_empty")
    if len(statement) > MAX_ABSTRACT:
        raise library_error(0, "statement_too_long", limit=MAX_ABSTRACT)
    return Seed(abstract=statement)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise library_error(line, "not_utf8") from err
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_content(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _identifier(text: str) -> tuple[str | None, str | None]:
    if not text or any(c.isspace() for c in text):  # one id a line, nothing around it
        return None, None
    if match := _DOI_RE.fullmatch(text):
        return None, match.group(1).rstrip(".,;").lower()
    return arxiv_id(text), None


def _from_id(number: int, line: str) -> Seed:
    arxiv, doi = _identifier(line.strip())
    if not (arxiv or doi):
        raise library_error(number, "not_an_id", text=repr(line.strip()[:60]))
    return Seed(arxiv_id=arxiv, doi=doi, line=number)


def _text(value: str, limit: int, *, tex: bool) -> str:
    if tex:
        value = _UNBRACE_RE.sub("", tex_to_unicode(value))  # {BERT} protects case only
    value = one_line(value)
    return value[:limit].rstrip()


def _from_fields(record: RawRecord, *, tex: bool = False) -> Seed:
    """A seed from one record's fields, whichever format named them."""
    fields = record.fields
    title = _text(fields.get("title", ""), MAX_TITLE, tex=tex)
    abstract = _text(fields.get("abstract", ""), MAX_ABSTRACT, tex=tex)
    arxiv = _arxiv_of(fields)
    doi = next((d for d in (_doi_of(fields.get("doi", "")), _doi_of(fields.get("url", "")))
                if d), None)
    if fields.get("doi", "").strip() and not _doi_of(fields["doi"]):
        raise library_error(record.line, "not_a_doi", text=repr(fields["doi"].strip()[:60]))
    if not (title or arxiv or doi):
        raise library_error(record.line, "no_title_or_id")
    return Seed(title=title, abstract=abstract, arxiv_id=arxiv, doi=doi, line=record.line)


def _doi_of(value: str) -> str | None:
    match = _DOI_RE.search(value.strip())
    return match.group(1).rstrip(".,;}").lower() if match else None


def _arxiv_of(fields: Mapping[str, str]) -> str | None:
    # eprint is arXiv's when the export says so (archivePrefix / eprinttype) or it looks like
    # a new-style id; Mendeley writes arxivId; Google Scholar hides it in journal = {arXiv …}.
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint", "").strip()
    if eprint and prefix in ("arxiv", "") and (found := arxiv_id(eprint)):
        return found
    for name in ("arxivid", "arxiv_id", "arxiv", "id"):
        if (value := fields.get(name, "").strip()) and (found := arxiv_id(value)):
            return found
    for name in ("url", "journal", "note", "howpublished"):
        value = fields.get(name, "")
        if "arxiv" in value.lower() and (found := arxiv_id(value.replace(" ", ""))):
            return found
    return None


def _jsonl_records(lines: list[str]) -> Iterable[RawRecord]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as err:
            raise library_error(number, "not_json", detail=err.msg) from err
        if not isinstance(value, dict):
            raise library_error(number, "json_not_object")
        yield RawRecord(number, _string_fields(number, value))


def _string_fields(number: int, row: Mapping[object, object]) -> dict[str, str]:
    fields = {}
    for key, value in row.items():
        name = str(key).strip().lower()
        if value is None:
            continue
        if not isinstance(value, str):
            raise library_error(number, "not_text", name=repr(name),
                                kind=type(value).__name__)
        fields[{"summary": "abstract", "arxiv_id": "arxivid"}.get(name, name)] = value
    return fields


def _csv_records(text: str) -> Iterable[RawRecord]:
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 2
    try:
        for row in reader:
            if None in row:
                raise library_error(start, "extra_cells")
            if any((v or "").strip() for v in row.values()):
                yield RawRecord(start, _string_fields(start, {k: v or "" for k, v in row.items()}))
            start = reader.line_num + 1
    except csv.Error as err:
        raise library_error(reader.line_num, "not_csv", detail=str(err)) from err


def _checked(kind: str, seeds: list[Seed]) -> Library:
    if not seeds:
        raise library_error(0, "no_seeds")
    kept: dict[str, Seed] = {}
    for seed in seeds:
        if seed.identity not in kept:
            kept[seed.identity] = seed
            if len(kept) > MAX_SEEDS:
                raise library_error(seed.line, "too_many_seeds", limit=MAX_SEEDS)
        elif not kept[seed.identity].abstract and seed.abstract:
            kept[seed.identity] = replace(kept[seed.identity], abstract=seed.abstract)
    return Library(kind, tuple(kept.values()), duplicates=len(seeds) - len(kept))


def library_cell(text: str) -> tuple[Seed, ...]:
    """The subscriber CSV's ``library`` cell: arXiv ids (or DOIs) separated by ``|``."""
    seeds = []
    for item in (i.strip() for i in text.split("|")):
        if not item:
            continue
        arxiv, doi = _identifier(item)
        if not (arxiv or doi):
            raise library_error(0, "not_an_id", text=repr(item[:60]))
        seeds.append(Seed(arxiv_id=arxiv, doi=doi))
    if len(seeds) > MAX_SEEDS:
        raise library_error(0, "too_many_seeds", limit=MAX_SEEDS)
    return _checked("ids", seeds).seeds if seeds else ()
