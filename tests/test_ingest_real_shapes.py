"""Issue 8, "Real feeds: what a reader sees wrong": the shapes real feeds have, end to end.

The fixtures in tests/feeds are small and real-shaped: a combined arXiv RSS 2.0 feed with
affiliations and TeX in author strings, a pre-2024 arXiv RSS 1.0 feed, and a journal feed
with MSC codes as tags and a description that repeats the title. They are served over
loopback HTTP → refresh_feeds → the store → send_digests → a loopback SMTP server.
"""

from __future__ import annotations

import random
import string
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedserver import FeedServer
from sqlmodel import Session, select
from world import World, paper_links, parse, parts

from digest_mailer import db
from digest_mailer.db.models import Entry
from digest_mailer.ingest import parse as caps
from digest_mailer.ingest import parse_feed, split_authors
from digest_mailer.ingest.arxiv import is_arxiv_category
from digest_mailer.ingest.tex import tex_to_unicode

FEEDS = Path(__file__).parent / "feeds"
COMBINED = "arxiv_rss_hep-ph+hep-ex_affiliations_tex.xml"  # filed under hep-ph
OLD_RSS = "arxiv_rss1_hep-ex_2021-07-08.rdf"  # filed under hep-ex
JOURNAL = "journal_rss_msc_categories.xml"  # filed under "symplectic"


def parsed(name: str, category: str | None = None):
    feed = parse_feed((FEEDS / name).read_bytes(), source_category=category)
    assert feed.error is None, feed.error
    return {e.key: e for e in feed.entries}


# Authors ----------------------------------------------------------------------------------

def test_affiliations_nicknames_and_and_make_no_names() -> None:
    entry = parsed(COMBINED, "hep-ph")["2611.00101"]
    assert entry.authors == ("Jadelynn Dao", "János Kollár", "Przemysław Nowak",
                             "Robert Smith", "Alice Jones", "Chen Wei")
    assert parsed(COMBINED)["2409.00103"].authors == ("François Lefèvre", "Anna Müller")
    assert parsed(COMBINED)["2611.00102"].authors == ("The ATLAS and CMS Collaborations",)
    old = parsed(OLD_RSS)
    assert old["2107.03419"].authors == ("LHCb collaboration", "R. Aaij")  # "et al. (909 …)"
    assert old["2007.03939"].authors == ("Partha Pratim Bhaduri", "Nicolas Borghini")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A. Smith (MIT, Cambridge, MA, USA), B. Jones (Oxford (UK)), C. Lee",
         ("A. Smith", "B. Jones", "C. Lee")),
        ("A. Smith (1), B. Jones (2) ((1) MIT, (2) Caltech)", ("A. Smith", "B. Jones")),
        ("A. Smith, B. Jones, and C. Lee", ("A. Smith", "B. Jones", "C. Lee")),
        ("Robert (Bob)  Smith,  Ann  Lee", ("Robert Smith", "Ann Lee")),
        ("Physics and Astronomy Group, Ann Lee", ("Physics and Astronomy Group", "Ann Lee")),
        ("A. Smith (MIT, Cambridge, B. Jones", ("A. Smith", "Cambridge", "B. Jones")),
        ("Andrea Anderson, Sandra Randall", ("Andrea Anderson", "Sandra Randall")),
    ],
)
def test_split_authors_only_at_the_top_level(value: str, expected: tuple[str, ...]) -> None:
    assert split_authors(value) == expected


# TeX --------------------------------------------------------------------------------------

