"""Weekly digests end to end (issue 12, acceptance 3): 14 simulated days of a daily arXiv
feed over loopback HTTP, real SQLite and PostgreSQL, a real SMTP server.

A weekly reader gets exactly two digests, on their weekday, the second one with the best
papers of its whole week (ingested on six different days), not only the last day's; a
daily reader in the same run gets what they get in a run without weekly readers; a second
tick, and a retry after a 451, send nothing twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from feedserver import FeedServer
from smtpserver import LoopbackSmtp
from sqlmodel import Session, select
from world import World, parse, parts

from digest_mailer.db.models import Delivery, DeliveryStatus, Entry, Subscriber

DAYS = range(1, 15)  # 1 to 14 November 2026; the 1st is a Sunday
WEDNESDAY, SUNDAY = 2, 6
# Weekly: 6 and 12. No exploration slots: they would add papers past the category cap.
CAPS = {"max_per_category": 2, "max_papers": 4, "weekly_cap_scale": 3, "explore_slots": 0}
# Papers with "diffusion" in the title (two keyword hits) and in the abstract only (one):
# the second weekly window (5 to 11 November) holds exactly six hits, its category cap.
TITLE_HITS = {2, 5, 7, 9, 11, 13}
ABSTRACT_HITS = {6, 8}

SHELL = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
 version="2.0"><channel><title>cs.CV updates on arXiv.org</title>
<link>http://rss.arxiv.org/rss/cs.CV</link><description>cs.CV</description>
{items}</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://arxiv.org/abs/{id}</link>
<description>arXiv:{id}v1 Announce Type: new
Abstract: {abstract}</description><guid isPermaLink="false">oai:arXiv.org:{id}v1</guid>
<category>cs.CV</category><arxiv:announce_type>new</arxiv:announce_type>
<dc:creator>Ada Moreau, Wei Zhang</dc:creator></item>
"""
TOPICS = ("stereo matching", "point cloud registration", "video segmentation",
          "scene graphs")


def paper_id(day: int, n: int) -> str:
    return f"2611.{day:02d}{n:03d}"


def day_feed(day: int) -> bytes:
    """The day's announcement: four new cs.CV papers, some of them about diffusion."""
    items = []
    for n, topic in enumerate(TOPICS):
        title = f"Robust {topic} for day {day} scenes"
        abstract = f"We study {topic} on benchmark data from day {day} and report results."
        if n == 0 and day in TITLE_HITS:
            title = f"Diffusion priors for {topic} on day {day}"
        if n == 0 and day in ABSTRACT_HITS:
            abstract = f"We apply diffusion to {topic} on day {day} and report results."
        items.append(ITEM.format(id=paper_id(day, n), title=title, abstract=abstract))
    return SHELL.format(items="".join(items)).encode()


