"""A weekly digest speaks of the week everywhere it would say "today" in a daily one: the
request its briefing sends to the model, the email, and the full-list page, in en and zh;
and its briefing's themes are the week's, while a daily reader's stay the day's.

Real parts: the demo's arXiv feeds on loopback HTTP, a loopback OpenAI-compatible endpoint
(tests/llm_server.py) through the openai client, a loopback SMTP server, SQLite, and the
web app through TestClient.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from feedserver import FeedServer
from llm_server import LLMServer
from sqlmodel import Session
from test_i18n import visible, zh_faults
from world import DEMO, World, arxiv_items, at, llm_reader_world, parse, parts, with_items

from digest_mailer import db
from digest_mailer.briefing.themes import ThemePaper, find_themes
from digest_mailer.db.models import Subscriber
from digest_mailer.faces.web import create_app

pytestmark = pytest.mark.network
BASE = "https://digest.example.org"
# What a weekly digest or its pages must not say: the day's words, in English and Chinese.
DAY_WORDS = re.compile(r"(?i)\btoday\b|today's|that day|this digest's day|今天|今日|当日|当天")
FULL_LIST = re.compile(r'href="(https://digest\.example\.org/v/[^"/]+/all)"')


def shown(html: str) -> str:
    """A page's or email's text with its entities read ("today&#39;s" is "today's")."""
    html = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", " ", html)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


def make_weekly(world: World, email: str) -> None:
    """Turn a reader weekly, their digest due on the world's weekday."""
    with Session(world.app.engine) as session:
        subscriber = world.app.subscribers.by_email(email)
        row = session.get(Subscriber, subscriber.id)
        assert row is not None
        row.cadence, row.weekday = "weekly", world.now.weekday()
        session.add(row)
        session.commit()


def system_prompts(server: LLMServer) -> list[str]:
    return [str(body["messages"][0]["content"]) for body in server.requests]


def test_a_weekly_digest_asks_the_model_about_the_weeks_papers(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Callable[..., object],
        llm_server: LLMServer) -> None:
    """One briefing per digest: a weekly reader's request says week, a daily one's today;
    the same papers under the two cadences are two briefings, not one cached for both."""
    smtp = smtp_server()
    world = llm_reader_world(tmp_path, feed_server, smtp.url(),  # type: ignore[attr-defined]
                             llm_server.base_url, "digest")
    world.subscribe("w@example.org", ["cs.AI"])
    make_weekly(world, "w@example.org")

    report = world.app.send.send()
    assert report.counts["sent"] == 2, report
    daily, weekly = sorted(system_prompts(llm_server), key=lambda p: "week" in p)
    assert "on what links today's papers" in daily and "week" not in daily
    assert "on what links this week's papers" in weekly and "a weekly email" in weekly
    assert "today" not in weekly.lower()
    got = {m.rcpt_tos[0]: parts(parse(m.content))[0]  # type: ignore[attr-defined]
           for m in smtp.messages}  # type: ignore[attr-defined]
    assert "AI model (" in got["w@example.org"] and "this week's abstracts" in got["w@example.org"]
    assert "today" not in got["w@example.org"].lower()
    assert "today's abstracts" in got["r@example.org"]


def test_a_weekly_readers_theme_paragraphs_never_say_today(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Callable[..., object],
        llm_server: LLMServer) -> None:
    """Per theme, the paragraph is shared by daily and weekly readers: its prompt names no
    day, and the weekly reader's email around it says week."""
    smtp = smtp_server()
    world = llm_reader_world(tmp_path, feed_server, smtp.url(),  # type: ignore[attr-defined]
                             llm_server.base_url, "theme")
    make_weekly(world, "r@example.org")
    assert world.app.send.send().counts["sent"] == 1
    prompts = system_prompts(llm_server)
    assert prompts and not any("today" in p.lower() for p in prompts)
    (received,) = smtp.messages  # type: ignore[attr-defined]
    text, _ = parts(parse(received.content))
    # The paragraph is the model's own words; the email's words around it are the week's.
    head, _, rest = text.partition("\n(Briefing written by an AI model")
    assert "THIS WEEK'S BRIEFING" in head and "from this week's abstracts" in rest
    assert "today" not in rest.lower()