def test_tex_in_titles_names_and_abstracts_becomes_unicode_math_too() -> None:
    entry = parsed(COMBINED)["2611.00101"]
    assert entry.title == ("Bound states of the nonlinear Schrödinger equation with a "
                           "Kollár-type potential")
    assert "Erdős and Schönberg." in entry.abstract
    # Math reads as text, and a "%" is text, not a TeX comment.
    assert "in d≥ 3 dimensions and show that 95% of the spectrum of H=-Δ+V" in entry.abstract
    search = parsed(COMBINED)["2611.00102"]
    assert search.title.endswith("in pp collisions at √s=13.6 TeV")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('Schr\\"odinger', "Schrödinger"), ("Koll\\'ar", "Kollár"),
        ("Przemys{\\l}aw", "Przemysław"), ('{\\"O}zt{\\"u}rk', "Öztürk"),
        ("Erd{\\H o}s", "Erdős"), ("\\v{S}koda and \\v Cech", "Škoda and Čech"),
        ("Fran\\c{c}ois, Stra\\ss e, {\\AA}ngstr\\\"om", "François, Straße, Ångström"),
        ("Garc\\'{\\i}a", "García"), ("\\textit{ab initio} Q\\&A", "ab initio Q&A"),
        ("costs \\$5, 95% of $x_i^2$", "costs $5, 95% of xᵢ²"),
        ("costs $5 and $10", "costs $5 and $10"),  # money, not math
        ("$O(1/N)$, $\\alpha$-stable, $H^3$", "O(1/N), α-stable, H³"),
        ("$O(N^{-1/2})$ and $\\mathcal{O}(n\\log n)$", "O(N^(−1/2)) and 𝒪(n log n)"),
        ("$\\frac{\\log |V(G_n)|}{h}$ with $\\sqrt{\\log n}$", "(log |V(Gₙ)|)/h with √(log n)"),
        ("$^{40}$Ca in $\\mathbb{R}^d$, $k=0,1,\\dots$", "⁴⁰Ca in ℝᵈ, k=0,1,…"),
        ("https://x.org/~a--b", "https://x.org/~a--b"), ("no TeX at all", "no TeX at all"),
        ("\\cite{x} unknown commands stay", "\\cite{x} unknown commands stay"),
    ],
)
def test_tex_to_unicode(value: str, expected: str) -> None:
    assert tex_to_unicode(value) == expected


def test_tex_conversion_is_fast(shared_feeds: Path) -> None:
    # Every shared feed and fixture, parsed whole: the cost per entry with the TeX pass.
    bodies = [p.read_bytes() for p in sorted(shared_feeds.iterdir()) if p.suffix != ".md"]
    bodies += [p.read_bytes() for p in sorted(FEEDS.iterdir())]
    started = time.perf_counter()
    count = sum(len(parse_feed(body).entries) for body in bodies)
    per_entry_ms = (time.perf_counter() - started) * 1000 / count
    assert count > 100
    assert per_entry_ms < 20, f"{per_entry_ms:.2f} ms per entry"


# arXiv's pre-2024 RSS 1.0 ---------------------------------------------------------------

def test_old_arxiv_rss_titles_give_id_status_primary_category_and_channel_date() -> None:
    entries = parsed(OLD_RSS, "hep-ex")
    assert list(entries) == ["2107.03419", "2106.00550", "2007.03939"]
    new, cross, updated = entries.values()
    assert new.title == "Observation of excited Ω_c⁰ baryons in Ω_b⁻ → Ξ_c⁺ K⁻π⁻ decays"
    assert cross.title == "Modular representations and the Schrödinger picture"
    assert [e.announce_type for e in entries.values()] == ["new", "cross", "replace"]
    assert updated.is_update and not cross.is_update
    assert cross.categories == ("math.GR", "hep-ex")  # primary first, then the source's
    assert updated.categories == ("hep-ph", "hep-ex")
    channel_date = datetime(2021, 7, 9, 1, 30, tzinfo=UTC)  # 2021-07-08T20:30:00-05:00
    assert {e.published for e in entries.values()} == {channel_date}
    for entry in entries.values():
        assert "arXiv:" not in entry.title and "UPDATED" not in entry.title


# Descriptions that repeat the title; free-form tags ---------------------------------------

