"""`digest-mailer feeds add|edit|disable|enable|remove|history` as a user runs them: a
subprocess, real SQLite, feeds on loopback HTTP (issue 12)."""

from __future__ import annotations

import re

import feedserver
from test_cli import cli, db_count
from world import DEMO

feed_server = feedserver.feed_server
CV = DEMO / "feeds" / "arxiv_cs.CV.xml"


def test_feeds_add_refuses_what_does_not_parse_and_bad_fields_in_one_line_each(
        tmp_path, feed_server):
    page = feed_server.add_bytes("/page", b"<html><body>news</body></html>",
                                 content_type="text/html")
    refused = cli(tmp_path, "feeds", "add", page, "--label", "News", "--category", "news",
                  expect=1)
    assert refused.stderr == "url: the test fetch failed: not an RSS or Atom feed\n"
    assert refused.stdout == ""
    bad = cli(tmp_path, "feeds", "add", "gopher://example.org/x", "--label", " ",
              "--category", "cs CV", expect=1)
    assert bad.stderr.splitlines() == [
        "url: a feed URL must use http, https, file, not gopher",
        "label: give a label",
        "category: a category code has no spaces (e.g. cs.CV)"]
    assert cli(tmp_path, "feeds", "list").stdout == ""
    assert db_count(tmp_path, "entry") == 0 and db_count(tmp_path, "fetchlog") == 0


def test_feeds_add_disable_enable_edit_history_and_remove(tmp_path, feed_server):
    url = feed_server.add_file("/cs.CV", CV)
    added = cli(tmp_path, "feeds", "add", url, "--label", "arXiv (cs.CV)", "--category",
                "cs.CV").stdout.splitlines()
    assert added[0] == f"added arXiv (cs.CV) (id 1): {url}"
    items = re.fullmatch(r"  test fetch: HTTP 200, (\d+) items", added[1])
    assert items, added
    assert db_count(tmp_path, "entry") == 0  # they come with the first run
    cli(tmp_path, "feeds", "fetch")
    stored = db_count(tmp_path, "entry")
    assert stored == int(items.group(1)) > 0
    cli(tmp_path, "subscribers", "add", "ada@example.org", "--categories", "cs.CV",
        "--keywords", "diffusion")

    assert cli(tmp_path, "feeds", "disable", "1").stdout == "disabled arXiv (cs.CV) (id 1)\n"
    assert "was already disabled" in cli(tmp_path, "feeds", "disable", url).stdout
    listed = cli(tmp_path, "feeds", "list").stdout
    assert "(disabled)" in listed and f"#1 {url}" in listed
    cli(tmp_path, "feeds", "fetch")
    assert feed_server.hits["/cs.CV"] == 2  # a disabled source is not fetched
    assert cli(tmp_path, "feeds", "enable", url).stdout == "enabled arXiv (cs.CV) (id 1)\n"
    cli(tmp_path, "feeds", "fetch")
    assert feed_server.hits["/cs.CV"] == 3

    history = cli(tmp_path, "feeds", "history", "1").stdout.splitlines()
    assert history[0] == f"arXiv (cs.CV) (id 1): {url}"
    assert re.match(r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d run +\d+\.\d\ds  HTTP 304, not modified",
                    history[1]), history
    assert f"HTTP 200, {stored} items ({stored} new)" in history[2] and " run " in history[2]
    assert " add " in history[3] and history[3].endswith(f"HTTP 200, {stored} items")

    edited = cli(tmp_path, "feeds", "edit", "1", "--label", "arXiv CV").stdout
    assert edited == "updated arXiv (cs.CV) (id 1): label\n"

    removed = cli(tmp_path, "feeds", "remove", url).stdout.splitlines()
    assert removed == ["removed arXiv CV (id 1); its papers are kept",
                       "1 subscriber lost cs.CV:",
                       "  ada@example.org  (now no category at all)"]
    assert db_count(tmp_path, "entry") == stored
    assert cli(tmp_path, "feeds", "list").stdout == ""
    people = cli(tmp_path, "subscribers", "list").stdout
    assert re.search(r"^ada@example.org .* 07h daily\s*$", people, flags=re.MULTILINE), people
    for args in (("remove", "1"), ("history", "1"), ("enable", url), ("edit", "7")):
        gone = cli(tmp_path, "feeds", *args, expect=1)
        assert gone.stderr == f"no source {args[1]}\n" and "Traceback" not in gone.stderr
