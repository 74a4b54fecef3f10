"""Parsing and cleaning: real feed documents from ../shared/feeds, the demo feeds, hostile text."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import require

from digest_mailer.domain.digest import ParsedFeed
from digest_mailer.ingest import (
    arxiv_id,
    clean_text,
    parse_feed,
    split_authors,
    strip_arxiv_prefix,
)

# A real tag (name, attributes, ">"), a comment or a doctype: what must never reach the mail.
TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SHARED_FILES = {
    "atom": "arxiv_atom_rss-service_cs.LG_2026-09-25_trimmed3_abstracts_shortened.xml",
    "cs.AI": "arxiv_rss_cs.AI_2026-04-27_trimmed3.xml",
    "cs.CL": "arxiv_rss_cs.CL_2026-04-27_trimmed3.xml",
    "empty": "arxiv_rss_empty_test_archive_2024-11-28.xml",
    "error": "arxiv_rss_error_bad_archive_2024-11-28.xml",
    "multi": "arxiv_rss_multi_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed4.xml",
    "biorxiv": "biorxiv_genomics_rss1_2023_feedrs_trimmed.xml",
    "medscape": "medscape_family_medicine_tricky.rss",
    "nature": "nature_rss1_2024-07-18.rdf",
    "reuters": "reuters_truncated_invalid.rss",
}


def parse_file(folder: Path, name: str, category: str | None = None) -> ParsedFeed:
    return parse_feed((folder / name).read_bytes(), source_category=category)


def assert_plain(text: str) -> None:
    assert not TAG_RE.search(text), text
    assert not CONTROL_RE.search(text), text
    assert text == text.strip() and "  " not in text


# Real feeds ------------------------------------------------------------------------------


def test_every_shared_feed_parses_without_raising(shared_feeds: Path) -> None:
    files = sorted(p for p in shared_feeds.iterdir() if p.suffix in (".xml", ".rss", ".rdf"))
    assert {p.name for p in files} == set(SHARED_FILES.values())
    for path in files:
        feed = parse_feed(path.read_bytes())
        for entry in feed.entries:
            assert entry.key and (entry.title or entry.link)
            assert_plain(entry.title)
            assert_plain(entry.abstract)
            assert entry.published is None or entry.published.tzinfo is not None


def test_arxiv_rss_prefix_removed_and_keys_without_version(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["cs.AI"], "cs.AI")
    assert feed.error is None and feed.title == "cs.AI updates on arXiv.org"
    assert [e.key for e in feed.entries] == ["2604.21935", "2604.21936", "2604.21937"]
    for entry in feed.entries:
        assert not entry.abstract.startswith("arXiv:")
        assert "Announce Type" not in entry.abstract and "Abstract:" not in entry.abstract
        assert entry.announce_type == "new"
        assert entry.categories[0] == "cs.AI"
        assert entry.published == datetime(2026, 4, 27, 4, 0, tzinfo=UTC)  # midnight US Eastern
    first = feed.entries[0]
    assert first.abstract.startswith("Although language models demonstrate")
    assert first.authors == ("Michael Cooper", "Samuel Cooper")
    assert first.link == "https://arxiv.org/abs/2604.21935"
    assert feed.entries[1].categories == ("cs.AI", "cs.CV", "cs.MA")
    assert len(feed.entries[1].authors) == 18


def test_arxiv_single_word_author_and_double_space(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["cs.CL"])
    assert feed.entries[0].authors == (
        "Anamta Khan", "Ratna Kandala", "Deepti", "Sheza Munir", "Joyojeet Pal",
    )


def test_arxiv_multi_feed_announce_types_doi_and_source_category(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["multi"], "cs.LG")
    by_key = {e.key: e for e in feed.entries}
    assert [e.announce_type for e in feed.entries] == ["new", "new", "cross", "replace"]
    cross = by_key["2205.06398"]
    assert cross.doi == "10.1093/bioinformatics/btac431"
    assert cross.key == "2205.06398"  # the arXiv id wins over the journal DOI
    # The first (primary) category stays first; the subscribed one is added at the end.
    assert cross.categories == ("stat.ME", "stat.AP", "stat.ML", "cs.LG")
    assert by_key["2609.26811"].categories == ("cs.LG",)  # already present: not repeated
    assert by_key["2009.13987"].is_update and not cross.is_update


def test_arxiv_atom_keys_from_id(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["atom"])
    assert feed.error is None
    assert [e.key for e in feed.entries] == ["2609.28553", "2402.10149", "2401.08875"]
    assert [e.announce_type for e in feed.entries] == ["new", "cross", "replace"]
    first = feed.entries[0]
    assert first.categories == ("cs.LG", "cs.AI")
    assert first.doi == "10.1109/MAPR72750.2026.11685822"
    assert first.abstract.startswith("Drug toxicity prediction")
    assert first.published == datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
    assert first.authors[0] == "Quang Minh Nguyen" and len(first.authors) == 6


def test_biorxiv_doi_key_and_surname_initials_authors(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["biorxiv"], "genomics")
    (entry,) = feed.entries
    assert entry.key == "doi:10.1101/2023.12.16.571984"
    assert entry.doi == "10.1101/2023.12.16.571984"
    assert entry.title.startswith("Complete genome of the Medicago") and "CDATA" not in entry.title
    assert entry.link == "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1?rss=1"
    assert entry.authors == (
        "N. LAPALU", "A. SIMON", "A. Lu", "P.-L. Plaumann", "J. Amselem", "S. Pigne",
        "A. Auger", "C. Koch", "J.-F. Dallery", "R. J. O'Connell",
    )
    assert entry.categories == ("genomics",)
    assert entry.published == datetime(2023, 12, 16, tzinfo=UTC)


def test_nature_html_titles_become_plain_text(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["nature"])
    assert len(feed.entries) == 75
    titles = {e.key: e.title for e in feed.entries}
    assert titles["doi:10.1038/s41586-024-07811-4"] == (
        "Catalysis of an SN2 pathway by geometric preorganization"
    )
    assert "La4Ni3O10−δ single crystals" in titles["doi:10.1038/s41586-024-07553-3"]
    for entry in feed.entries:
        assert "<" not in entry.title and "<" not in entry.abstract
        assert entry.key.startswith("doi:10.1038/")
        assert not entry.abstract.startswith("Nature, Published online")  # boilerplate gone
    assert max(len(e.authors) for e in feed.entries) > 100  # one dc:creator per author


def test_medscape_link_keys_and_escaped_html(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["medscape"])
    assert len(feed.entries) == 20
    first = feed.entries[0]
    assert first.key == first.link  # no guid anywhere
    assert first.key.startswith("https://www.medscape.com/viewarticle/")
    assert first.abstract.endswith("experts warn. Medscape News Canada")
    assert first.published == datetime(2025, 11, 5, 18, 52, 10, tzinfo=UTC)  # "  EST"
    for entry in feed.entries:
        assert "<" not in entry.abstract and "&lt;" not in entry.abstract
        assert "&amp;" not in entry.abstract
    assert any("Diabetes & Endocrinology" in e.abstract for e in feed.entries)


def test_empty_feed_is_normal(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["empty"])
    assert feed == ParsedFeed(title="test updates on arXiv.org", entries=(), error=None,
                              kind="rss")


def test_arxiv_feed_error_is_an_error(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["error"])
    assert feed.entries == ()
    assert feed.error and feed.error.startswith("Feed error for query")
    assert "Bad archive 'astroph'" in feed.error


def test_truncated_feed_is_an_error(shared_feeds: Path) -> None:
    feed = parse_file(shared_feeds, SHARED_FILES["reuters"])
    assert feed.entries == ()
    assert feed.error and "malformed" in feed.error


# The project's demo feeds ---------------------------------------------------------------


def demo_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.xml"))
    require(bool(files), f"no demo feeds in {folder}")
    return files


def test_demo_feeds_parse_and_share_cross_listed_ids(demo_feeds: Path) -> None:
    seen: dict[str, dict[str, str]] = defaultdict(dict)  # key → {file: announce type}
    for path in demo_files(demo_feeds):
        feed = parse_feed(path.read_bytes())
        assert feed.error is None and feed.entries, path.name
        for entry in feed.entries:
            assert_plain(entry.title)
            assert_plain(entry.abstract)
            assert "Announce Type" not in entry.abstract
            seen[entry.key][path.stem] = entry.announce_type
    shared = {key: files for key, files in seen.items() if len(files) > 1}
    assert len(shared) >= 10
    assert seen["2606.19460"] == {
        "arxiv_cs.CV": "new", "arxiv_cs.AI": "cross", "arxiv_cs.LG": "cross",
    }
    assert set(seen["2605.03297"].values()) == {"replace-cross"}


def test_demo_feeds_markup_and_entities(demo_feeds: Path) -> None:
    demo_files(demo_feeds)
    lg = {e.key: e for e in parse_feed((demo_feeds / "arxiv_cs.LG.xml").read_bytes()).entries}
    assert "in SN2 Reactions" in lg["2606.18857"].title
    cl = {e.key: e for e in parse_feed((demo_feeds / "arxiv_cs.CL.xml").read_bytes()).entries}
    fin = cl["2606.16931"]
    assert "Q&A" in fin.title
    assert "S&P 500" in fin.abstract and "< 5%" in fin.abstract
    bio = parse_feed((demo_feeds / "biorxiv_bioinformatics.xml").read_bytes())
    (silico,) = [e for e in bio.entries if e.key == "doi:10.1101/2026.06.14.699976"]
    assert silico.title.startswith("In silico saturation")


# Our own small documents ----------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>{items}</channel></rss>"""


