"""DIGEST_WELCOME_DIGEST=now: a confirmed reader's first digest is queued at once, under the
ledger date the normal path would give it, and the next digest day's still comes.

In process on SQLite and PostgreSQL with a fixed clock (both sides of the send hour), then
end to end: the web app in one process confirms, the real Huey consumer (SqliteHuey and
RedisHuey) sends the digest to the loopback SMTP server."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from test_signup import body as text_of
from test_signup import confirm_link, form, mails, signup, smtp  # noqa: F401
from test_worker import CLI, DEMO, TIMEOUT, worker  # noqa: F401
from world import World

from digest_mailer.domain.signup import next_digest_at, welcome_digest_date

# --- the pure rule -------------------------------------------------------------------------


def test_the_now_digest_takes_the_latest_digest_day_and_the_next_one_stays_free():
    confirmed = datetime(2026, 11, 4, 23, 30, tzinfo=UTC)  # Wed 23:30 UTC, Thu 07:30 Shanghai
    assert welcome_digest_date(confirmed, "UTC") == date(2026, 11, 4)
    assert welcome_digest_date(confirmed, "Asia/Shanghai") == date(2026, 11, 5)
    # A weekly reader on Mondays: the key of this week, the Monday before.
    assert welcome_digest_date(confirmed, "UTC", "weekly", 0) == date(2026, 11, 2)
    assert welcome_digest_date(confirmed, "UTC", "weekly", 2) == date(2026, 11, 4)
    assert next_digest_at(date(2026, 11, 4), "UTC", 7).isoformat() == "2026-11-05T07:00:00+00:00"
    assert next_digest_at(date(2026, 11, 2), "Asia/Shanghai", 6, "weekly", 0).isoformat() == (
        "2026-11-09T06:00:00+08:00")


# --- in process: the ledger on both databases ---------------------------------------------

@pytest.fixture
def world(tmp_path, feed_server, smtp, database_url) -> World:  # noqa: F811
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url,
                        welcome_digest="now")
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world


@pytest.mark.parametrize(("zone", "hour"), [
    ("Europe/Berlin", 7),  # 08:00 UTC = 09:00 Berlin: today's digest would be held
    ("UTC", 10),  # 08:00 UTC, send hour 10: today's digest would come at 10:00
], ids=["after-the-send-hour", "before-the-send-hour"])
def test_the_first_digest_now_keeps_one_digest_a_date(world, client, smtp, zone, hour):  # noqa: F811
    queued: list[tuple[int, date]] = []
    signup(client, form(client, world), timezone=zone, send_hour=str(hour))
    token = confirm_link(mails(smtp)[0]).removeprefix("/c/")
    done = world.app.signup.confirm(token, lambda sid, day: queued.append((sid, day)))
    assert done is not None and done.sent_now and done.welcomed
    ((reader, day),) = queued  # queued, not sent: the request mailed only the welcome
    assert day == date(2026, 11, 1) and len(smtp.messages) == 2
    welcome = " ".join(text_of(mails(smtp)[1]).split())
    assert "Your first digest is on its way now" in welcome
    assert f"the next comes on 2 November 2026 at about {hour:02d}:00 ({zone})" in welcome
    assert done.first_digest == next_digest_at(day, zone, hour)

    # What the worker's send_batch task does with it.
    first = world.app.send.send([reader], digest_date=day)
    assert first.counts["sent"] == 1, first.counts
    digest = mails(smtp)[2]
    assert digest["To"] == "Ada <ada@example.org>" and "List-Unsubscribe" in digest
    assert world.app.send.send([reader], digest_date=day).counts["already_done"] == 1

    # Later today, past the send hour: nothing more for this date, either side of it.
    world.now = datetime(2026, 11, 1, 21, tzinfo=UTC)
    assert world.app.send.due() == []
    world.app.send.send()
    assert len(smtp.messages) == 3
    # The next morning's digest is due, under its own ledger date.
    world.now = next_digest_at(day, zone, hour).astimezone(UTC) + timedelta(minutes=5)
    assert world.app.send.due() == [reader]
    nxt = world.app.send.send()
    assert nxt.counts["sent"] + nxt.counts["skipped_empty"] == 1, nxt.counts


def test_a_reader_whose_date_is_done_gets_the_morning_wording(world, client, smtp):  # noqa: F811
    """Left and came back the same day, after that day's digest: nothing is queued."""
    from sqlmodel import Session

    from digest_mailer.db.models import Delivery, DeliveryStatus

    queued: list[object] = []
    gone = world.subscribe("ada@example.org", ["cs.CV"], status="unsubscribed")
    with Session(world.app.engine) as session:
        session.add(Delivery(subscriber_id=gone.id or 0, digest_date=date(2026, 11, 1),
                             status=DeliveryStatus.SENT, cutoff=world.now))
        session.commit()
    signup(client, form(client, world))
    done = world.app.signup.confirm(confirm_link(mails(smtp)[0]).removeprefix("/c/"),
                                    lambda sid, day: queued.append(day))
    assert done is not None and done.kind == "done" and not done.sent_now and queued == []
    assert "Your first digest comes on 2 November 2026" in " ".join(
        text_of(mails(smtp)[1]).split())


