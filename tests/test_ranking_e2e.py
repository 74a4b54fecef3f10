"""Issue 10, acceptance 2: a reader's library decides the digest, end to end on real papers.

Real parts only: two real listing days of ../shared/relevance served as one arXiv RSS 2.0
feed on loopback, ingested, and every step through the `digest-mailer` entry point in this
process (configured by environment, as the installed command is); a curated reader's seeds
go in as a BibTeX export; the "more" vote is the signed link of the emailed digest, POSTed
to the real web app. Caps are lifted so each JSON preview ranks the whole day.
"""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from conftest import RELEVANCE, relevance_corpus
from fastapi.testclient import TestClient

# A curated reader (diffusion language models, cs.CL, 107 seeds) and two consecutive
# listing days: the first holds 3 of the reader's relevant papers, the second 5.
READER = "VILA-Lab/Awesome-DLMs"
CATEGORY = "cs.CL"
DAY1, DAY2 = "2026-01-30", "2026-02-02"
BASE = "https://digest.example.org"
FEED = "/rss/cs"
VOTER, TWIN = "voter@example.org", "twin@example.org"


class Cli:
    """`digest-mailer ARGS` through faces.cli.main with this test's environment only."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.capsys = root, capsys
        for key in list(os.environ):
            if key.startswith(("DIGEST_", "OPENAI_")):
                monkeypatch.delenv(key)
        for key, value in {"DIGEST_VAR_DIR": str(root / "var"), "DIGEST_SECRET_KEY": "e2e-key",
                           "DIGEST_BASE_URL": BASE, "DIGEST_MAX_PER_CATEGORY": "500",
                           "DIGEST_MAX_PAPERS": "500"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(root)  # no stray .env

    def __call__(self, *args: str) -> str:
        from digest_mailer.faces.cli import main

        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        assert code == 0, (args, code, out, err)
        return out

    def json(self, *args: str) -> dict:
        return json.loads(self(*args))

    def count(self, table: str, where: str = "1 = 1") -> int:
        with sqlite3.connect(self.root / "var" / "digest.db") as db:
            return int(db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def rss(papers) -> bytes:  # type: ignore[no-untyped-def]
    """One listing day as https://rss.arxiv.org/rss/cs serves it (RSS 2.0, arxiv: and dc:
    elements): a paper from outside cs (eess.IV, stat.ML) is a cross-list there."""
    items = []
    for p in papers:
        kind = "new" if p.categories[0].startswith("cs.") else "cross"
        categories = "".join(f"<category>{escape(c)}</category>" for c in p.categories)
        items.append(
            f"<item><title>{escape(p.title)}</title>"
            f"<link>https://arxiv.org/abs/{p.key}</link>"
            f"<description>arXiv:{p.key}v1 Announce Type: {kind} \nAbstract: "
            f"{escape(p.abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{p.key}v1</guid>{categories}'
            f"<pubDate>{format_datetime(datetime.fromisoformat(p.date + 'T00:00-05:00'))}"
            "</pubDate>"
            f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
            f"<dc:creator>{escape(', '.join(p.authors))}</dc:creator></item>")
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
            "<title>cs updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs</link>"
            "<description>cs updates on the arXiv.org e-print archive.</description>"
            + "".join(items) + "</channel></rss>").encode()


def _braced(text: str) -> str:
    """A BibTeX value: braces kept when balanced (TeX groups), escaped as Zotero does if not."""
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth:
        text = text.replace("{", r"\{").replace("}", r"\}")
    return "{" + text + "}"


def bibtex(papers) -> bytes:  # type: ignore[no-untyped-def]
    """A Zotero-style export of the seeds: title, authors, abstract, eprint."""
    records = [
        f"@article{{seed{n},\n  title = {_braced(p.title)},\n"
        f"  author = {_braced(' and '.join(p.authors))},\n"
        f"  abstract = {_braced(p.abstract)},\n  eprint = {{{p.key}}},\n"
        f"  archivePrefix = {{arXiv}},\n  year = {{{p.date[:4]}}},\n}}\n"
        for n, p in enumerate(papers)]
    return "\n".join(records).encode()


def ranks(listing: dict) -> dict[str, int]:
    return {p["key"]: n for n, p in enumerate(listing["papers"])}


def more_link(outbox: Path, email: str, key: str) -> str:
    """The "More like this" link under one paper of the digest emailed to ``email``."""
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec != email:
            continue
        page = message.get_body(("html",)).get_content()
        found = re.search(rf'href="https://arxiv\.org/abs/{re.escape(key)}".*?<a href="([^"]+)">'
                          r"More like this</a>", page, re.DOTALL)
        assert found, f"no vote link under {key} in the digest to {email}"
        return html.unescape(found.group(1))
    raise AssertionError(f"no digest to {email} in {outbox}")


def test_a_library_puts_its_topic_first_a_vote_moves_its_kind_up_exclusions_win(
        tmp_path, feed_server, monkeypatch, capsys):
    corpus, _, _ = relevance_corpus(1, 1)
    from relevance_data import load_readers
    from sklearn.feature_extraction.text import TfidfVectorizer

    reader = next(r for r in load_readers(RELEVANCE, "curated") if r.name == READER)
    days = dict(corpus.days)
    day1, day2 = ([corpus.papers[i] for i in days[d]] for d in (DAY1, DAY2))
    mine1, mine2 = ([p for p in day if CATEGORY in p.categories] for day in (day1, day2))
    cli = Cli(tmp_path, monkeypatch, capsys)
    today = datetime.now(UTC).date()
    first, second = today.isoformat(), (today + timedelta(days=1)).isoformat()

    # Day 1: arXiv's feed of all cs, two readers of cs.CL with the same BibTeX library.
    feed_server.add_bytes(FEED, rss(day1))
    cli("feeds", "add", feed_server.url(FEED), "--label", "arXiv (cs)", "--category", "cs")
    assert f"entries_new {len(day1)}," in cli("feeds", "fetch")
    library = tmp_path / "library.bib"
    library.write_bytes(bibtex([corpus.papers[corpus.row[k]] for k in reader.seeds]))
    for email in (VOTER, TWIN):
        cli("subscribers", "add", email, "--categories", CATEGORY)
        assert cli("subscribers", "library", email, str(library)).strip() == (
            f"{len(reader.seeds)} seeds (0 resolved from stored papers)")

    # preview --json: the whole cs.CL day, the library's topic first, each paper saying why.
    preview = cli.json("preview", VOTER, "--json", "--date", first)
    assert (preview["email"], preview["digest_date"], preview["more"]) == (VOTER, first, [])
    assert sorted(ranks(preview)) == sorted(p.key for p in mine1)
    assert {p["category"] for p in preview["papers"]} == {CATEGORY}
    relevant = sorted(ranks(preview)[p.key] for p in mine1 if p.key in reader.relevant)
    # The order without a model: new papers, then cross-lists, each in feed order.
    in_order = sorted(mine1, key=lambda p: not p.categories[0].startswith("cs."))
    listed = sorted(n for n, p in enumerate(in_order) if p.key in reader.relevant)
    assert len(relevant) >= 3
    assert relevant[0] < 3 and relevant[0] < listed[0], (relevant, listed)
    assert np.mean(relevant) < np.mean(listed) / 3, (relevant, listed)
    top = preview["papers"][0]
    seeds = {corpus.papers[corpus.row[k]].title for k in reader.seeds}
    assert top["reason"]["kind"] == "library" and top["reason"]["label"] in seeds
    scores = [p["score"] for p in preview["papers"]]
    assert scores == sorted(scores, reverse=True)

    # send --dry-run --json: the same digest per due reader, and nothing written.
    dry = cli.json("send", "--dry-run", "--json", "--date", first)
    assert dry["counts"] == {"would_send": 2} and dry["errors"] == []
    by_email = {d["email"]: d for d in dry["digests"]}
    assert set(by_email) == {VOTER, TWIN}
    assert by_email[VOTER]["papers"] == preview["papers"]
    assert cli.count("delivery") == 0 and cli.count("run", "kind = 'send'") == 0

    assert "send: sent 2" in cli("send", "--date", first)

    # Day 2 arrives; the voter marks "more like this" on a first-day paper of another kind
    # than the library (one the model ranked in the middle half) whose nearest papers by
    # TF-IDF cosine are in the second day; the twin does not vote.
    feed_server.add_bytes(FEED, rss(day2))
    assert f"entries_new {len(day2)}," in cli("feeds", "fetch")
    vectoriser = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    vectoriser.fit([f"{p.title} {p.abstract}" for p in mine1 + mine2])
    first_rank = ranks(preview)
    middle = [p for p in mine1 if len(mine1) // 4 <= first_rank[p.key] < 3 * len(mine1) // 4]
    similar = (vectoriser.transform([f"{p.title} {p.abstract}" for p in middle])
               @ vectoriser.transform([f"{p.title} {p.abstract}" for p in mine2]).T).toarray()
    pick = int(similar.max(axis=1).argmax())
    voted, nearest = middle[pick], np.argsort(-similar[pick])[:3]
    watched = [mine2[int(n)].key for n in nearest]
    assert similar[pick, nearest[0]] > 0.2, "the second day holds nothing like the voted paper"

    from digest_mailer.app import App
    from digest_mailer.faces.web import create_app
    from digest_mailer.settings import load_settings

    url = more_link(tmp_path / "var" / "outbox", VOTER, voted.key)
    with TestClient(create_app(App(load_settings(env_file=None))), base_url=BASE) as web:
        done = web.post(url.removeprefix(BASE))
    assert done.status_code == 200 and "placed higher" in done.text

    theirs = cli.json("preview", TWIN, "--json", "--date", second)
    mine = cli.json("preview", VOTER, "--json", "--date", second)
    assert sorted(ranks(mine)) == sorted(ranks(theirs)) == sorted(p.key for p in mine2)
    before = [ranks(theirs)[k] for k in watched]
    after = [ranks(mine)[k] for k in watched]
    assert after[0] < before[0] and sum(after) < sum(before), (before, after)
    by_key = {p["key"]: p for p in mine["papers"]}
    assert by_key[watched[0]]["reason"] == {"kind": "more", "label": voted.title}
    # Both still lead with the library's topic.
    for listing in (mine, theirs):
        assert min(ranks(listing)[p.key] for p in mine2 if p.key in reader.relevant) < 3

    # An exclusion wins over the library: a word of the twin's top paper removes it.
    leader = theirs["papers"][0]
    texts = {p.key: f"{p.title} {p.abstract}" for p in mine2}

    def matches(word: str, key: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(word)}(?:e?s)?(?!\w)", texts[key], re.I) is not None

    words = re.findall(r"[A-Za-z]{5,}", leader["title"])
    word = min(words, key=lambda w: sum(matches(w, k) for k in texts))
    cli("subscribers", "add", TWIN, "--exclusions", word)
    excluded = cli.json("preview", TWIN, "--json", "--date", second)
    kept = [k for k in ranks(theirs) if not matches(word, k)]
    assert leader["key"] not in ranks(excluded)
    assert list(ranks(excluded)) == kept, word