def instant(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def deliveries(world: World, email: str) -> dict[date, Delivery]:
    with Session(world.app.engine) as session:
        (subscriber,) = session.exec(select(Subscriber).where(Subscriber.email == email))
        rows = session.exec(select(Delivery).where(Delivery.subscriber_id == subscriber.id))
        return {d.digest_date: d for d in rows}


def first_seen_days(world: World, keys: list[str]) -> set[int]:
    with Session(world.app.engine) as session:
        rows = session.exec(select(Entry).where(Entry.key.in_(keys)))  # type: ignore[attr-defined]
        return {e.first_seen.day for e in rows}


def readers(world: World) -> None:
    profile: dict[str, Any] = {"keywords": ["diffusion"]}
    world.subscribe("daily@example.org", ["cs.CV"], **profile)
    world.subscribe("weekly@example.org", ["cs.CV"], cadence="weekly", weekday=WEDNESDAY,
                    **profile)
    world.subscribe("zhou@example.org", ["cs.CV"], cadence="weekly", weekday=SUNDAY,
                    language="zh", **profile)


def test_a_weekly_reader_gets_one_digest_a_week_with_the_weeks_best_papers(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Any, database_url: str) -> None:
    # The weekly reader's first tick is deferred (451, three times: the transport tries a
    # message three times in a run); the next tick, the same day, sends it.
    smtp: LoopbackSmtp = smtp_server(defer=("weekly@example.org",), defer_times=3)
    world = World.build(tmp_path / "run", feed_server, smtp_url=smtp.url(),
                        database_url=database_url, **CAPS)
    # The same feed and daily reader without any weekly reader: what "unchanged" means.
    alone = World.build(tmp_path / "alone", feed_server, **CAPS)
    for w in (world, alone):
        w.add_source("/cv.xml", "arXiv (cs.CV)", "cs.CV")
    readers(world)
    alone.subscribe("daily@example.org", ["cs.CV"], keywords=["diffusion"])

    sent_by_day: dict[int, dict[str, int]] = {}
    for day in DAYS:
        feed_server.add_bytes("/cv.xml", day_feed(day))
        for w in (world, alone):
            w.now = instant(day, 6)
            w.app.ingest.refresh(force=True)
            assert w.app.send.send().counts["sent"] == 0  # before the send hour (07:00)
        world.now = alone.now = instant(day, 8)
        due = {s for s in world.app.send.due()}
        first = world.app.send.send()
        alone.app.send.send()
        world.now = instant(day, 9)  # the next tick: only the deferred digest is left
        second = world.app.send.send()
        world.now = instant(day, 10)
        third = world.app.send.send()
        assert third.counts["sent"] == 0, third  # nothing twice
        sent_by_day[day] = {"first": first.counts["sent"], "second": second.counts["sent"],
                            "due": len(due)}

    got: dict[str, list[Any]] = {}
    for message in smtp.messages:
        for rcpt in message.rcpt_tos:
            got.setdefault(rcpt, []).append(parse(message.content))

    # The daily reader: one digest a day, the same papers as in the run without weekly readers.
    daily = deliveries(world, "daily@example.org")
    reference = deliveries(alone, "daily@example.org")
    assert len(got["daily@example.org"]) == len(DAYS) == len(daily)
    assert {d: r.entry_keys for d, r in daily.items()} == {
        d: r.entry_keys for d, r in reference.items()}
    assert [len(r.entry_keys) for r in daily.values()] == [2] * len(DAYS)
    assert all(m["Subject"].startswith("Research digest, ") for m in got["daily@example.org"])
    assert "Today's 2 papers in cs.CV" in parts(got["daily@example.org"][-1])[0]

    # The weekly reader: exactly two digests, both on a Wednesday, no row on any other day.
    weekly = deliveries(world, "weekly@example.org")
    assert sorted(weekly) == [date(2026, 11, 4), date(2026, 11, 11)]
    assert all(d.status == DeliveryStatus.SENT for d in weekly.values())
    assert weekly[date(2026, 11, 4)].attempts == 2  # the 451, then the retry at 09:00
    assert len(got["weekly@example.org"]) == 2
    assert smtp.deferred["weekly@example.org"] == 3 + 2  # the RCPTs of both digests
    assert sent_by_day[4] == {"first": 1, "second": 1, "due": 2}  # daily, then weekly
    for message in got["weekly@example.org"]:
        assert message["Subject"].startswith("Weekly research digest, week to ")
        text, html = parts(message)
        assert "THIS WEEK'S BRIEFING" in text and "Weekly Research Digest" in html
        assert "This week's 6 papers in cs.CV" in text and "Today's" not in text
        assert "to the weekly research digest" in " ".join(text.split())  # the footer
    subjects = [m["Subject"] for m in got["weekly@example.org"]]
    assert "4 Nov 2026" in subjects[0] and "11 Nov 2026" in subjects[1]

    # The first one: the last seven days of a new reader (1 to 4 November), 6 papers (2 × 3)
    # with the one keyword hit of those days first.
    first = weekly[date(2026, 11, 4)].entry_keys
    assert len(first) == 6 and first[0] == paper_id(2, 0)
    assert first_seen_days(world, first) <= {1, 2, 3, 4}
    # The second one: everything since the first (5 to 11 November), ranked as a daily one
    # is, so its six places go to the week's six keyword hits, title hits first, from six
    # different days, most of them before the last one.
    second = weekly[date(2026, 11, 11)].entry_keys
    assert set(second[:4]) == {paper_id(d, 0) for d in (5, 7, 9, 11)}
    assert set(second[4:]) == {paper_id(d, 0) for d in (6, 8)}
    assert first_seen_days(world, second) == {5, 6, 7, 8, 9, 11}
    assert not set(first) & set(second)
    text, _ = parts(got["weekly@example.org"][1])
    assert "22 more in cs.CV this week" in text  # of the week's 28 papers

    # The Chinese weekly reader (Sundays: 1 and 8 November) reads a 周报.
    zhou = deliveries(world, "zhou@example.org")
    assert sorted(zhou) == [date(2026, 11, 1), date(2026, 11, 8)]
    assert [m["Subject"].startswith("科研周报（截至") for m in got["zhou@example.org"]] == [
        True, True]
    assert first_seen_days(world, zhou[date(2026, 11, 8)].entry_keys) <= set(range(2, 9))

    # Who was due: the daily reader every day; a weekly one only on their weekday.
    assert [sent_by_day[d]["due"] for d in DAYS] == [
        2 if d in (1, 4, 8, 11) else 1 for d in DAYS]


def test_send_date_never_sends_a_weekly_digest_on_another_day(
        tmp_path: Path, feed_server: FeedServer, database_url: str) -> None:
    """``send --date D`` ignores the send hour, never a weekly reader's weekday."""
    world = World.build(tmp_path, feed_server, database_url=database_url, **CAPS)
    world.add_source("/cv.xml", "arXiv (cs.CV)", "cs.CV")
    readers(world)
    feed_server.add_bytes("/cv.xml", day_feed(3))
    world.now = instant(3, 1)  # 01:00: before everyone's send hour
    world.app.ingest.refresh(force=True)
    assert world.app.send.send().counts["sent"] == 0
    tuesday = world.app.send.send(digest_date=date(2026, 11, 3))
    assert tuesday.counts["sent"] == 1 and tuesday.counts["not_due"] == 2  # the daily one
    wednesday = world.app.send.send(digest_date=date(2026, 11, 4))
    # The daily reader has nothing new since Tuesday's digest; the weekly one, a week.
    assert (wednesday.counts["sent"], wednesday.counts["skipped_empty"],
            wednesday.counts["not_due"]) == (1, 1, 1)
    again = world.app.send.send(digest_date=date(2026, 11, 4))
    assert again.counts["sent"] == 0 and again.counts["already_done"] == 2
    assert sorted(deliveries(world, "weekly@example.org")) == [date(2026, 11, 4)]
    assert sorted(deliveries(world, "zhou@example.org")) == []
