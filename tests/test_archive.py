"""The public archive: each day's announced papers by category, in en and zh, and an Atom
feed of the days; off by default (404). Real feeds ingested over loopback, real SQLite."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from world import World

from digest_mailer.db.models import Entry, Source
from digest_mailer.faces.web import create_app

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