def rss(*items: str) -> bytes:
    return RSS.format(items="".join(f"<item>{i}</item>" for i in items)).encode()


def test_same_key_twice_is_one_entry_with_merged_categories() -> None:
    item = ("<title>P</title><link>https://arxiv.org/abs/2606.00001</link>"
            "<guid isPermaLink='false'>oai:arXiv.org:2606.00001v{v}</guid>{cats}")
    feed = parse_feed(rss(
        item.format(v=1, cats="<category>cs.LG</category><category>cs.AI</category>"),
        item.format(v=2, cats="<category>stat.ML</category><category>cs.AI</category>"),
    ), source_category="cs.LG")
    (entry,) = feed.entries
    assert entry.key == "2606.00001"
    assert entry.categories == ("cs.LG", "cs.AI", "stat.ML")


def test_key_fallbacks_and_skipped_items() -> None:
    feed = parse_feed(rss(
        "<title>Has DOI</title><dc:identifier>doi:10.1234/ABC.Def</dc:identifier>",
        "<title>Has guid</title><guid isPermaLink='false'>tag:example.org,2026:42</guid>",
        "<title>Only a title</title>",
        "<description>no title, no link: skipped</description>",
    ))
    keys = [e.key for e in feed.entries]
    assert keys[:2] == ["doi:10.1234/abc.def", "tag:example.org,2026:42"]
    assert re.fullmatch(r"title:[0-9a-f]{24}", keys[2])
    assert len(keys) == 3
    assert feed.entries[0].doi == "10.1234/ABC.Def"


