"""Math readable: TeX math from real feeds becomes Unicode text, in both parts of an email."""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path

from conftest import RELEVANCE, REPO, require
from world import parse, parts

from digest_mailer.ingest import parse_feed
from digest_mailer.ingest.tex import tex_to_unicode

_MATH = re.compile(r"(?<!\\)\$[^$]+\$")
# What TeX source looks like to a reader: a command, a dollar around math, a braced script.
_TEX_LEFT = re.compile(r"\\[A-Za-z]|\^\{|_\{|(?<!\w)\$\S")


def _feed_files(shared_feeds: Path) -> list[Path]:
    folders = [REPO / "demo" / "feeds", REPO / "tests" / "feeds", shared_feeds]
    return [p for folder in folders for p in sorted(folder.iterdir())
            if p.suffix in (".xml", ".rdf", ".rss")]


def test_every_math_fragment_of_the_real_feeds_reads_as_text(shared_feeds: Path) -> None:
    fragments = set()
    for path in _feed_files(shared_feeds):
        fragments.update(_MATH.findall(html.unescape(path.read_text(errors="replace"))))
    fragments = {f for f in fragments if f.strip("$") == f.strip("$").strip()}  # not money
    assert len(fragments) >= 30
    for fragment in fragments:
        converted = tex_to_unicode(fragment)
        assert not _TEX_LEFT.search(converted) and "$" not in converted, (fragment, converted)


def test_parsed_titles_and_abstracts_of_the_real_feeds_hold_no_tex(shared_feeds: Path) -> None:
    seen = 0
    for path in _feed_files(shared_feeds):
        for entry in parse_feed(path.read_bytes()).entries:
            seen += 1
            assert not _TEX_LEFT.search(entry.title), (path.name, entry.title)
            assert not re.search(r"\\(?:alpha|frac|mathcal|sqrt|emph)\b", entry.abstract), (
                path.name, entry.abstract)
    assert seen > 100


def test_nearly_no_arxiv_title_keeps_tex_source() -> None:
    """All 74,728 titles of the relevance corpus (read in place): 315 carry TeX as listed;
    after conversion 4 keep anything that looks like it (a macro of the
    author's own such as "\\ECUAS{n}", "$ \\textit{far} $" with spaces, read as money)."""
    require(RELEVANCE.is_dir(), f"{RELEVANCE} is absent (it sits beside the repo)")
    with gzip.open(RELEVANCE / "papers.jsonl.gz", "rt", encoding="utf-8") as lines:
        titles = [" ".join(json.loads(line)["title"].split()) for line in lines]
    before = sum(bool(_TEX_LEFT.search(t)) for t in titles)
    after = [t for t in (tex_to_unicode(t) for t in titles) if _TEX_LEFT.search(t)]
    print(f"titles with TeX: {before} as listed, {len(after)} after conversion")
    assert before > 300
    assert len(after) <= 10, after


def test_a_digest_shows_math_as_unicode_in_both_parts(tmp_path, feed_server) -> None:
    from world import World

    feed = (b'<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/'
            b'atom"><channel><title>math.PR updates</title><item><title>$\\alpha$-stable '
            b'limits at rate $O(1/N)$ on $H^3$</title><link>https://arxiv.org/abs/2611.00001'
            b'</link><description>arXiv:2611.00001v1 Announce Type: new \nAbstract: We show '
            b'\\emph{sharp} bounds of order $O(N^{-1/2})$ for $\\alpha$-stable walks.'
            b'</description><guid>oai:arXiv.org:2611.00001v1</guid><category>math.PR'
            b'</category><arxiv:announce_type>new</arxiv:announce_type></item></channel></rss>')
    feed_server.add_bytes("/pr.xml", feed)
    world = World.build(tmp_path, feed_server)
    world.add_source("/pr.xml", "arXiv math.PR", "math.PR")
    world.subscribe("pr@example.org", ["math.PR"])
    world.app.ingest.refresh()
    assert world.app.send.send().counts["sent"] == 1
    eml = next((tmp_path / "var" / "outbox").glob("*.eml"))
    page, text = parts(parse(eml.read_bytes()))
    for part in (page, text):
        assert "α-stable limits at rate O(1/N) on H³" in html.unescape(part)
        assert "sharp bounds of order O(N^(−1/2)) for α-stable walks" in html.unescape(part)
        assert "\\alpha" not in part and "$H^3$" not in part
