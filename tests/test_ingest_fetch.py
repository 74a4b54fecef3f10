"""Fetching through a real loopback HTTP server (tests/feedserver.py): no mocks."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import MAX_SLEEP, FeedServer

from digest_mailer.domain.digest import FetchOutcome
from digest_mailer.ingest import FetchRequest, fetch_all, fetch_sources, parse_feed

pytestmark = pytest.mark.network

UA = "digest-mailer-tests/0.1 (+https://example.org/digest-mailer)"
TIMEOUT = 1.0
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>cs.AI updates on arXiv.org</title>
<item><title>A paper</title><link>https://arxiv.org/abs/2606.19373</link>
<description>arXiv:2606.19373v1 Announce Type: new
Abstract: Body.</description><guid isPermaLink="false">oai:arXiv.org:2606.19373v1</guid>
<category>cs.AI</category></item></channel></rss>"""
# Cut inside the first item, as a dropped connection leaves it: no usable entry.
TRUNCATED = FEED[: FEED.index(b"<item>") + len(b"<item><tit")]


def fetch(*requests: FetchRequest, max_bytes: int = 1_000_000) -> list[FetchOutcome]:
    return fetch_sources(list(requests), timeout=TIMEOUT, max_bytes=max_bytes, user_agent=UA,
                         concurrency=8)


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    path = tmp_path / "cs.AI.xml"
    path.write_bytes(FEED)
    return path


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port that refuses connections: bound (so no one else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed"


def test_200_then_304_with_stored_validators(feed_server: FeedServer, feed_file: Path) -> None:
    url = feed_server.add_file("/rss/cs.AI", feed_file)
    (first,) = fetch(FetchRequest(url))
    assert (first.status, first.error, first.not_modified, first.body) == (200, None, False, FEED)
    assert first.etag and first.last_modified
    assert parse_feed(first.body or b"").entries[0].key == "2606.19373"

    (second,) = fetch(FetchRequest(url, etag=first.etag, last_modified=first.last_modified))
    assert (second.status, second.not_modified, second.body, second.error) == (304, True, None,
                                                                               None)
    assert second.etag == first.etag  # kept for the next run
    assert feed_server.hits["/rss/cs.AI"] == 2
    hits = feed_server.requests_to("/rss/cs.AI")
    assert [h.status for h in hits] == [200, 304]
    assert "if-none-match" not in hits[0].headers
    assert hits[1].headers["if-none-match"] == first.etag
    assert hits[1].headers["if-modified-since"] == first.last_modified


def test_if_modified_since_alone_gives_304(feed_server: FeedServer, feed_file: Path) -> None:
    url = feed_server.add_file("/rss/cs.AI", feed_file)
    (first,) = fetch(FetchRequest(url))
    (second,) = fetch(FetchRequest(url, last_modified=first.last_modified))
    assert second.not_modified and second.last_modified == first.last_modified


def test_user_agent_and_accept_sent(feed_server: FeedServer) -> None:
    url = feed_server.add_bytes("/feed", FEED)
    fetch(FetchRequest(url))
    (hit,) = feed_server.requests_to("/feed")
    assert hit.headers["user-agent"] == UA
    assert "application/rss+xml" in hit.headers["accept"]


def test_http_500_is_an_error(feed_server: FeedServer) -> None:
    (outcome,) = fetch(FetchRequest(feed_server.add_status("/broken", 500)))
    assert (outcome.status, outcome.error, outcome.body) == (500, "HTTP 500", None)


def test_timeout_does_not_delay_the_other_sources(feed_server: FeedServer) -> None:
    slow = feed_server.add_slow("/slow", seconds=MAX_SLEEP)
    fast = [feed_server.add_bytes(f"/fast{i}", FEED) for i in range(3)]
    started = time.monotonic()
    outcomes = fetch(FetchRequest(slow), *(FetchRequest(u) for u in fast))
    took = time.monotonic() - started
    assert outcomes[0].error and "timed out after 1 s" in outcomes[0].error
    assert TIMEOUT * 0.9 <= outcomes[0].elapsed < TIMEOUT + 1.0
    assert all(o.error is None and o.body == FEED for o in outcomes[1:])
    assert all(o.elapsed < TIMEOUT for o in outcomes[1:])
    assert took < TIMEOUT + 1.5  # the whole run waits for the deadline, not for the server


def test_trickling_server_hits_the_overall_deadline(feed_server: FeedServer) -> None:
    # A byte every 0.2 s never trips a read timeout; only the per-source deadline stops it.
    url = feed_server.add_trickle("/trickle", interval=0.2)
    started = time.monotonic()
    (outcome,) = fetch(FetchRequest(url))
    assert outcome.error == "timed out after 1 s (whole request)"
    assert time.monotonic() - started < TIMEOUT + 1.0


def test_malformed_body_fetches_but_does_not_parse(feed_server: FeedServer) -> None:
    (outcome,) = fetch(FetchRequest(feed_server.add_bytes("/truncated", TRUNCATED)))
    assert outcome.error is None and outcome.body == TRUNCATED
    parsed = parse_feed(outcome.body)
    assert parsed.error and parsed.entries == ()


@pytest.mark.parametrize("declare_length", [False, True])
def test_huge_body_aborted_at_the_cap(feed_server: FeedServer, declare_length: bool) -> None:
    url = feed_server.add_huge("/huge", 50_000_000, declare_length=declare_length)
    started = time.monotonic()
    (outcome,) = fetch(FetchRequest(url), max_bytes=1_000_000)
    assert outcome.error == "body larger than 1000000 bytes"
    assert outcome.body is None and outcome.status == 200
    assert time.monotonic() - started < 3.0  # stopped early, not after reading 50 MB
    assert feed_server.requests_to("/huge")[0].status == 200


def test_redirect_followed(feed_server: FeedServer) -> None:
    target = feed_server.add_bytes("/new", FEED)
    old = feed_server.add_redirect("/old", "/new", status=301)
    (outcome,) = fetch(FetchRequest(old))
    assert (outcome.status, outcome.body, outcome.url) == (200, FEED, old)
    assert outcome.extra["final_url"] == target and outcome.extra["redirects"] == "1"
    assert feed_server.hits["/old"] == feed_server.hits["/new"] == 1


def test_redirect_loop_is_an_error(feed_server: FeedServer) -> None:
    url = feed_server.add_redirect("/loop", "/loop")
    (outcome,) = fetch(FetchRequest(url))
    assert outcome.error == "too many redirects (more than 5)"
    assert feed_server.hits["/loop"] == 6


def test_connection_refused_is_an_error(refused_url: str) -> None:
    (outcome,) = fetch(FetchRequest(refused_url))
    assert outcome.error and outcome.error.startswith("connection failed")


def test_file_urls(feed_file: Path, tmp_path: Path) -> None:
    missing = (tmp_path / "missing.xml").as_uri()
    ok, gone, big = fetch(FetchRequest(feed_file.as_uri()), FetchRequest(missing),
                          FetchRequest(feed_file.as_uri()), max_bytes=len(FEED))
    assert ok.error is None and ok.body == FEED
    assert gone.error and "cannot read" in gone.error and gone.body is None
    assert big.error is None  # exactly at the cap is fine
    (over,) = fetch(FetchRequest(feed_file.as_uri()), max_bytes=len(FEED) - 1)
    assert over.error == f"body larger than {len(FEED) - 1} bytes"


def test_unsupported_scheme_is_an_error() -> None:
    (outcome,) = fetch(FetchRequest("ftp://example.org/feed.xml"))
    assert outcome.error and "unsupported URL scheme 'ftp'" in outcome.error


def test_one_run_every_kind_of_source(
    feed_server: FeedServer, feed_file: Path, refused_url: str
) -> None:
    """One fetch_all call: broken sources never stop the others; outcomes keep request order."""
    requests = [
        FetchRequest(feed_server.add_bytes("/ok", FEED)),
        FetchRequest(feed_server.add_status("/500", 500)),
        FetchRequest(feed_server.add_slow("/slow", seconds=MAX_SLEEP)),
        FetchRequest(feed_server.add_bytes("/truncated", TRUNCATED)),
        FetchRequest(feed_server.add_huge("/huge")),
        FetchRequest(feed_server.add_redirect("/moved", "/ok")),
        FetchRequest(refused_url),
        FetchRequest(feed_file.as_uri()),
        FetchRequest(feed_server.add_status("/404", 404)),
    ]
    started = time.monotonic()
    outcomes = asyncio.run(fetch_all(requests, timeout=TIMEOUT, max_bytes=1_000_000,
                                     user_agent=UA, concurrency=4))
    took = time.monotonic() - started
    assert [o.url for o in outcomes] == [r.url for r in requests]
    errors = [o.error for o in outcomes]
    assert errors[0] is None and outcomes[0].body == FEED
    assert errors[1] == "HTTP 500"
    assert errors[2] == "timed out after 1 s (whole request)"
    assert errors[3] is None and parse_feed(outcomes[3].body or b"").error
    assert errors[4] == "body larger than 1000000 bytes"
    assert errors[5] is None and outcomes[5].body == FEED
    assert errors[6] and errors[6].startswith("connection failed")
    assert errors[7] is None and outcomes[7].body == FEED
    assert errors[8] == "HTTP 404"
    assert took < TIMEOUT + 2.0
    assert {h.headers["user-agent"] for h in feed_server.log} == {UA}


def test_no_requests_no_work() -> None:
    assert fetch() == []


def test_server_stops_promptly_with_a_request_still_sleeping() -> None:
    server = FeedServer().start()
    url = server.add_slow("/slow", seconds=MAX_SLEEP)
    fetch(FetchRequest(url))  # gives up after 1 s; the handler still sleeps
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert server.hits["/slow"] == 1