def test_a_weekly_email_and_its_full_list_say_week_in_en_and_zh(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Callable[..., object]) -> None:
    """The demo day, capped so the email cuts: a weekly reader's email (both parts) and the
    full-list page it links to speak of the week in English and Chinese; a daily reader's
    page still says the day."""
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(),  # type: ignore[attr-defined]
                        max_per_category=2, max_papers=4, weekly_cap_scale=1)
    world.add_demo_sources()
    world.app.ingest.refresh()
    for email, language in (("en@example.org", "en"), ("zh@example.org", "zh"),
                            ("daily@example.org", "en")):
        world.subscribe(email, ["cs.AI", "cs.LG"], language=language)
    for email in ("en@example.org", "zh@example.org"):
        make_weekly(world, email)
    assert world.app.send.send().counts["sent"] == 3
    got = {m.rcpt_tos[0]: parts(parse(m.content))  # type: ignore[attr-defined]
           for m in smtp.messages}  # type: ignore[attr-defined]

    with TestClient(create_app(world.app), base_url=BASE) as client:
        def full_list(email: str) -> tuple[str, str, str]:
            text, html = got[email]
            (url, *_) = FULL_LIST.findall(html)
            page = client.get(url.removeprefix(BASE))
            assert page.status_code == 200
            return text, shown(html), shown(page.text)

        text, html, page = full_list("en@example.org")
        assert re.search(r"\d+ more in cs\.(AI|LG) this week", text)
        assert "Your full list for the week to 1 November 2026" in page
        assert "Every paper of this digest's week" in page
        for part in (text, html, page):
            assert not DAY_WORDS.search(part), DAY_WORDS.search(part)

        text, html, page = full_list("zh@example.org")
        assert "本周简报" in text and "截至2026年11月1日的一周完整列表" in page
        assert "这期周报所涵盖的一周内" in page
        for part in (text, html, page):
            assert not DAY_WORDS.search(part), DAY_WORDS.search(part)
        assert zh_faults(text) == [] and zh_faults(visible(client.get(
            FULL_LIST.findall(got["zh@example.org"][1])[0].removeprefix(BASE)).text)) == []

        text, _, page = full_list("daily@example.org")
        assert "Your full list for 1 November 2026" in page and "this digest's day" in page
        assert "today" in text.lower() and "this week" not in page and "the week" not in page
    with Session(world.app.engine) as session:  # the cut that made "N more … this week"
        rows = [db.deliveries.of_day(session, world.app.subscribers.by_email(e).id,
                                     world.now.date()) for e in got]
    assert all(r is not None and r.notes.get("more") for r in rows)


# The demo's 14 cs.AI papers over a week, two a day (1 to 7 November; the 7th a Saturday).
# Papers 7, 10 and 13 share a theme ("Vision-Language-Action models"): the week holds all
# three, the 7th's two-day window only 13 with 9, 11 and 12, which share none.
WEEK_OF_AI = ((7, 0), (1, 2), (10, 3), (4, 5), (6, 8), (9, 11), (12, 13))
SATURDAY = 5


def week_world(tmp: Path, feeds: FeedServer, smtp_url: str, llm_url: str,
               weekly: bool) -> World:
    world = World.build(tmp, feeds, smtp_url=smtp_url, openai_base_url=llm_url,
                        openai_api_key="sk-test", llm_briefing="theme", llm_retries=0)
    world.add_source("/ai.xml", "arXiv (cs.AI)", "cs.AI")
    world.subscribe("daily@example.org", ["cs.AI"])
    if weekly:
        world.subscribe("weekly@example.org", ["cs.AI"], cadence="weekly", weekday=SATURDAY)
    return world


def test_a_weekly_readers_themes_are_the_weeks_and_a_daily_readers_the_days(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Callable[..., object],
        llm_server: LLMServer) -> None:
    shell, items = arxiv_items((DEMO / "feeds" / "arxiv_cs.AI.xml").read_bytes())
    smtp = smtp_server()
    alone_llm = LLMServer().start()  # the daily reader alone: what "unchanged" means
    try:
        world = week_world(tmp_path / "both", feed_server, smtp.url(),  # type: ignore[attr-defined]
                           llm_server.base_url, weekly=True)
        alone = week_world(tmp_path / "alone", feed_server, "", alone_llm.base_url,
                           weekly=False)
        calls: list[tuple[int, int]] = []
        for day, picked in enumerate(WEEK_OF_AI, start=1):
            feed_server.add_bytes("/ai.xml", with_items(shell, [items[i] for i in picked]))
            for w in (world, alone):
                w.now = at(day, 6)
                w.app.ingest.refresh(force=True)
                w.now = at(day, 8)
            sent = world.app.send.send().counts["sent"]
            assert alone.app.send.send().counts["sent"] == 1
            assert sent == (2 if day == 7 else 1)
            calls.append((len(llm_server.requests), len(alone_llm.requests)))
    finally:
        alone_llm.stop()

    def digests(w: World, email: str) -> dict[int, tuple[list[str], str | None, str]]:
        with Session(w.app.engine) as session:
            reader = w.app.subscribers.by_email(email)
            found = {day: db.deliveries.of_day(session, reader.id, at(day).date())
                     for day in range(1, 8)}
            return {day: (d.entry_keys, d.briefing, d.briefing_kind)
                    for day, d in found.items() if d is not None}

    # The weekly digest: every paper of the week, briefed on the week's theme.
    with Session(world.app.engine) as session:
        entries = db.entries.seen_between(session, at(1, 0), world.now)
        weekly = db.deliveries.of_day(session, world.app.subscribers.by_email(
            "weekly@example.org").id, at(7).date())
    (theme,) = find_themes([ThemePaper(e.key, e.title, e.abstract) for e in entries])
    assert weekly is not None
    # The theme the weekly digest carries holds papers of days the two-day window misses.
    carried = [e for e in entries if e.key in theme.keys and e.key in weekly.entry_keys]
    assert len(carried) >= 2 and min(e.first_seen.day for e in carried) < 6, carried
    assert weekly.briefing_kind == "llm" and weekly.notes["headline"] == theme.name
    titles = {e.key: e.title[:60] for e in entries}
    asked = [str(r["messages"][1]["content"]) for r in llm_server.requests[calls[5][0]:]]
    assert any(all(titles[k] in a for k in theme.keys) for a in asked), asked
    # The daily reader: the same digests, briefings and calls as without a weekly reader.
    assert digests(world, "daily@example.org") == digests(alone, "daily@example.org")
    assert all(both == by_itself for both, by_itself in calls[:6]), calls
    assert calls[6][0] > calls[6][1]  # only the weekly theme's paragraph is new
