"""The library parser on real export files (tests/library/) and on hostile ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest_mailer.domain.library import (
    MAX_SEEDS,
    Seed,
    identifiers,
    parse_library,
    statement_seed,
)
from digest_mailer.errors import LibraryError

FILES = Path(__file__).parent / "library"


def parse(name: str):
    return parse_library((FILES / name).read_bytes())


def refused(data: bytes) -> str:
    with pytest.raises(LibraryError) as err:
        parse_library(data)
    return str(err.value)


def test_zotero_bibtex_with_abstracts_tex_and_ids():
    library = parse("zotero.bib")
    assert library.format == "bibtex"
    attention, ddpm, note = library.seeds
    assert (attention.title, attention.arxiv_id, attention.doi, attention.line) == (
        "Attention Is All You Need", "1706.03762", "10.48550/arxiv.1706.03762", 2)
    assert attention.abstract.startswith("The dominant sequence transduction models")
    assert attention.abstract.endswith("based solely on attention mechanisms.")
    # TeX through ingest/tex.py; case-protecting braces gone; math and % kept as written.
    assert ddpm.title == "Denoising Diffusion Probabilistic Models for Schrödinger bridges"
    assert ddpm.arxiv_id == "2006.11239" and ddpm.doi is None
    assert ddpm.abstract.endswith("It costs 95% of O(n²) compute.")  # math made text
    # A quoted value, a bare number, the id in howpublished (Google Scholar's habit).
    assert (note.title, note.arxiv_id, note.line) == (
        "A note on Gröbner bases by Kollár", "2401.01234", 26)


def test_bibtex_strings_concatenation_and_parentheses():
    data = (b'% JabRef\n@String{conf = "Proc. of "}\n'
            b'@Article(k1, title = conf # {Graph {N}ets}, archivePrefix = "arXiv",\n'
            b' eprint = "2402.00002v3")\n'
            b'@misc{k2, title={Same paper again}, eprint={2402.00002}, abstract={Late text.}}\n')
    library = parse_library(data)
    assert library.seeds == (Seed(title="Proc. of Graph Nets", abstract="Late text.",
                                  arxiv_id="2402.00002", line=3),)
    assert library.duplicates == 1


def test_mendeley_ris_with_wrapped_abstract():
    library = parse("mendeley.ris")
    assert library.format == "ris"
    resnet, gnn = library.seeds
    assert (resnet.title, resnet.arxiv_id, resnet.doi) == (
        "Deep Residual Learning for Image Recognition", "1512.03385", "10.1109/cvpr.2016.90")
    assert resnet.abstract.endswith("a residual learning framework to ease the training of "
                                    "networks that are substantially deeper.")
    assert (gnn.title, gnn.arxiv_id, gnn.doi, gnn.line) == (
        "Graph neural networks for molecules", None, None, 12)


def test_csv_with_a_quoted_multiline_abstract():
    library = parse("papers.csv")
    assert library.format == "csv"
    scaling, folding = library.seeds
    assert (scaling.arxiv_id, scaling.line) == ("2001.08361", 2)
    assert (folding.title, folding.abstract, folding.doi, folding.line) == (
        "Protein folding, revisited", "A multi-line abstract about protein structure.",
        "10.1038/s41586-021-03819-2", 3)


def test_jsonl_with_summary_and_null():
    library = parse("papers.jsonl")
    assert library.format == "jsonl"
    assert [(s.title, s.abstract, s.arxiv_id, s.line) for s in library.seeds] == [
        ("Learning transferable visual models from natural language supervision",
         "CLIP learns image representations from text.", "2103.00020", 1),
        ("Mixture of experts at scale", "Sparse gating.", None, 3)]


def test_a_list_of_ids_in_every_spelling():
    library = parse("ids.txt")
    assert library.format == "ids"
    assert [(s.arxiv_id, s.doi, s.line) for s in library.seeds] == [
        ("2401.01234", None, 2), ("1706.03762", None, 3), ("2006.11239", None, 4),
        ("hep-th/9901001", None, 5), (None, "10.1038/nature14539", 6),
        (None, "10.1145/3292500.3330701", 7)]
    assert identifiers(" https://doi.org/10.1000/ABC. ") == (None, "10.1000/abc")
    assert identifiers("2023.12345 and more") == (None, None)


def test_the_format_is_read_from_the_content_not_the_name(tmp_path):
    assert parse_library((FILES / "mendeley.ris").read_bytes()).format == "ris"
    renamed = tmp_path / "library.bib"
    renamed.write_bytes((FILES / "papers.jsonl").read_bytes())
    assert parse_library(renamed.read_bytes()).format == "jsonl"


@pytest.mark.parametrize(("name", "message"), [
    ("unclosed.bib", "line 3: this entry is never closed"),
    ("no_title.ris", "line 4: a record with neither a title nor an arXiv id or DOI"),
    ("nul.txt", "line 2: a NUL character"),
    ("bad_id.txt", "line 3: not an arXiv id or DOI: 'see my homepage'"),
])
def test_broken_files_are_refused_naming_the_line(name, message):
    assert refused((FILES / name).read_bytes()).startswith(message)


def test_a_10_mb_line_is_refused_not_cut():
    data = b'{"title": "ok"}\n{"title": "' + b"a" * 10_000_000 + b'"}\n'
    assert refused(data) == "line 2: longer than 65536 characters"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"\n\n  \n", "the file is empty"),
    (b"hello world\n", "line 1: not BibTeX, RIS, CSV"),
    (b"2401.01234\n\xff\xfe\n", "line 2: not UTF-8 text"),
    (b'{"title": "a"}\n[1, 2]\n', "line 2: a JSON line must be an object"),
    (b'{"title": "a"}\n{"title": 3}\n', "line 2: 'title' must be text, not int"),
    (b'{"title": "a"}\n{"title": \n', "line 2: not JSON"),
    (b"title,abstract\nA,B,C\n", "line 2: more cells than the header has columns"),
    (b"title,abstract\n,only an abstract\n", "line 2: a record with neither a title"),
    (b'@article{x, title = {A}, doi = {not a doi}}', "line 1: not a DOI: 'not a doi'"),
    (b'@article{x, title = "open quote}', "line 1: this '\"' is never closed"),
    (b"@article{x, title = {A}\n", "line 1: this entry is never closed"),
    (b"@article x\n", "line 1: @article is not followed by '{' or '('"),
    (b"TY  - JOUR\nTI  - A\n", "line 1: this record is never closed"),
    (b"TY  - JOUR\nTI  - A\nTY  - JOUR\nER  - \n", "line 1: this record has no 'ER  -'"),
    (b"# only comments\n", "no seeds in the file"),
])
def test_hostile_input(data, message):
    assert refused(data).startswith(message)


def test_more_than_the_seed_cap_is_refused():
    ids = "".join(f"2401.{n:05d}\n" for n in range(MAX_SEEDS + 1)).encode()
    assert refused(ids) == f"line {MAX_SEEDS + 1}: more than {MAX_SEEDS} seeds in one library"
    assert len(parse_library(ids[: ids.rindex(b"2401.")]).seeds) == MAX_SEEDS


def test_fields_are_capped_as_ingest_caps_them():
    data = ('{"title": "' + "t" * 600 + '", "abstract": "' + "a " * 4000 + '"}\n').encode()
    seed = parse_library(data).seeds[0]
    assert (len(seed.title), len(seed.abstract)) == (500, 4999)


def test_statement_seed():
    assert statement_seed("  I work on\ndiffusion models\u202e ") == Seed(
        abstract="I work on diffusion models")
    with pytest.raises(LibraryError, match="empty"):
        statement_seed(" \n ")
