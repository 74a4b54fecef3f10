"""A card's DOI link, from a hostile feed: a doi.org link or none, never markup, another
host, a script URL or a header, in the HTML and the text part.

Through the real path (a feed over loopback HTTP → ingest → SQLite → send → a loopback
SMTP server), for the arXiv element (``arxiv:DOI``) and a journal's ``dc:identifier``;
and for DOIs a row may already hold, rendered straight from the Paper.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest
from feedserver import FeedServer
from test_render import make_digest
from world import DEMO, World, arxiv_items, parse, parts, with_items

from digest_mailer.domain.digest import Paper
from digest_mailer.mail.render import DigestRenderer

HOSTILE = {
    "markup": '10.1000/x"><script>alert(1)</script>',
    "script": "javascript:alert(1)",
    "space": "10.1000/a b",
    "long": "10.1000/" + "a" * 1992,
    "crlf": "10.1000/crlf\r\nBcc: victim@evil.example",
    "other_host": "https://evil.example/10.1/x",
    "other_host_valid_doi": "https://evil.example/10.1000/y",
    "quote_marks": "10.1000/a'onmouseover='alert(1)",
}
GOOD = "10.1234/good.5"
# A DOI link as a card may show it: doi.org over HTTPS, the DOI percent-encoded.
DOI_LINK = re.compile(r"https://doi\.org/10\.\d{4,9}/[A-Za-z0-9/.:;()_%-]+")
WORDS_OF_ATTACK = ("<script", "javascript:", "evil.example", "onmouseover=", "victim@")


def assert_safe_links(text: str, html: str) -> None:
    """Every DOI link in either part is doi.org; no piece of a hostile DOI gets through."""
    hrefs = re.findall(r"""href\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)
    for href in hrefs:
        assert href.startswith(("https://", "http://", "#")), href
        assert "doi" not in href.lower() or DOI_LINK.fullmatch(href.replace("&amp;", "&")), href
    for found in re.findall(r"\S*doi\.org\S*", text):
        assert DOI_LINK.fullmatch(found), found
        assert len(found) < 300, found
    for part in (text, html):
        lowered = part.lower()
        for word in WORDS_OF_ATTACK:
            assert word not in lowered, word
    assert "&lt;script" not in html  # not even escaped: the DOI shows as no text at all


# --- through a feed -------------------------------------------------------------------------

def _arxiv_feed(dois: list[str]) -> bytes:
    """The demo cs.CV document with one new paper per DOI, each carrying it as arxiv:DOI."""
    shell, items = arxiv_items((DEMO / "feeds" / "arxiv_cs.CV.xml").read_bytes())
    template = items[0].decode()
    made = []
    for index, doi in enumerate(dois):
        item = template.replace("2606.19460", f"2606.{30000 + index}")
        item = item.replace("<title>", f"<title>DOI case {index}: ", 1)
        item = item.replace("</item>", f"  <arxiv:DOI>{_xml(doi)}</arxiv:DOI>\n    </item>")
        made.append(item.encode())
    return with_items(shell, made)


def _journal_feed(dois: list[str]) -> bytes:
    """A journal's RSS 2.0 with its DOIs in dc:identifier, as Nature and bioRxiv put them."""
    items = "".join(
        f"<item><title>Journal case {index}</title>"
        f"<link>https://journal.example.org/articles/{index}</link>"
        f"<description>A study of case {index} in a journal of record.</description>"
        f"<dc:identifier>doi:{_xml(doi)}</dc:identifier>"
        f"<pubDate>Sun, 01 Nov 2026 06:00:00 +0000</pubDate></item>"
        for index, doi in enumerate(dois))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Journal</title>'
            f"<link>https://journal.example.org</link>{items}</channel></rss>").encode()


def _xml(text: str) -> str:
    """Escaped for an XML text node, CR and LF as character references (kept by the parser)."""
    return escape(text, quote=False).replace("\r", "&#13;").replace("\n", "&#10;")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_hostile_dois_from_feeds(tmp_path: Path, feed_server: FeedServer, smtp_server,
                                 language: str) -> None:
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), max_papers=60)
    dois = [*HOSTILE.values(), GOOD]
    feed_server.add_bytes("/cs.CV.xml", _arxiv_feed(dois))
    feed_server.add_bytes("/journal.xml", _journal_feed(dois))
    world.add_source("/cs.CV.xml", "arXiv (cs.CV)", "cs.CV")
    world.add_source("/journal.xml", "Journal", "journal")
    world.subscribe("reader@example.org", ["cs.CV", "journal"], language=language)
    assert not world.app.ingest.refresh().errors
    report = world.app.send.send()
    assert report.counts["sent"] == 1, report
    (sent,) = smtp.messages
    assert sent.rcpt_tos == ["reader@example.org"]  # no Bcc: smuggled in by a DOI
    message = parse(sent.content)
    text, html = parts(message)
    assert text.count("DOI case") == len(dois) and text.count("Journal case") == len(dois)
    assert_safe_links(text, html)
    # The well-formed DOI is linked from both cards, in both parts.
    good = f"https://doi.org/{GOOD}"
    assert text.count(good) == 2 and html.count(f'href="{good}"') == 2
    # Headers: the digest's own, none added, none holding a piece of a DOI.
    assert message["Bcc"] is None and message["Cc"] is None
    for name, value in message.items():
        assert not any(w in str(value).lower() for w in WORDS_OF_ATTACK), (name, value)
        assert "doi" not in name.lower() and "10.1000" not in str(value), (name, value)


# --- a row already stored ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_stored_hostile_doi_is_no_link(name: str) -> None:
    doi = HOSTILE[name]
    url = Paper(number=1, key="k", title="t", abstract="", authors=(), link="", badge="",
                category="cs.CV", categories=("cs.CV",), doi=doi).doi_url
    assert url == "" or DOI_LINK.fullmatch(url), url
    digest = make_digest(3)
    first = digest.groups[0]
    papers = (replace(first.papers[0], doi=doi), *first.papers[1:])
    digest = replace(digest, groups=(replace(first, papers=papers), *digest.groups[1:]))
    for language in ("en", "zh"):
        shown = replace(digest, recipient=replace(digest.recipient, language=language))
        out = DigestRenderer(Path(__file__).resolve().parent.parent / "templates" / "email"
                             ).render(shown)
        assert_safe_links(out.text, out.html)
        assert "\r" not in out.subject and "\n" not in out.subject


def test_a_well_formed_doi_is_linked_percent_encoded() -> None:
    paper = Paper(number=1, key="k", title="t", abstract="", authors=(), link="", badge="",
                  category="cs.CV", categories=("cs.CV",), doi="10.1002/(SICI)1097-4636<x>")
    assert paper.doi_url == ""  # "<" and ">" have no place in a DOI we link
    paper = replace(paper, doi="10.1002/(SICI)1097-4636(199911)47:2")
    assert paper.doi_url == "https://doi.org/10.1002/(SICI)1097-4636(199911)47:2"
    assert replace(paper, doi="10.1000/a&b#c?d").doi_url == "https://doi.org/10.1000/a%26b%23c%3Fd"
