"""A weekly digest speaks of the week everywhere it would say "today" in a daily one: the
request its briefing sends to the model, the email, and the full-list page, in en and zh.

Real parts: the demo's arXiv feeds on loopback HTTP, a loopback OpenAI-compatible endpoint
(tests/llm_server.py) through the openai client, a loopback SMTP server, SQLite, and the
web app through TestClient.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from feedserver import FeedServer
from llm_server import LLMServer
from sqlmodel import Session
from world import World, llm_reader_world, parse, parts

from digest_mailer.db.models import Subscriber

pytestmark = pytest.mark.network


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
