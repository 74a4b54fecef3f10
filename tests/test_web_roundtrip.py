"""Acceptance: a digest's links work against the real web server, as a mail provider uses them.

The digest travels through a real SMTP server (aiosmtpd on 127.0.0.1); its links point
at uvicorn serving the app over https on 127.0.0.1 (base_url is that server).
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import httpx
import pytest
import webserver
from sqlmodel import Session, select
from world import DEMO, World, arxiv_items, at, parse, parts, with_items

from digest_mailer import db
from digest_mailer.db.models import Subscriber, Vote
from digest_mailer.faces.web import create_app

live_server = webserver.live_server
pytestmark = pytest.mark.network

READERS = ("leaver@example.org", "stayer@example.org", "other@example.org")
TIMEOUT = 10.0


def _world(tmp_path, feed_server, smtp, base_url: str) -> World:
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), base_url=base_url)
    # cs.CV in two halves: day 1 carries the first half, day 2 everything.
    shell, items = arxiv_items((DEMO / "feeds" / "arxiv_cs.CV.xml").read_bytes())
    half = len(items) // 2
    feed_server.add_bytes("/cv.xml", with_items(shell, items[:half]))
    world.add_source("/cv.xml", "arXiv (cs.CV)", "cs.CV")
    world.cv_days = {1: with_items(shell, items[:half]), 2: with_items(shell, items)}
    for address in READERS:
        world.subscribe(address, ["cs.CV"])
    return world


def _messages(smtp) -> dict[str, list]:
    got: dict[str, list] = {}
    for received in smtp.messages:
        for rcpt in received.rcpt_tos:
            got.setdefault(rcpt, []).append(parse(received.content))
    return got


def _snapshot(world: World) -> tuple[list, list]:
    with Session(world.app.engine) as session:
        subs = [(s.email, s.status, s.status_reason, s.status_changed_at)
                for s in db.subscribers.every(session)]
        votes = [(v.subscriber_id, v.entry_key, v.vote, v.created_at)
                 for v in session.exec(select(Vote))]
    return subs, votes


def test_one_click_unsubscribe_as_gmail_does_then_the_next_run_leaves_the_reader_out(
        tmp_path, feed_server, smtp_server, tls_files, live_server):
    smtp = smtp_server()
    server = live_server(tls=tls_files)
    world = _world(tmp_path, feed_server, smtp, server.base_url)
    server.start(create_app(world.app))

    world.app.ingest.refresh()
    assert world.app.send.send().counts["sent"] == len(READERS)
    (message,) = _messages(smtp)["leaver@example.org"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = re.search(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    assert https and https.group(1).startswith(server.base_url + "/u/")

    # What Gmail sends: a bare POST of the RFC 8058 body, no cookies, no redirects followed.
    with httpx.Client(verify=tls_files.client_context(), timeout=TIMEOUT,
                      follow_redirects=False) as gmail:
        response = gmail.post(https.group(1), content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert "location" not in response.headers and "set-cookie" not in response.headers
    with Session(world.app.engine) as session:
        leaver = db.subscribers.by_email(session, "leaver@example.org")
        assert leaver is not None and (leaver.status, leaver.status_reason) == (
            "unsubscribed", "one-click")

    # The next morning, with new papers: everyone but the leaver gets a digest.
    world.now = at(2)
    feed_server.add_bytes("/cv.xml", world.cv_days[2])
    world.app.ingest.refresh(force=True)
    report = world.app.send.send()
    assert report.counts["sent"] == len(READERS) - 1, report
    got = _messages(smtp)
    assert len(got["leaver@example.org"]) == 1  # day 1 only
    assert len(got["stayer@example.org"]) == 2 and len(got["other@example.org"]) == 2
    with Session(world.app.engine) as session:
        assert db.deliveries.of_day(session, leaver.id, date(2026, 11, 2)) is None


def test_fetching_every_link_of_a_digest_changes_nothing(tmp_path, feed_server, smtp_server,
                                                         tls_files, live_server):
    """Mail scanners GET every link of a message: no link may act on a GET."""
    smtp = smtp_server()
    server = live_server(tls=tls_files)
    world = _world(tmp_path, feed_server, smtp, server.base_url)
    server.start(create_app(world.app))
    world.app.ingest.refresh()
    world.app.send.send()
    (message,) = _messages(smtp)["leaver@example.org"]
    _, html = parts(message)
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]
    unsubscribe = re.search(r"<(https://[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    ours = [h for h in hrefs if h.startswith(server.base_url + "/")] + [unsubscribe]
    papers = [h for h in hrefs if "arxiv.org/abs/" in h]
    # unsubscribe, preferences, view, and "more"/"less" on every paper
    assert len(ours) >= 4 + 2 * len(papers) and papers
    assert {re.match(r".*/([upfv])/", h).group(1) for h in ours} == {"u", "p", "f", "v"}

    before = _snapshot(world)
    with httpx.Client(verify=tls_files.client_context(), timeout=TIMEOUT,
                      follow_redirects=True) as scanner:
        for url in ours:
            response = scanner.get(url)
            assert response.status_code == 200, url
            assert "text/html" in response.headers["content-type"]
    assert _snapshot(world) == before
    with Session(world.app.engine) as session:
        statuses = {s.status for s in session.exec(select(Subscriber))}
    assert statuses == {"active"}
