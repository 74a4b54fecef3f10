"""Sources managed through the service (issue 12): add after a test fetch that must parse,
edit, disable and enable, remove as a tombstone with the profiles' report, the health
history (bounded) and "fetch now". Real feeds on loopback HTTP; SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import feedserver
import pytest
from sqlmodel import Session, select
from world import DEMO, World

from digest_mailer import db
from digest_mailer.db.models import Entry, FetchLog, Subscriber
from digest_mailer.domain.source import SHELL_SCHEMES, check_source
from digest_mailer.ingest.parsers import KINDS

feed_server = feedserver.feed_server
CV = DEMO / "feeds" / "arxiv_cs.CV.xml"
LG = DEMO / "feeds" / "arxiv_cs.LG.xml"


@pytest.fixture
def world(tmp_path: Path, feed_server, database_url) -> World:
    # The feeds are on loopback, which a browser's source may not name by default
    # (test_source_guard.py has that case).
    return World.build(tmp_path, feed_server, database_url=database_url,
                       sources_allow_private=True)


def _entries(world: World) -> int:
    with Session(world.app.engine) as session:
        return len(session.exec(select(Entry)).all())


def _categories(world: World, email: str) -> list[str]:
    with Session(world.app.engine) as session:
        subscriber = db.subscribers.by_email(session, email)
        assert subscriber is not None
        return subscriber.categories


def test_a_feed_that_does_not_parse_is_refused_with_the_reason_and_nothing_stored(world):
    feeds = world.feeds
    cases = {
        feeds.add_bytes("/page.html", b"<html><body>Our papers</body></html>",
                        content_type="text/html"): "not an RSS or Atom feed",
        feeds.add_status("/gone.xml", 404): "HTTP 404",
        feeds.add_bytes("/broken.xml", b"<rss><channel><item>"): "malformed feed document",
        feeds.add_bytes("/empty.xml", b""): "empty document",
    }
    for url, reason in cases.items():
        change = world.app.sources.add(url, "Journal", "journal")
        assert change.source is None
        (error,) = change.errors
        assert error.field == "url" and error.code == "test_fetch_failed"
        assert error.reason().startswith("the test fetch failed: ") and reason in error.reason()
        assert "试抓取失败：" in error.reason("zh")
    assert world.app.sources.every() == [] and _entries(world) == 0
    with Session(world.app.engine) as session:
        assert session.exec(select(FetchLog)).all() == []


def test_fields_are_checked_before_any_fetch(world):
    url = world.feeds.add_file("/cs.CV", CV)
    change = world.app.sources.add(url, "  ", "cs CV", "json")
    assert [(e.field, e.code) for e in change.errors] == [
        ("label", "label_missing"), ("category", "category_spaces"), ("kind", "kind_unknown")]
    for bad, code in (("ftp://example.org/feed", "url_scheme"),
                      ((CV.resolve().as_uri()), "url_scheme"),  # no file:// from a form
                      ("http:///feed.xml", "url_no_host"),
                      ("https://user:secret@example.org/feed", "url_credentials"),
                      ("https://example.org/a feed", "url_spaces"),
                      ("https://example.org:port/", "url_invalid"), ("", "url_missing")):
        (error,) = world.app.sources.add(bad, "Label", "cs.CV").errors
        assert error.code == code, bad
    assert world.feeds.hits["/cs.CV"] == 0  # refused before fetching anything
    assert world.app.sources.every() == []
    assert check_source(CV.resolve().as_uri(), "L", "cs.CV", None, kinds=KINDS,
                        schemes=SHELL_SCHEMES).errors == ()  # the shell may name a file
    for category in ("cs.CV|cs.LG", "a;b", "a,b", ".hidden"):
        assert check_source("https://e.org/f", "L", category, None,
                            kinds=KINDS).errors[0].code == "category_chars"


def test_a_good_feed_is_added_and_its_test_fetch_starts_its_history(world):
    url = world.feeds.add_file("/cs.CV", CV)
    change = world.app.sources.add(url, " arXiv (cs.CV) ", "cs.CV")
    assert change.errors == () and change.added and change.source is not None
    assert (change.source.label, change.source.category, change.source.kind) == (
        "arXiv (cs.CV)", "cs.CV", "rss")
    assert change.fetch is not None and change.fetch.trigger == "add"
    assert change.fetch.entry_count > 0 and change.fetch.status == 200
    # The test fetch stores nothing else: the source is due, its entries come with a run.
    assert _entries(world) == 0 and change.source.last_fetched_at is None
    report = world.app.ingest.refresh()
    assert report.counts["entries_new"] == change.fetch.entry_count == _entries(world)
    assert world.feeds.hits["/cs.CV"] == 2
    assert world.app.ingest.refresh(force=True).counts["not_modified"] == 1
    found = world.app.sources.history(str(change.source.id))
    assert found is not None
    source, fetches = found
    assert [(f.trigger, f.status, f.not_modified, f.entries_new) for f in fetches] == [
        ("run", 304, True, 0), ("run", 200, False, _entries(world)), ("add", 200, False, 0)]
    assert world.app.sources.history(url) is not None  # by URL as by id
    # Adding the same URL again updates it (after another test fetch).
    again = world.app.sources.add(url, "arXiv CV", "cs.CV", "atom")
    assert not again.added and again.source is not None and again.source.id == source.id
    assert [(s.label, s.kind) for s in world.app.sources.every()] == [("arXiv CV", "atom")]


def test_the_listing_reads_each_source_as_its_model_has_it(world):
    """every() reads rows (SQLAlchemy Core, the table reflected; no model is built), for a
    listing that starts fast: the same columns and values as the model, times aware UTC."""
    url = world.feeds.add_file("/cs.CV", CV)
    world.app.sources.add(url, "arXiv (cs.CV)", "cs.CV")
    world.app.ingest.refresh()
    (row,) = world.app.sources.every()
    source = world.app.sources.get(url)
    assert source is not None and source.last_fetched_at is not None
    assert row._asdict() == source.model_dump()
    assert row.last_fetched_at.utcoffset() is not None and row.active is True


def test_disable_enable_and_what_is_fetched_and_offered(world):
    cv = world.app.sources.add(world.feeds.add_file("/cs.CV", CV), "arXiv (cs.CV)", "cs.CV")
    lg = world.app.sources.add(world.feeds.add_file("/cs.LG", LG), "arXiv (cs.LG)", "cs.LG")
    assert cv.source and lg.source
    offered = world.app.subscribers
    with Session(world.app.engine) as session:
        assert {"cs.CV", "cs.LG"} <= set(db.sources.subscribable_categories(session))
    reader = world.subscribe("ada@example.org", ["cs.CV", "cs.LG"])

    done = world.app.sources.set_active(str(cv.source.id), False)
    assert done is not None and done[1] and not done[0].active
    assert world.app.sources.set_active(str(cv.source.id), False)[1] is False  # type: ignore[index]
    before = world.feeds.hits["/cs.CV"]
    report = world.app.ingest.refresh(force=True)
    assert report.counts["sources"] == 1 and world.feeds.hits["/cs.CV"] == before
    with Session(world.app.engine) as session:
        # Not offered, not even through the cs.LG feed's cross-listed cs.CV papers.
        assert "cs.CV" not in db.sources.subscribable_categories(session)
        assert "cs.LG" in db.sources.subscribable_categories(session)
    # The reader keeps it (for when it comes back), and their preferences page still has it.
    assert _categories(world, reader.email) == ["cs.CV", "cs.LG"]
    shown = offered.preferences(reader.public_id)
    assert shown is not None and "cs.CV" in shown[1]
    # Listed still, as disabled; "fetch now" still fetches it (the admin asked).
    assert [s.active for s in world.app.sources.every()] == [False, True]
    fetched = world.app.sources.fetch_now(str(cv.source.id))
    assert fetched is not None and fetched[1].trigger == "now" and fetched[1].error is None

    assert world.app.sources.set_active(cv.source.url, True) is not None
    assert world.app.ingest.refresh(force=True).counts["sources"] == 2
    assert world.app.sources.set_active("999", True) is None


def test_remove_keeps_entries_tombstones_the_row_and_reports_who_lost_the_category(world):
    cv = world.app.sources.add(world.feeds.add_file("/cs.CV", CV), "arXiv (cs.CV)", "cs.CV")
    lg = world.app.sources.add(world.feeds.add_file("/cs.LG", LG), "arXiv (cs.LG)", "cs.LG")
    assert cv.source and lg.source
    world.app.ingest.refresh()
    entries = _entries(world)
    assert entries > 0
    world.subscribe("both@example.org", ["cs.CV", "cs.LG"])
    world.subscribe("only@example.org", ["cs.CV"])
    world.subscribe("gone@example.org", ["cs.CV"], status="unsubscribed")
    world.subscribe("lg@example.org", ["cs.LG"])

    removal = world.app.sources.remove(str(cv.source.id))
    assert removal is not None and not removal.kept
    assert removal.lost == ("both@example.org", "only@example.org", "gone@example.org")
    assert removal.emptied == ("only@example.org", "gone@example.org")
    assert _categories(world, "both@example.org") == ["cs.LG"]
    assert _categories(world, "lg@example.org") == ["cs.LG"]
    assert _entries(world) == entries  # deliveries name them
    with Session(world.app.engine) as session:
        assert db.sources.labels(session)[cv.source.id or 0] == ("arXiv (cs.CV)", "cs.CV")
        assert "cs.CV" not in db.sources.subscribable_categories(session)
    assert [s.label for s in world.app.sources.every()] == ["arXiv (cs.LG)"]
    assert world.app.sources.remove(str(cv.source.id)) is None  # gone: not found again
    assert world.app.sources.get(cv.source.url) is None
    before = world.feeds.hits["/cs.CV"]
    world.app.ingest.refresh(force=True)
    assert world.feeds.hits["/cs.CV"] == before

    # Adding the URL again brings the row back, with its history.
    back = world.app.sources.add(cv.source.url, "arXiv (cs.CV)", "cs.CV")
    assert back.added and back.source is not None and back.source.id == cv.source.id
    history = world.app.sources.history(str(cv.source.id))
    assert history is not None and [f.trigger for f in history[1]] == ["add", "run", "add"]


def test_removing_one_of_two_sources_of_a_category_changes_no_profile(world):
    first = world.app.sources.add(world.feeds.add_file("/a", CV), "arXiv (cs.CV)", "cs.CV")
    world.app.sources.add(world.feeds.add_file("/b", CV), "Mirror (cs.CV)", "cs.CV")
    assert first.source is not None
    world.subscribe("ada@example.org", ["cs.CV"])
    removal = world.app.sources.remove(first.source.url)
    assert removal is not None and removal.kept and removal.lost == ()
    assert _categories(world, "ada@example.org") == ["cs.CV"]


def test_edit_label_kind_and_a_category_rename_that_profiles_follow(world):
    added = world.app.sources.add(world.feeds.add_file("/bio", CV), "bio", "bio")
    assert added.source is not None
    ref = str(added.source.id)
    world.subscribe("ada@example.org", ["bio", "cs.LG"])
    change = world.app.sources.edit(ref, "bioRxiv", "q-bio.BM", "atom")
    assert change.errors == () and change.changed == ("label", "category", "kind")
    assert change.moved == ("ada@example.org",)
    assert _categories(world, "ada@example.org") == ["q-bio.BM", "cs.LG"]
    refused = world.app.sources.edit(ref, "", "two words", None)
    assert [e.code for e in refused.errors] == ["label_missing", "category_spaces"]
    assert world.app.sources.edit(ref, "bioRxiv", "q-bio.BM", None).changed == ()
    assert [e.code for e in world.app.sources.edit("404", "x", "y", None).errors] == ["unknown"]


def test_the_history_is_bounded_and_records_failures(world, monkeypatch):
    url = world.feeds.add_file("/cs.CV", CV)
    added = world.app.sources.add(url, "arXiv (cs.CV)", "cs.CV")
    assert added.source is not None
    world.app.ingest.refresh()
    monkeypatch.setattr(db.sources, "HISTORY", 5)
    world.feeds.add_status("/cs.CV", 503)
    for _ in range(7):
        world.app.ingest.refresh(force=True)
    result = world.app.sources.fetch_now(url)
    assert result is not None
    source, fetch = result
    assert (fetch.status, fetch.error, fetch.trigger) == (503, "HTTP 503", "now")
    assert source.last_error == "HTTP 503"
    history = world.app.sources.history(url)
    assert history is not None
    assert [(f.trigger, f.status) for f in history[1]] == [("now", 503)] + [("run", 503)] * 4
    with Session(world.app.engine) as session:
        assert len(session.exec(select(FetchLog)).all()) == 5
    # Entries of the good fetch are kept through the failures.
    assert _entries(world) == added.fetch.entry_count  # type: ignore[union-attr]
    assert world.app.sources.fetch_now("12345") is None


def test_subscribers_of_no_category_keep_their_keywords(world):
    """A removal that leaves a profile without categories says so and writes nothing else."""
    added = world.app.sources.add(world.feeds.add_file("/cs.CV", CV), "arXiv (cs.CV)", "cs.CV")
    assert added.source is not None
    world.subscribe("kw@example.org", ["cs.CV"], keywords=["diffusion"])
    removal = world.app.sources.remove(added.source.url)
    assert removal is not None and removal.emptied == ("kw@example.org",)
    with Session(world.app.engine) as session:
        row = session.exec(select(Subscriber)).one()
        assert (row.categories, row.keywords, row.status) == ([], ["diffusion"], "active")
