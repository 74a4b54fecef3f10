"""The daily purge of unconfirmed sign-ups and old request counts, on SQLite and PostgreSQL,
through the real sign-up (HTTP, the loopback SMTP server) and the App's clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select
from test_signup import confirm_link, form, mails, signup, smtp  # noqa: F401
from world import World

from digest_mailer import db
from digest_mailer.db.models import LibrarySeed, RateCount, Signup, StatusChange, Subscriber
from digest_mailer.services.signup_purge import Purged


@pytest.fixture
def world(tmp_path, feed_server, smtp, database_url) -> World:  # noqa: F811
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url)
    world.add_demo_sources()
    return world


def emails(world: World) -> dict[str, str]:
    with Session(world.app.engine) as session:
        return {s.email: s.status for s in session.exec(select(Subscriber))}


def count(world: World, table: type) -> int:
    with Session(world.app.engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_unconfirmed_sign_ups_go_seven_days_after_their_link_expired(world, client, smtp,  # noqa: F811
                                                                     caplog):
    start = world.now
    world.subscribe("gone@example.org", ["cs.LG"], status="unsubscribed")
    for email in ("old@example.org", "late@example.org", "gone@example.org",
                  "conf@example.org", "seeded@example.org"):
        signup(client, form(client, world), email=email)
    client.post(confirm_link(mails(smtp)[3]))  # conf@ confirms
    with Session(world.app.engine) as session:  # an admin gave seeded@ a paper already
        seeded = db.subscribers.by_email(session, "seeded@example.org")
        session.add(LibrarySeed(subscriber_id=seeded.id, position=0, title="A paper"))
        session.commit()
    world.now = start + timedelta(days=4)
    signup(client, form(client, world), email="late@example.org")  # a second link
    assert count(world, RateCount) > 0

    purge = world.app.signup_purge
    world.now += timedelta(hours=2)  # the counts' hour is over
    with caplog.at_level(logging.INFO, logger="digest_mailer.services.signup_purge"):
        first = purge.run()
    assert first is not None and first.subscribers == 0 and first.counts > 0
    assert count(world, RateCount) == 1  # only the day's gate
    assert "sign-up purge: " in caplog.text and f"{first.counts} request counts" in caplog.text
    assert purge.run() is None  # once a day

    world.now = start + timedelta(days=9, minutes=1)  # old@'s link expired 7 days ago
    second = purge.run()
    assert second is not None and second.subscribers == 1, second
    assert emails(world) == {"late@example.org": "pending", "gone@example.org": "unsubscribed",
                             "conf@example.org": "active", "seeded@example.org": "pending"}
    assert world.app.signup.history("gone@example.org") == []  # never had one: untouched
    assert world.app.signup.history("conf@example.org")[-1][1] == "active"
    with Session(world.app.engine) as session:  # old@'s history went with it
        ids = set(session.exec(select(Subscriber.id)))
        assert set(session.exec(select(StatusChange.subscriber_id))) <= ids
        assert sorted(s.email for s in session.exec(select(Signup))) == ["late@example.org"]

    world.now += timedelta(days=1, minutes=1)
    assert purge.run() == Purged(0, 0, 0)  # idempotent: nothing more
    world.now = start + timedelta(days=13, minutes=1)  # late@'s second link's turn
    third = purge.run()
    assert third is not None and third.subscribers == 1 and third.requests == 1
    assert "late@example.org" not in emails(world)
    assert count(world, Signup) == 0


def test_a_pending_reader_who_signs_up_again_is_kept_and_can_confirm(world, client, smtp):  # noqa: F811
    start = world.now
    signup(client, form(client, world))
    world.now = start + timedelta(days=8)
    signup(client, form(client, world))
    world.now = start + timedelta(days=9, minutes=1)
    assert world.app.signup_purge.run() is not None
    assert emails(world) == {"ada@example.org": "pending"}
    done = client.post(confirm_link(mails(smtp)[1]))
    assert done.status_code == 200 and emails(world) == {"ada@example.org": "active"}
