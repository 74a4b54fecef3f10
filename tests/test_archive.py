"""The public archive: each day's announced papers by category, in en and zh, and an Atom
feed of the days; off by default (404). Real feeds ingested over loopback, real SQLite."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from world import World

from digest_mailer.db.models import Entry, Source
from digest_mailer.faces.web import create_app
from digest_mailer.services.archive import DAYS

BASE = "https://digest.example.org"


def archive_world(tmp_path: Path, feed_server, **settings) -> World:
    world = World.build(tmp_path, feed_server, **settings)
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world


def client_of(world: World) -> TestClient:
    return TestClient(create_app(world.app), base_url=BASE, follow_redirects=False)


def announced(world: World) -> list[Entry]:
    with Session(world.app.engine) as session:
        return [e for e in session.exec(select(Entry)) if not e.is_update]


def test_the_archive_is_off_unless_it_is_asked_for(tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server)
    with client_of(world) as client:
        for path in ("/archive", "/archive/feed.atom", f"/archive/{world.now.date()}"):
            assert client.get(path).status_code == 404, path


def test_a_day_lists_what_was_announced_by_category(tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    papers = announced(world)
    updates = len(announced(world)) < len(list(Session(world.app.engine).exec(select(Entry))))
    assert papers and updates  # the demo day has replacements: they are not announcements
    day = world.now.date().isoformat()
    with client_of(world) as client:
        index = client.get("/archive")
        assert index.status_code == 200 and f'href="/archive/{day}?lang=en"' in index.text
        counts = {}
        for entry in papers:
            counts[entry.categories[0]] = counts.get(entry.categories[0], 0) + 1
        for code, n in counts.items():
            assert f"{code} {n}" in index.text or f"({code}) {n}" in index.text, (code, n)
        page = client.get(f"/archive/{day}")
        assert page.status_code == 200
        assert page.text.count('<li class="paper">') == len(papers)
        assert "Computer Vision" in page.text or "cs.CV" in page.text
        # Another day has nothing; a malformed one is not a page.
        other = (world.now.date() - timedelta(days=3)).isoformat()
        assert client.get(f"/archive/{other}").text.count('<li class="paper">') == 0
        for bad in ("2026-13-01", "yesterday", "2026-11-1", "..%2Fetc"):
            assert client.get(f"/archive/{bad}").status_code == 404, bad


def test_the_archive_speaks_chinese_when_asked(tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    with client_of(world) as client:
        index = client.get("/archive?lang=zh")
        assert 'lang="zh' in index.text and "每日新论文存档" in index.text
        assert "计算机视觉" in index.text
        browser = client.get("/archive", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert "每日新论文存档" in browser.text


def test_the_atom_feed_has_one_entry_a_day_linking_its_page(tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    world.now += timedelta(days=1)  # a second day: the feed lists both, newest first
    feed_server.add_bytes("/extra.xml", (Path(__file__).parent.parent / "demo" / "feeds"
                                         / "arxiv_math.PR.xml").read_bytes()
                          .replace(b"2606.", b"2607."))
    world.add_source("/extra.xml", "arXiv (math.PR, again)", "math.PR")
    world.app.ingest.refresh()
    with client_of(world) as client:
        response = client.get("/archive/feed.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    days = [world.now.date().isoformat(), (world.now.date() - timedelta(days=1)).isoformat()]
    assert [e.link for e in parsed.entries] == [f"{BASE}/archive/{d}" for d in days]
    assert all(re.search(r"\d+ papers", e.title) for e in parsed.entries)


def test_hostile_feed_text_stays_text_on_the_pages_and_in_the_feed(tmp_path,
                                                                    feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    with Session(world.app.engine) as session:
        source = session.exec(select(Source)).first()
        assert source is not None and source.id is not None
        session.add(Entry(key="evil", source_id=source.id, first_seen=world.now,
                          title='<script>alert(1)</script> "Ada"', link="javascript:alert(1)",
                          categories=['"><img src=x onerror=alert(1)>\x07'],
                          authors=["<b>Mallory</b>"]))
        session.commit()
    with client_of(world) as client:
        page = client.get(f"/archive/{world.now.date()}").text
        index = client.get("/archive").text
        feed = client.get("/archive/feed.atom").content
    for html in (page, index):
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Mallory" not in html
        assert "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.bozo_exception
    assert "<img" not in feed.decode() and "\x07" not in feed.decode()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_empty_archive_says_so(tmp_path, feed_server, lang) -> None:
    world = World.build(tmp_path, feed_server, public_archive=True)
    with client_of(world) as client:
        page = client.get(f"/archive?lang={lang}")
        feed = feedparser.parse(client.get("/archive/feed.atom").content)
    assert page.status_code == 200 and 'id="empty"' in page.text
    assert not feed.bozo and feed.entries == []


def _add_entry(world: World, key: str, when: datetime) -> None:
    with Session(world.app.engine) as session:
        source = session.exec(select(Source)).first()
        assert source is not None and source.id is not None
        session.add(Entry(key=key, source_id=source.id, first_seen=when, title=key,
                          categories=["cs.CV"], abstract="x" * 2000))
        session.commit()


def test_the_day_pages_reach_no_further_than_the_window(tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    today = world.now.date()
    first = today - timedelta(days=DAYS)
    _add_entry(world, "edge", datetime.combine(first, time(12), tzinfo=UTC))
    _add_entry(world, "old", datetime.combine(first - timedelta(days=1), time(12), tzinfo=UTC))
    with client_of(world) as client:
        assert '<li class="paper">' in client.get(f"/archive/{first}").text
        assert f'href="/archive/{first}?lang=en"' in client.get("/archive").text
        for day in (first - timedelta(days=1), today + timedelta(days=1), date(1, 1, 1),
                    date(9999, 12, 31)):
            assert client.get(f"/archive/{day}").status_code == 404, day


def test_the_public_pages_may_be_cached_and_the_counts_are_kept_a_while(
        tmp_path, feed_server) -> None:
    world = archive_world(tmp_path, feed_server, public_archive=True)
    with client_of(world) as client:
        for path in ("/archive", "/archive/feed.atom", f"/archive/{world.now.date()}"):
            response = client.get(path)
            assert response.headers["cache-control"] == "public, max-age=300", path
            assert response.headers["vary"] == "Accept-Language"
        assert client.get("/archive/2001-01-01").headers["cache-control"] == "no-store"

        def total() -> int:
            (day,) = world.app.archive.days()
            return day.total

        before = total()
        _add_entry(world, "late", world.now)
        assert total() == before  # the counts of a minute ago
        world.now += timedelta(minutes=6)
        assert total() == before + 1


def test_the_days_are_counted_by_the_database_alike_on_sqlite_and_postgresql(
        tmp_path, feed_server, database_url) -> None:
    world = World.build(tmp_path, feed_server, database_url=database_url,
                        public_archive=True)
    world.now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    world.add_source("/x.xml", "X", "cs.CV")
    rows = [("a", datetime(2026, 11, 20, 0, 0, 1, tzinfo=UTC), ["cs.CV", "cs.LG"], "new"),
            ("b", datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC), ["cs.CV"], "new"),
            ("c", datetime(2026, 11, 19, 8, tzinfo=UTC), ["数学.PR"], "cross"),
            ("d", datetime(2026, 11, 19, 9, tzinfo=UTC), [], "new"),
            ("e", datetime(2026, 11, 19, 10, tzinfo=UTC), ["cs.CV"], "replace"),  # an update
            ("f", datetime(2026, 11, 20, 13, tzinfo=UTC), ["cs.CV"], "new"),  # after now
            ("g", datetime(2026, 9, 1, 12, tzinfo=UTC), ["cs.CV"], "new")]  # before the window
    with Session(world.app.engine) as session:
        source = session.exec(select(Source)).one()
        for key, when, categories, kind in rows:
            session.add(Entry(key=key, source_id=source.id, title=key, first_seen=when,
                              categories=categories, announce_type=kind))
        session.commit()
    assert [(d.day, d.counts) for d in world.app.archive.days()] == [
        (date(2026, 11, 20), {"cs.CV": 1}),
        (date(2026, 11, 19), {"": 1, "cs.CV": 1, "数学.PR": 1})]
