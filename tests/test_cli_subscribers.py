"""`digest-mailer subscribers add`: one subscriber's profile from the command line, checked
by the same validator as CSV rows and the preferences page. Run as a user runs it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_cli import cli
from world import DEMO


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """A working folder whose database knows the categories cs.CV and cs.LG."""
    for category in ("cs.CV", "cs.LG"):
        feed = (DEMO / "feeds" / f"arxiv_{category}.xml").resolve().as_uri()
        cli(tmp_path, "feeds", "add", feed, "--label", f"arXiv ({category})",
            "--category", category)
    return tmp_path


def rows(cwd: Path) -> list[tuple]:
    with sqlite3.connect(cwd / "var" / "digest.db") as db:
        return db.execute("SELECT email, name, categories, keywords, excluded_keywords, "
                          "timezone, send_hour, language, max_papers, status "
                          "FROM subscriber ORDER BY id").fetchall()


def test_add_then_update_only_the_given_fields(cwd: Path) -> None:
    done = cli(cwd, "subscribers", "add", "Ada@Example.org", "--name", "Ada",
               "--categories", "cs.cv|cs.LG", "--keywords", "diffusion|image retrieval")
    assert done.stdout == "added ada@example.org\n" and done.stderr == ""
    # The importer's defaults for what was not given: DIGEST_DEFAULT_TIMEZONE/SEND_HOUR, en.
    assert rows(cwd) == [("ada@example.org", "Ada", '["cs.CV", "cs.LG"]',
                          '["diffusion", "image retrieval"]', "[]", "UTC", 7, "en", None,
                          "active")]
    done = cli(cwd, "subscribers", "add", "ada@example.org", "--timezone", "asia/shanghai",
               "--send-hour", "6", "--max-papers", "12")
    assert done.stdout == "updated ada@example.org: timezone, send_hour, max_papers\n"
    assert rows(cwd) == [("ada@example.org", "Ada", '["cs.CV", "cs.LG"]',
                          '["diffusion", "image retrieval"]', "[]", "Asia/Shanghai", 6, "en",
                          12, "active")]
    again = cli(cwd, "subscribers", "add", "ada@example.org", "--send-hour", "6")
    assert again.stdout == "updated ada@example.org: nothing changed\n"


def test_every_bad_field_is_named_and_nothing_is_written(cwd: Path) -> None:
    done = cli(cwd, "subscribers", "add", "ada@example.org", "--categories", "cs.XX",
               "--timezone", "Mars/Base", "--send-hour", "24", "--language", "fr",
               "--max-papers", "1000", expect=1)
    assert done.stdout == ""
    fields = [line.split(":", 1)[0] for line in done.stderr.splitlines()]
    assert fields == ["categories", "timezone", "send_hour", "language", "max_papers"]
    assert "unknown category 'cs.XX'" in done.stderr and "'Mars/Base'" in done.stderr
    assert rows(cwd) == []


def test_a_bad_address_or_no_interest_is_refused(cwd: Path) -> None:
    done = cli(cwd, "subscribers", "add", "not-an-address", "--categories", "cs.CV", expect=1)
    assert done.stderr.startswith("email: ") and len(done.stderr.splitlines()) == 1
    done = cli(cwd, "subscribers", "add", "ada@example.org", expect=1)
    assert done.stderr == "categories: give at least one category or keyword\n"
    assert rows(cwd) == []