def test_only_http_links_are_kept() -> None:
    feed = parse_feed(rss(
        "<title>Bad link</title><link>javascript:alert(1)</link>",
        "<link>data:text/html,hi</link>",  # no title and no usable link: skipped
        "<title>Good</title><link> https://example.org/p?a=1&amp;b=2 </link>",
    ))
    assert [(e.title, e.link) for e in feed.entries] == [
        ("Bad link", ""), ("Good", "https://example.org/p?a=1&b=2"),
    ]


def test_announce_type_from_prefix_and_naive_date_is_utc() -> None:
    feed = parse_feed(rss(
        "<title>X</title><link>https://arxiv.org/abs/2606.00002</link>"
        "<description>arXiv:2606.00002v2  Announce Type:\n replace-cross \n\n Abstract:  Body."
        "</description><dc:date>2026-06-19T08:30:00</dc:date>"
    ))
    (entry,) = feed.entries
    assert (entry.announce_type, entry.abstract) == ("replace-cross", "Body.")
    assert entry.published == datetime(2026, 6, 19, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty document"),
        (b"<!DOCTYPE html><html><head><title>Oops</title></head><body>404</body></html>",
         "not an RSS or Atom feed"),
        (b'{"items": []}', "malformed"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>c</title><item><tit",
         "malformed"),
    ],
)
def test_documents_that_are_not_feeds(body: bytes, expected: str) -> None:
    feed = parse_feed(body)
    assert feed.entries == () and feed.error and expected in feed.error


def test_bozo_document_with_entries_keeps_them() -> None:
    body = rss("<title>Caf\xe9</title><link>https://ex.org/a</link>").decode()
    feed = parse_feed(body.encode("latin-1"))  # declared utf-8, really latin-1
    assert feed.error is None and [e.title for e in feed.entries] == ["Café"]
    unclosed = rss("<title>T</title><link>https://ex.org/b</link>").removesuffix(b"</rss>")
    assert [e.key for e in parse_feed(unclosed).entries] == ["https://ex.org/b"]