def test_a_queue_that_refuses_falls_back_to_the_morning(world, client, smtp):  # noqa: F811
    def down(subscriber_id: int, day: date) -> None:
        raise ConnectionError("redis is down")

    signup(client, form(client, world))
    done = world.app.signup.confirm(confirm_link(mails(smtp)[0]).removeprefix("/c/"), down)
    assert done is not None and done.kind == "done" and not done.sent_now
    assert "Your first digest comes on 2 November 2026 at about 07:00" in " ".join(
        text_of(mails(smtp)[1]).split())


# --- end to end: the web app queues, the worker sends ---------------------------------------

WEB = """
import json, re, sys
from fastapi.testclient import TestClient
from digest_mailer import App, load_settings
from digest_mailer.faces.web import create_app
from digest_mailer.faces.tasks import huey
with TestClient(create_app(App(load_settings())), follow_redirects=False) as web:
    if sys.argv[1] == "signup":
        page = web.get("/subscribe").text
        stamp = re.search(r'name="stamp" value="([^"]+)"', page).group(1)
        answer = web.post("/subscribe", data={
            "email": "new@example.org", "name": "New", "language": "en",
            "categories": ["cs.CV"], "keywords": "", "timezone": "UTC", "send_hour": "0",
            "website": "", "stamp": stamp})
    else:
        answer = web.post(sys.argv[1])
print(json.dumps([answer.status_code, answer.text, huey.pending_count()]))
"""


def test_confirming_queues_the_first_digest_that_the_worker_sends(worker):  # noqa: F811
    worker.env.update(DIGEST_WELCOME_DIGEST="now", DIGEST_SIGNUP_MIN_SECONDS="0")
    url = (DEMO / "feeds" / "arxiv_cs.CV.xml").resolve().as_uri()
    worker.cli("feeds", "add", url, "--label", "arXiv (cs.CV)", "--category", "cs.CV")
    worker.cli("feeds", "fetch")

    def web(arg: str) -> tuple[int, str, int]:
        out = worker.python(WEB.replace("sys.argv[1]", repr(arg)))
        status, text, pending = json.loads(out.splitlines()[-1])
        return status, text, pending

    status, _, pending = web("signup")
    assert status == 200 and pending == 0 and len(worker.smtp.messages) == 1
    link = re.search(r"http://127\.0\.0\.1:8000(/c/\S+)", mails(worker.smtp)[0]
                     .get_body(("plain",)).get_content()).group(1)
    status, page, pending = web(link)
    assert status == 200 and "Your first digest is on its way now" in page, page
    assert pending == 1 and len(worker.smtp.messages) == 2  # the welcome; the digest is queued
    welcome = " ".join(text_of(mails(worker.smtp)[1]).split())
    assert "Your first digest is on its way now" in welcome

    log = worker.consume(lambda _: len(worker.smtp.messages) >= 3, limit=30)
    assert len(worker.smtp.messages) == 3, log
    digest = mails(worker.smtp)[2]
    assert digest["To"] == "New <new@example.org>", log
    assert "cs.CV" in text_of(digest) or "Computer Vision" in text_of(digest)
    assert "Traceback" not in log, log

    # The ledger: today's date is the now digest's; the normal path sends nothing more
    # today and tomorrow's digest is due.
    today = datetime.now(UTC).date()
    assert "already_done 1" in worker.cli("send", "--date", today.isoformat())
    code = ("from datetime import UTC, datetime, timedelta\n"
            "from digest_mailer import App, load_settings\n"
            "now = datetime.now(UTC)\n"
            "tomorrow = now.replace(hour=0, minute=30) + timedelta(days=1)\n"
            "print(App(load_settings()).send.due(now), "
            "App(load_settings(), clock=lambda: tomorrow).send.due(tomorrow))")
    assert worker.python(code) == "[] [1]"
    assert len(worker.smtp.messages) == 3

    # The tick's daily purge: it runs on the first tick of a day and logs what it deleted
    # (the confirmed request is kept two days, the counts their hour: nothing yet).
    def tick() -> str:
        done = subprocess.run([*CLI, "-v", "tick"], cwd=worker.cwd, env=worker.env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=True)
        return done.stderr

    assert "sign-up purge: 0 requests, 0 unconfirmed subscribers" in tick()
    assert "sign-up purge" not in tick()
