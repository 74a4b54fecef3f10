"""A parser per source kind: RSS and Atom read as before, the kind a document turns out to
be is recorded on its source, and an unknown kind fails that one source only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_cli import cli
from test_ingest_parse import SHARED_FILES

from digest_mailer.ingest import KINDS, PARSERS, parse_feed, parse_source
from digest_mailer.ingest.parsers import DEFAULT_KIND

KIND_OF = {"atom": "atom", "cs.AI": "rss", "biorxiv": "rss", "nature": "rss",
           "medscape": "rss", "empty": "rss", "error": "rss", "reuters": "rss"}


def test_the_kinds_of_today() -> None:
    assert KINDS == ("rss", "atom") and DEFAULT_KIND == "rss"
    assert tuple(PARSERS) == KINDS  # kinds.py names what parsers.py reads
    # feedparser reads both: one parser, so today's feeds parse exactly as before.
    assert PARSERS["rss"] is PARSERS["atom"] is parse_feed


@pytest.mark.parametrize("name", sorted(KIND_OF))
def test_a_document_says_which_kind_it_is(shared_feeds: Path, name: str) -> None:
    body = (shared_feeds / SHARED_FILES[name]).read_bytes()
    feed = parse_source("rss", body, source_category="cs.LG")
    assert feed.kind == KIND_OF[name]
    # The kind given only picks the parser; what the document is wins.
    assert parse_source("atom", body, source_category="cs.LG") == feed
    assert feed == parse_feed(body, source_category="cs.LG")


def test_no_document_no_kind() -> None:
    assert parse_feed(b"").kind == ""
    assert parse_feed(b"<html><body>not a feed</body></html>").kind == ""


def test_an_unknown_kind_is_an_error_of_that_source(shared_feeds: Path) -> None:
    body = (shared_feeds / SHARED_FILES["atom"]).read_bytes()
    feed = parse_source("json", body)
    assert feed.entries == () and feed.kind == ""
    assert feed.error == "no parser for source kind 'json' (known: rss, atom)"


def kinds(cwd: Path) -> dict[str, str]:
    with sqlite3.connect(cwd / "var" / "digest.db") as conn:
        return {label: kind for label, kind in conn.execute("SELECT label, kind FROM source")}


def test_feeds_add_takes_a_kind_and_a_fetch_records_the_real_one(
        tmp_path: Path, shared_feeds: Path) -> None:
    atom = (shared_feeds / SHARED_FILES["atom"]).resolve().as_uri()
    rss = (shared_feeds / SHARED_FILES["cs.AI"]).resolve().as_uri()
    cli(tmp_path, "feeds", "add", atom, "--label", "arXiv (cs.LG)", "--category", "cs.LG")
    cli(tmp_path, "feeds", "add", rss, "--label", "arXiv (cs.AI)", "--category", "cs.AI",
        "--kind", "atom")
    assert kinds(tmp_path) == {"arXiv (cs.LG)": "rss", "arXiv (cs.AI)": "atom"}
    # Re-adding without --kind keeps the kind; a kind no parser reads is refused.
    cli(tmp_path, "feeds", "add", rss, "--label", "arXiv (cs.AI)", "--category", "cs.AI")
    refused = cli(tmp_path, "feeds", "add", rss, "--label", "x", "--category", "cs.AI",
                  "--kind", "json", expect=2)
    assert "invalid choice: 'json'" in refused.stderr
    assert kinds(tmp_path) == {"arXiv (cs.LG)": "rss", "arXiv (cs.AI)": "atom"}

    fetched = cli(tmp_path, "feeds", "fetch").stdout
    assert "fetched 2" in fetched and "entries_new 6" in fetched
    assert kinds(tmp_path) == {"arXiv (cs.LG)": "atom", "arXiv (cs.AI)": "rss"}