def test_a_description_repeating_the_title_is_no_abstract(shared_feeds: Path) -> None:
    journal = parsed(JOURNAL, "symplectic")
    legendrian = journal["https://journal.example.org/jsg/2026/11/2"]
    assert legendrian.title == "Legendrian knots in overtwisted manifolds."
    assert legendrian.abstract == ""  # "<i>Legendrian  knots …</i>" without the full stop
    nature = parse_feed((shared_feeds / "nature_rss1_2024-07-18.rdf").read_bytes())
    catalysis = {e.key: e for e in nature.entries}["doi:10.1038/s41586-024-07811-4"]
    assert catalysis.abstract == ""
    # A real abstract that starts like the title stays.
    assert journal["https://journal.example.org/jsg/2026/11/1"].abstract.startswith(
        "We classify contact structures")


def test_free_form_tags_are_not_categories_arxiv_ones_are() -> None:
    journal = parsed(JOURNAL, "symplectic")
    assert {e.categories for e in journal.values()} == {("symplectic",)}  # no "53D10, 53D15"
    combined = parsed(COMBINED, "hep-ph")
    assert combined["2611.00102"].categories == ("hep-ex", "hep-ph")
    assert combined["2611.00101"].categories == ("hep-ph", "math-ph")


@pytest.mark.parametrize("term", ["cs.CV", "hep-ex", "math.PR", "astro-ph.CO", "q-bio.GN",
                                  "cond-mat.mes-hall", "physics.atom-ph", "math-ph", "stat"])
def test_arxiv_category_shapes(term: str) -> None:
    assert is_arxiv_category(term)


@pytest.mark.parametrize("term", ["53D10", "53D10, 53D15", "I.2.7", "News", "cs.cv",
                                  "hep-ex ", "genomics", "cs.CV.XX", "<b>cs.CV</b>", ""])
def test_not_arxiv_categories(term: str) -> None:
    assert not is_arxiv_category(term)


# Caps -------------------------------------------------------------------------------------

def _noise(size: int) -> str:
    # Random letters: a repeated "x" would compress and hide a too-long index key.
    rng = random.Random(8)
    return "".join(rng.choice(string.ascii_letters) for _ in range(size))


HOSTILE_ITEM = (
    "<item><title>{title}</title><link>https://example.org/huge</link>"
    "<guid isPermaLink='false'>{guid}</guid><description>{abstract}</description>"
    "<dc:creator>{authors}</dc:creator></item>"
    "<item><title>Long link</title><link>https://example.org/{link}</link></item>"
)


def hostile_feed() -> bytes:
    item = HOSTILE_ITEM.format(
        title="Huge " + _noise(100_000), guid=_noise(10_000), abstract=_noise(1_000_000),
        authors=", ".join([f"Author {i}" for i in range(5_000)] + [_noise(10_000)]),
        link=_noise(5_000))
    return (b'<?xml version="1.0"?><rss version="2.0" '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
            + item.encode() + b"</channel></rss>")


def test_caps_at_parse() -> None:
    feed = parse_feed(hostile_feed(), source_category="journal")
    huge, long_link = feed.entries
    assert len(huge.title) == caps.MAX_TITLE and huge.title.endswith("…")
    assert huge.title.startswith("Huge ")
    assert len(huge.abstract) == caps.MAX_ABSTRACT and huge.abstract.endswith("…")
    assert len(huge.authors) == caps.MAX_AUTHORS and huge.authors[0] == "Author 0"
    assert max(len(a) for a in huge.authors) <= caps.MAX_NAME
    assert len(huge.key) <= 255
    assert long_link.link == "" and long_link.title == "Long link"


# End to end: loopback HTTP → store → loopback SMTP ----------------------------------------