# Pure helpers ---------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>Title",
    "<img src=x onerror=alert(1)>Title",
    '<a href="javascript:alert(1)">Title</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;Title",
    "&lt;img src=x onerror=alert(1)&gt;Title",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Title",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">Title',
    "<svg><script>alert(1)</script></svg>Title",
    "<![CDATA[<script>alert(1)</script>]]>Title",
    "<style>body{display:none}</style>Title<iframe src=//evil></iframe>",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_clean_text_removes_hostile_markup(value: str) -> None:
    out = clean_text(value)
    assert "<script" not in out.lower() and "onerror" not in out.lower()
    assert "javascript" not in out.lower() and "alert(1)" not in out
    assert not TAG_RE.search(out)
    assert "Title" in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Catalysis of an S<sub>N</sub>2 pathway", "Catalysis of an SN2 pathway"),
        ("S&lt;sub&gt;N&lt;/sub&gt;2 reactions", "SN2 reactions"),
        ("<![CDATA[\n  A <i>title</i>\n]]>", "A title"),
        ("S&amp;P 500 &amp; Q&amp;A &eacute;t&eacute; &#8211; ok", "S&P 500 & Q&A été – ok"),
        ("p<0.05 and $k<n$ and x < y > z", "p<0.05 and $k<n$ and x < y > z"),
        ("line one<br>line two</p><p>three", "line one line two three"),
        ("  a\t\tb\n\nc\u00a0d ", "a b c d"),
        ("a\x00b\x07c\u200bd\x85e", "abcde"),
        ("", ""),
    ],
)
def test_clean_text_plain_text(value: str, expected: str) -> None:
    assert clean_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arXiv:2606.19373v1 Announce Type: cross \nAbstract: Body text.", ("Body text.", "cross")),
        ("arXiv:2606.19373v1  Announce Type: new Abstract: Body.", ("Body.", "new")),
        ("arxiv:math/0601001v2 Announce Type: replace-cross\r\n\tAbstract:\nB",
         ("B", "replace-cross")),
        ("A plain abstract.", ("A plain abstract.", None)),
    ],
)
def test_strip_arxiv_prefix(value: str, expected: tuple[str, str | None]) -> None:
    assert strip_arxiv_prefix(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("oai:arXiv.org:2409.14851v1", "2409.14851"),
        ("https://arxiv.org/abs/2409.14851", "2409.14851"),
        ("http://arxiv.org/pdf/2409.1485v2", "2409.1485"),
        ("arXiv:2409.14851v12", "2409.14851"),
        ("2409.14851", "2409.14851"),
        ("oai:arXiv.org:math/0601001v1", "math/0601001"),
        ("https://arxiv.org/abs/math.PR/0601001", "math/0601001"),
        ("https://arxiv.org/abs/hep-th/9901001v3", "hep-th/9901001"),
        ("http://biorxiv.org/cgi/content/short/2023.12.16.571984v1?rss=1", None),
        ("https://www.nature.com/articles/s41586-024-07811-4", None),
        ("", None),
    ],
)
def test_arxiv_id(value: str, expected: str | None) -> None:
    assert arxiv_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Anamta Khan, Ratna Kandala,  Deepti, Sheza Munir", ("Anamta Khan", "Ratna Kandala",
                                                              "Deepti", "Sheza Munir")),
        ("LAPALU, N., Lu, A., Plaumann, P.-L., O'Connell, R. J.",
         ("N. LAPALU", "A. Lu", "P.-L. Plaumann", "R. J. O'Connell")),
        (["Gabriel J. Lovinger", "Marcus H. Sak", " Eric N. Jacobsen "],
         ("Gabriel J. Lovinger", "Marcus H. Sak", "Eric N. Jacobsen")),
        (["Smith, J."], ("J. Smith",)),
        # arXiv joins the last two authors with " and " (issue 8): split, except in a group.
        ("John Smith and Jane Doe", ("John Smith", "Jane Doe")),
        ("The ATLAS and CMS Collaborations", ("The ATLAS and CMS Collaborations",)),
        ("John Smith, Jr., Ann Lee", ("John Smith Jr.", "Ann Lee")),
        ("Wei Wang, Wei Wang", ("Wei Wang", "Wei Wang")),  # two people may share a name
        ("", ()),
        (None, ()),
    ],
)
def test_split_authors(value: str | list[str] | None, expected: tuple[str, ...]) -> None:
    assert split_authors(value) == expected
