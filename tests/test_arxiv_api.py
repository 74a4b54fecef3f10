"""Id-only library seeds get their title and abstract from the arXiv API (issue 10), against a
real loopback HTTP server answering ``/api/query?id_list=…`` in the API's Atom, made from a
hand-written answer (tests/library/arxiv_api_answer.xml): batched, paced, asked once a day,
and every hostile answer refused with a recorded error, the seed left id-only.
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, delete, select
from world import World

from digest_mailer import db
from digest_mailer.db.models import ArxivLookup
from digest_mailer.domain.digest import ParsedEntry
from digest_mailer.ingest.arxiv_api import INTERVAL, ArxivApi, read_answer

FILES = Path(__file__).parent / "library"
ANSWER = (FILES / "arxiv_api_answer.xml").read_text(encoding="utf-8")
HEAD, TAIL = ANSWER.split("<entry>", 1)[0], "</feed>\n"
ENTRIES = {re.search(r"<id>http://arxiv.org/abs/(.+?)v\d+</id>", e).group(1): f"<entry>{e}"  # type: ignore[union-attr]
           for e in re.findall(r"<entry>(.*?</entry>)", ANSWER, re.DOTALL)}
ATOM = "application/atom+xml; charset=utf-8"
IDS = b"1706.03762\n2006.11239\nhep-th/9711200\narXiv:2401.01234v2\n"


def _error_entry(asked: str) -> str:
    return (f"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_{asked}</id>"
            f"<title>Error</title><summary>incorrect id format for {asked}</summary>"
            "<updated>2026-12-02T00:00:00-05:00</updated>"
            "<author><name>arXiv api core</name></author></entry>")


class FakeArxiv:
    """The API's behaviour for id_list: the entries it knows, an error entry for an id of the
    wrong shape, nothing for an id it does not know; a made-up paper for every 2501.* id."""

    def __init__(self, feeds) -> None:
        self.asked: list[tuple[float, list[str], str]] = []  # (arrival, ids, max_results)
        self.url = feeds.route("/api/query", self.answer)

    def answer(self, req) -> None:
        query = parse_qs(urlsplit(req.path).query)
        ids = query.get("id_list", [""])[0].split(",")
        self.asked.append((time.monotonic(), ids, query.get("max_results", ["10"])[0]))
        parts = []
        for asked in ids:
            if asked in ENTRIES:
                parts.append(ENTRIES[asked])
            elif asked.startswith("2501."):
                parts.append(f"<entry><id>http://arxiv.org/abs/{asked}v1</id><title>Paper "
                             f"{asked}</title><summary>About {asked}.</summary></entry>")
            elif not re.fullmatch(r"\d{4}\.\d{4,5}|[a-z-]+/\d{7}", asked):
                parts.append(_error_entry(asked))
        body = (HEAD + "".join(parts) + TAIL).encode()
        req.send_response(200)
        req.send_header("Content-Type", ATOM)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


@pytest.fixture
def arxiv(feed_server) -> FakeArxiv:
    return FakeArxiv(feed_server)


def _world(tmp_path, feed_server, url: str) -> World:
    world = World.build(tmp_path, feed_server, arxiv_api_url=url)
    world.subscribe("ada@example.org", ["cs.LG"])
    return world


def _seeds(world: World) -> dict[str, tuple[str, str]]:
    return {s.arxiv_id or "": (s.title, s.abstract[:40])
            for s in world.app.library.seeds("ada@example.org")}


def _lookups(world: World) -> dict[str, tuple[bool, str | None]]:
    with Session(world.app.engine) as session:
        return {r.arxiv_id: (r.found, r.error) for r in session.exec(select(ArxivLookup))}


def test_id_only_seeds_are_filled_from_stored_papers_then_from_the_api(tmp_path, feed_server,
                                                                          arxiv):
    world = _world(tmp_path, feed_server, arxiv.url)
    assert world.app.library.arxiv is not None and world.app.library.arxiv.interval == INTERVAL
    world.app.library.load("ada@example.org", IDS)
    assert all(title == "" for title, _ in _seeds(world).values())
    assert arxiv.asked == []  # loading never asks: the tick or --resolve does
    # A paper the feeds brought since: its seed is filled from it, never asked of the API.
    with Session(world.app.engine) as session:
        source = db.sources.add(session, "https://rss.arxiv.org/rss/cs.LG", "arXiv", "cs.LG")
        db.entries.store(session, source, [ParsedEntry(
            key="2006.11239", title="DDPM as stored", abstract="From the feed.",
            authors=("J. Ho",), link="https://arxiv.org/abs/2006.11239",
            categories=("cs.LG",))], world.now)
        session.commit()

    done = world.app.library.resolve_ids()
    assert (done.waiting, done.from_entries, done.asked, done.from_api) == (4, 1, 3, 2)
    assert [(ids, most) for _, ids, most in arxiv.asked] == [
        (["1706.03762", "2401.01234", "hep-th/9711200"], "3")]
    assert feed_server.requests_to("/api/query")[0].headers["user-agent"].startswith(
        "digest-mailer/")
    assert _seeds(world) == {
        "1706.03762": ("Attention Is All You Need", "The dominant sequence transduction model"),
        "2006.11239": ("DDPM as stored", "From the feed."),
        "hep-th/9711200": ("The Large N Limit of Superconformal field theories and "
                           "supergravity", "We show that the large $N$ limit of cert"),
        "2401.01234": ("", "")}
    assert _lookups(world) == {"1706.03762": (True, None), "hep-th/9711200": (True, None),
                               "2401.01234": (False, "not in the API's answer")}

    # Within a day nothing is asked again; a day later only the id still without a title.
    world.now += timedelta(hours=23)
    assert world.app.library.resolve_ids().asked == 0 and len(arxiv.asked) == 1
    world.now += timedelta(hours=2)
    assert world.app.library.resolve_ids().asked == 1
    assert arxiv.asked[-1][1] == ["2401.01234"]


def test_requests_carry_at_most_100_ids_and_are_paced(tmp_path, feed_server, arxiv):
    world = _world(tmp_path, feed_server, arxiv.url)
    assert world.app.library.arxiv is not None
    world.app.library.arxiv.interval = 0.5  # arXiv's 3 s, shortened for the test
    ids = [f"2501.{n:05d}" for n in range(1, 231)]
    world.app.library.load("ada@example.org", "\n".join(ids).encode())
    done = world.app.library.resolve_ids()
    assert (done.asked, done.from_api, done.errors) == (230, 230, ())
    assert [len(asked) for _, asked, _ in arxiv.asked] == [100, 100, 30]
    assert [most for _, _, most in arxiv.asked] == ["100", "100", "30"]
    arrivals = [when for when, _, _ in arxiv.asked]
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(arrivals))
    assert _seeds(world)["2501.00230"] == ("Paper 2501.00230", "About 2501.00230.")
    # A run asks at most its limit; the rest wait for the next run.
    world.app.library.load("ada@example.org", b"2501.99998\n2501.99999\n", append=True)
    assert world.app.library.resolve_ids(limit=1).asked == 1


def test_without_an_endpoint_nothing_is_asked(tmp_path, feed_server, arxiv):
    world = World.build(tmp_path, feed_server)  # DIGEST_ARXIV_API_URL empty: the default
    world.subscribe("ada@example.org", ["cs.LG"])
    world.app.library.load("ada@example.org", IDS)
    assert world.app.library.arxiv is None
    done = world.app.library.resolve_ids()
    assert (done.waiting, done.asked) == (4, 0) and arxiv.asked == []
    assert _lookups(world) == {}


def _atom(*entries: str) -> bytes:
    return (HEAD + "".join(entries) + TAIL).encode()


HOSTILE = {
    "html": (b"<!DOCTYPE html><html><body><h1>Rate exceeded</h1></body></html>",
             "text/html", "an HTML page, not the API's Atom"),
    "garbage": (bytes(range(256)) * 40, "application/atom+xml", "not the API's Atom"),
    "rss": (b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
            b"<item><title>Attention</title><guid>1706.03762</guid></item></channel></rss>",
            "application/rss+xml", "not the API's Atom"),
    "wrong_ids": (_atom(ENTRIES["2006.11239"]), ATOM, "not in the API's answer"),
    "error_entry": (_atom(_error_entry("1706.03762")), ATOM, "not in the API's answer"),
    "no_title": (_atom(ENTRIES["1706.03762"].replace("Attention Is All You Need", " ")), ATOM,
                 "not in the API's answer"),
    "status": (b"busy", "text/plain", "HTTP 503"),
}


@pytest.mark.parametrize("kind", [*sorted(HOSTILE), "huge", "slow", "redirect", "refused"])
def test_a_hostile_answer_is_refused_recorded_and_the_seed_stays_id_only(tmp_path, feed_server,
                                                                          kind):
    if kind in HOSTILE:
        body, content_type, error = HOSTILE[kind]
        url = feed_server.add_bytes("/api", body, content_type=content_type,
                                    status=503 if kind == "status" else 200)
    elif kind == "huge":
        url, error = feed_server.add_huge("/api", 50_000_000), "an answer larger than"
    elif kind == "slow":
        url, error = feed_server.add_slow("/api", 4.0), "timed out after 2 s"
    elif kind == "redirect":
        url, error = feed_server.add_redirect("/api", "http://evil.example/"), "HTTP 302"
    else:
        url, error = "http://127.0.0.1:9/api", "ConnectError"
    world = _world(tmp_path, feed_server, url)
    world.app.library.load("ada@example.org", b"1706.03762\n")
    assert world.app.library.arxiv is not None
    world.app.library.arxiv.interval = 0  # the pause is tested above; here it only slows
    started = time.monotonic()
    done = world.app.library.resolve_ids()
    assert time.monotonic() - started < 4.0  # the 2 s deadline holds, whatever the server does
    assert (done.asked, done.from_api) == (1, 0)
    assert _seeds(world) == {"1706.03762": ("", "")}
    ((found, recorded),) = _lookups(world).values()
    assert not found and recorded and error in recorded, recorded
    if kind in ("wrong_ids", "error_entry", "no_title"):
        assert done.errors and all("1706.03762" in e or "not asked" in e for e in done.errors)
    with Session(world.app.engine) as session:  # forgotten, it would be asked again at once
        session.exec(delete(ArxivLookup))  # type: ignore[call-overload]
        session.commit()
    assert world.app.library.resolve_ids().asked == 1


def test_read_answer_takes_old_and_new_ids_and_only_the_ids_asked():
    answer = read_answer(ANSWER.encode(), ["hep-th/9711200", "2006.11239"])
    assert sorted(answer.papers) == ["2006.11239", "hep-th/9711200"]
    assert answer.refused == ("an entry for 'http://arxiv.org/abs/1706.03762v7', which was "
                              "not asked",)
    marked = ANSWER.replace("Attention Is All You Need",
                            "Attention <script>alert(1)</script>Is &lt;b&gt;All&lt;/b&gt;")
    paper = read_answer(marked.encode(), ["1706.03762"]).papers["1706.03762"]
    assert paper.title == "Attention Is All"
    assert ArxivApi("http://x", timeout=1, user_agent="t").batch == 100


def test_the_api_client_waits_its_interval_between_requests(feed_server, arxiv):
    slept: list[float] = []
    clock = iter([100.0, 100.5, 101.0, 101.2])
    api = ArxivApi(arxiv.url, timeout=2, user_agent="t", interval=3.0, batch=1,
                   clock=lambda: next(clock), sleep=slept.append)
    answers = list(api.lookup(["1706.03762", "2006.11239"]))
    assert [sorted(a.papers) for _, a in answers] == [["1706.03762"], ["2006.11239"]]
    assert slept == [2.5]  # 3 s after the first request ended (100.0), at 100.5