@pytest.fixture
def real_world(tmp_path: Path, feed_server: FeedServer, smtp_server, database_url: str):
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url)
    world.now = datetime(2026, 11, 3, 12, tzinfo=UTC)
    for path, file, label, category in (
        ("/rss/hep-ph+hep-ex", COMBINED, "arXiv (hep-ph)", "hep-ph"),
        ("/rss/hep-ex", OLD_RSS, "arXiv (hep-ex)", "hep-ex"),
        ("/jsg.xml", JOURNAL, "Journal (symplectic)", "symplectic"),
    ):
        feed_server.add_file(path, FEEDS / file)
        world.add_source(path, label, category)
    feed_server.add_bytes("/hostile.xml", hostile_feed())
    world.add_source("/hostile.xml", "Hostile (journal)", "journal")
    return world, smtp


def _digests(smtp) -> dict[str, tuple[str, str]]:
    got: dict[str, tuple[str, str]] = {}
    for message in smtp.messages:
        for rcpt in message.rcpt_tos:
            assert rcpt not in got, "one digest per reader"
            got[rcpt] = parts(parse(message.content))
    return got


@pytest.mark.network
def test_real_shapes_end_to_end(real_world) -> None:
    world, smtp = real_world
    world.subscribe("tex@example.org", [], keywords=["Schrödinger"])
    world.subscribe("hepex@example.org", ["hep-ex"])
    world.subscribe("geo@example.org", ["symplectic"])
    world.subscribe("msc@example.org", ["53D10"])
    ingest = world.app.ingest.refresh()
    assert not ingest.errors, ingest.errors
    report = world.app.send.send()
    got = _digests(smtp)
    assert sorted(got) == ["geo@example.org", "hepex@example.org", "tex@example.org"], report

    # A keyword typed with "ö" finds the papers whose TeX said Schr\"odinger.
    tex_text, tex_html = got["tex@example.org"]
    assert paper_links(tex_text) == ["https://arxiv.org/abs/2611.00101",
                                     "http://arxiv.org/abs/2106.00550"]
    assert "Schrödinger" in tex_html and 'Schr\\"odinger' not in tex_html
    # Affiliations are not authors; the card's author line closes what it opens.
    card = " ".join(tex_text.split())
    assert ("· Jadelynn Dao, János Kollár, Przemysław Nowak, Robert Smith, Alice Jones et al. "
            "https://arxiv.org/abs/2611.00101") in card
    assert "Pasadena" not in tex_text and "Pasadena" not in tex_html

    # Old RSS: the cross-list is sent, the replacement is not, no suffix in the title.
    hepex_text, _ = got["hepex@example.org"]
    assert sorted(paper_links(hepex_text)) == [
        "http://arxiv.org/abs/2106.00550", "http://arxiv.org/abs/2107.03419",
        "https://arxiv.org/abs/2611.00102"]
    assert "2007.03939" not in hepex_text and "(arXiv:" not in hepex_text
    assert "CROSS LISTED" not in hepex_text

    # The journal item whose description is its title shows the title once.
    geo_text, geo_html = got["geo@example.org"]
    assert " ".join(geo_text.split()).count("Legendrian knots in overtwisted manifolds") == 1
    assert geo_html.count("Legendrian knots in overtwisted manifolds") == 1

    with Session(world.app.engine) as session:
        rows = {e.key: e for e in session.exec(select(Entry))}
        subscribable = db.sources.subscribable_categories(session)
    assert rows["2106.00550"].announce_type == "cross"
    assert rows["2007.03939"].announce_type == "replace"
    assert rows["2007.03939"].title.endswith("heavy-ion collisions")
    assert rows["2107.03419"].published.replace(tzinfo=UTC) == datetime(2021, 7, 9, 1, 30,
                                                                        tzinfo=UTC)
    # The sources' categories first, then the arXiv ones their papers carry; no MSC codes.
    assert subscribable == ["hep-ex", "hep-ph", "journal", "symplectic", "math-ph", "math.GR"]
    (huge,) = [e for e in rows.values() if e.link == "https://example.org/huge"]
    assert len(huge.title) == caps.MAX_TITLE and len(huge.abstract) == caps.MAX_ABSTRACT
    assert len(huge.authors) == caps.MAX_AUTHORS and len(huge.key) <= 255
