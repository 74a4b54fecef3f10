"""Faults, with real servers and processes: SMTP rate limit and 4xx retries, the LLM budget,
two schedulers and two consumers at once, and a consumer SIGKILLed in the middle of a batch.
"""

from __future__ import annotations

import email
import email.policy
import math
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import require
from llm_server import LLMServer
from smtpserver import LoopbackSmtp, StoreThenDropSmtp
from sqlmodel import Session, select
from test_worker import CLI, CONSUMER, TIMEOUT, clean_env, stop
from world import DEMO, World, parse

from digest_mailer import db
from digest_mailer.app import App
from digest_mailer.db.models import Delivery, DeliveryStatus
from digest_mailer.mail.transport import Pacer

CATEGORIES = ("cs.CV", "cs.LG", "cs.CL", "cs.AI", "math.PR", "quant-ph", "bioinformatics")


def rate_of(smtp: LoopbackSmtp) -> float:
    """Messages per second over the run, from the server's arrival times."""
    times = sorted(m.at for m in smtp.messages)
    return (len(times) - 1) / (times[-1] - times[0])


def world_with(tmp_path: Path, feeds, smtp: LoopbackSmtp | StoreThenDropSmtp, readers: int,
               **overrides) -> World:
    world = World.build(tmp_path, feeds, smtp_url=smtp.url(), **overrides)
    world.add_demo_sources()
    for n in range(readers):
        world.subscribe(f"r{n:02d}@example.org", [CATEGORIES[n % len(CATEGORIES)]])
    world.app.ingest.refresh()
    return world


# --- 1. SMTP rate limit -----------------------------------------------------------------

def test_pacer_spaces_sends_by_the_rate_on_a_fake_clock():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(5):
        pacer.wait()
        starts.append(now[0])
    assert starts == [100.0, 100.25, 100.5, 100.75, 101.0]
    now[0] += 10  # idle: no burst is saved up, the next send just goes
    assert pacer.wait() == 0 and pacer.wait() == pytest.approx(0.25)
    now[0] += 0.1  # a send that took 0.1 s: the next one waits 0.25 s from its end
    pacer.sent()
    assert pacer.wait() == pytest.approx(0.25) and now[0] == pytest.approx(111.6)
    assert Pacer(0, clock=lambda: now[0], sleep=sleep).wait() == 0  # unlimited


def test_the_send_rate_and_the_messages_per_connection_are_honoured(tmp_path, feed_server,
                                                                    smtp_server):
    """30 digests at DIGEST_SMTP_RATE=20, 10 per connection: ≤ 20/s measured at the server."""
    smtp = smtp_server()
    world = world_with(tmp_path, feed_server, smtp, 30, smtp_rate=20, smtp_batch_size=10)
    started = time.monotonic()
    report = world.app.send.send()
    elapsed = time.monotonic() - started
    assert report.counts["sent"] == 30, report
    assert len(smtp.messages) == 30
    measured = rate_of(smtp)
    print(f"measured {measured:.2f} messages/s at DIGEST_SMTP_RATE=20 ({elapsed:.2f}s run)")
    assert 15 <= measured <= 20
    assert smtp.connections == math.ceil(30 / 10)


def test_the_rate_is_shared_by_the_batches_of_one_process(tmp_path, feed_server, smtp_server):
    """Two batches at once in one process (a `--workers 2` consumer) share the rate."""
    smtp = smtp_server()
    world = world_with(tmp_path, feed_server, smtp, 30, smtp_rate=20, smtp_batch_size=100)
    ids = list(range(1, 31))
    reports = []
    threads = [threading.Thread(target=lambda part=part: reports.append(
        world.app.send.send(part))) for part in (ids[:15], ids[15:])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(r.counts["sent"] for r in reports) == 30, reports
    measured = rate_of(smtp)
    print(f"two batches at once: measured {measured:.2f} messages/s at DIGEST_SMTP_RATE=20")
    assert measured <= 20
    assert smtp.connections == 2


# --- 2. temporary failures retried inside the run ------------------------------------------

def test_a_deferred_recipient_is_retried_in_the_run_and_the_others_go_on(tmp_path, feed_server,
                                                                         smtp_server):
    smtp = smtp_server(defer=("r01@example.org",), defer_times=2)  # 451 twice, then 250
    world = world_with(tmp_path, feed_server, smtp, 4)
    report = world.app.send.send()
    assert report.counts["sent"] == 4 and report.counts["failed"] == 0, report
    assert report.counts["smtp_retries"] == 2 and smtp.deferred["r01@example.org"] == 3
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == [
        f"r{n:02d}@example.org" for n in range(4)]


def test_a_recipient_deferred_all_run_stays_pending_and_goes_next_run(tmp_path, feed_server,
                                                                      smtp_server):
    smtp = smtp_server(defer=("r01@example.org",))  # always 451
    world = world_with(tmp_path, feed_server, smtp, 4)
    started = time.monotonic()
    report = world.app.send.send()
    assert time.monotonic() - started < 10
    assert report.counts["sent"] == 3 and report.counts["will_retry"] == 1, report
    assert smtp.deferred["r01@example.org"] == 3  # tried, then twice more (0.5 s, 1 s)
    with Session(world.app.engine) as session:
        delivery = db.deliveries.of_day(session, 2, date(2026, 11, 1))
    assert delivery.status == DeliveryStatus.PENDING and "451" in delivery.last_error

    smtp.defer = ()  # the mailbox takes mail again
    again = world.app.send.send()
    assert again.counts["sent"] == 1 and again.counts["already_done"] == 3
    assert len(smtp.messages) == 4


# --- 2b. a message stored, then its answer lost: maybe delivered ---------------------------

def _copies(smtp: StoreThenDropSmtp) -> Counter[str]:
    return Counter(r for m in smtp.messages for r in m.rcpt_tos)


def _statuses(world: World) -> dict[int, str]:
    with Session(world.app.engine) as session:
        return {d.subscriber_id: d.status for d in session.exec(select(Delivery))}


@pytest.fixture
def dropping_smtp() -> Iterator[Callable[..., StoreThenDropSmtp]]:
    started: list[StoreThenDropSmtp] = []

    def start(**options: object) -> StoreThenDropSmtp:
        started.append(StoreThenDropSmtp(**options).start())  # type: ignore[arg-type]
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_a_message_stored_then_dropped_before_250_goes_out_at_most_twice(tmp_path, feed_server,
                                                                          dropping_smtp):
    """Over five runs each reader gets at most one extra copy, with the same Message-ID.

    Before: 3 tries × (send + reconnect once) = 6 copies in the first run alone.
    """
    smtp = dropping_smtp()  # every message: stored, then the connection closes
    world = world_with(tmp_path, feed_server, smtp, 3)
    first = world.app.send.send()
    assert _copies(smtp) == {f"r{n:02d}@example.org": 1 for n in range(3)}  # none in-run
    assert first.counts["maybe_delivered"] == 3 and first.counts["will_resend"] == 3, first
    assert first.counts["sent"] == 0 and first.counts["smtp_retries"] == 0
    assert set(_statuses(world).values()) == {DeliveryStatus.RESEND}
    reports = [world.app.send.send() for _ in range(4)]
    copies = _copies(smtp)
    print(f"copies per reader over 5 runs: {dict(copies)}")
    assert copies == {f"r{n:02d}@example.org": 2 for n in range(3)}, copies
    assert reports[0].counts["unknown"] == 3
    assert all(r.counts["already_done"] == 3 for r in reports[1:]), reports
    assert set(_statuses(world).values()) == {DeliveryStatus.UNKNOWN}
    ids = Counter((r, parse(m.content)["Message-ID"]) for m in smtp.messages for r in m.rcpt_tos)
    assert set(ids.values()) == {2}, ids  # the resend is the same message


def test_with_resend_off_a_maybe_delivered_digest_is_never_sent_again(tmp_path, feed_server,
                                                                      dropping_smtp):
    """The others go on over the same batch; the maybe-delivered one stays at one copy."""
    smtp = dropping_smtp(drop_for=("r01@example.org",))
    world = world_with(tmp_path, feed_server, smtp, 4, resend_unknown=False)
    first = world.app.send.send()
    assert first.counts["sent"] == 3 and first.counts["unknown"] == 1, first
    for _ in range(3):
        world.app.send.send()
    assert _copies(smtp) == {f"r{n:02d}@example.org": 1 for n in range(4)}
    assert _statuses(world)[2] == DeliveryStatus.UNKNOWN
    assert smtp.connections == 2  # the drop reconnected once, for the next reader


# --- 2c. the database locked by another process while a batch sends ------------------------

LOCKER = """\
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
db.execute("BEGIN IMMEDIATE")  # the write lock, as a long import or a backup would hold it
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_a_sqlite_write_lock_during_a_send_delays_the_marks_and_sends_nothing_twice(
        tmp_path, feed_server, smtp_server):
    """A second process holds SQLite's write lock 10x the busy timeout from the first 250 on.

    The accepted message's "sent" is retried until the lock goes; the batch goes on.
    Before: the UPDATE raised "database is locked", the run crashed, rows stayed `sending`.
    """
    smtp = smtp_server()
    world = world_with(tmp_path, feed_server, smtp, 6)
    url = world.app.settings.effective_database_url
    world.app.engine.dispose()
    world.app = App(world.app.settings, clock=world.app.clock,
                    ssl_context=world.app.ssl_context,
                    engine=db.engine.make_engine(url, busy_timeout=0.2))
    hold = 2.0
    lockers: list[subprocess.Popen[str]] = []

    def lock_once() -> None:
        if lockers:
            return
        lockers.append(subprocess.Popen(
            [sys.executable, "-c", LOCKER, url.removeprefix("sqlite:///"), str(hold)],
            stdout=subprocess.PIPE, text=True))
        assert lockers[0].stdout is not None and lockers[0].stdout.readline() == "locked\n"

    smtp.on_accept = lock_once
    started = time.monotonic()
    try:
        report = world.app.send.send()
    finally:
        for locker in lockers:
            locker.wait(timeout=10)
    elapsed = time.monotonic() - started
    assert lockers and lockers[0].returncode == 0
    assert report.counts["sent"] == 6 and report.counts["failed"] == 0, report
    assert received_by(smtp) == {f"r{n:02d}@example.org": 1 for n in range(6)}
    assert set(_statuses(world).values()) == {DeliveryStatus.SENT}
    assert hold <= elapsed < hold + 8, elapsed
    print(f"lock held {hold}s at busy timeout 0.2s: 6 sent once each in {elapsed:.1f}s")


# --- 2d. an address that needs SMTPUTF8, and a server without it -------------------------

def test_a_non_ascii_local_part_fails_for_good_when_the_server_lacks_smtputf8(
        tmp_path, feed_server, smtp_server):
    """Marked `failed` once, with the reason; not retried on the next runs. Before: `pending`
    with a ValueError every run until the attempts ran out."""
    smtp = smtp_server()  # aiosmtpd without enable_SMTPUTF8: no SMTPUTF8 in its EHLO
    world = world_with(tmp_path, feed_server, smtp, 2)
    world.subscribe("üser@example.org", ["cs.CV"])
    first = world.app.send.send()
    assert first.counts["sent"] == 2 and first.counts["failed_permanent"] == 1, first
    assert first.counts["will_retry"] == 0
    with Session(world.app.engine) as session:
        row = db.deliveries.of_day(session, 3, date(2026, 11, 1))
    assert row is not None and row.status == DeliveryStatus.FAILED
    assert "SMTPUTF8" in (row.last_error or "") and row.attempts == 1
    again = world.app.send.send()
    assert again.counts["already_done"] == 3 and again.counts["failed"] == 0, again
    assert sorted(received_by(smtp)) == ["r00@example.org", "r01@example.org"]


def test_a_non_ascii_local_part_is_sent_when_the_server_takes_smtputf8(
        tmp_path, feed_server, smtp_server):
    """RFC 6531/6532: envelope and To in UTF-8, MAIL FROM with SMTPUTF8; the ASCII readers
    of the same batch get the same 7-bit mail as before. Before: marked `failed`, a
    ValueError from the message builder, though the server announced SMTPUTF8."""
    smtp = smtp_server(smtputf8=True)
    world = world_with(tmp_path, feed_server, smtp, 2)
    world.subscribe("üser@example.org", ["cs.CV"], name="Jürgen Müller")
    report = world.app.send.send()
    assert report.counts["sent"] == 3 and report.counts["failed"] == 0, report
    assert received_by(smtp) == {"r00@example.org": 1, "r01@example.org": 1,
                                 "üser@example.org": 1}
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp.messages}
    utf8 = by_rcpt["üser@example.org"]
    assert utf8.smtp_utf8  # MAIL FROM carried the SMTPUTF8 parameter
    # RFC 6532 headers are UTF-8: the bytes parser would read them as ASCII escapes.
    to = email.message_from_string(utf8.content.decode("utf-8"), policy=email.policy.default)["To"]
    assert [(a.display_name, a.addr_spec) for a in to.addresses] == [
        ("Jürgen Müller", "üser@example.org")]
    assert "üser@example.org".encode() in utf8.content  # raw UTF-8, not an encoded word
    for reader in ("r00@example.org", "r01@example.org"):
        ascii_mail = by_rcpt[reader]
        assert not ascii_mail.smtp_utf8 and ascii_mail.content.isascii()
        assert parse(ascii_mail.content)["To"].addresses[0].addr_spec == reader
    with Session(world.app.engine) as session:
        row = db.deliveries.of_day(session, 3, date(2026, 11, 1))
    assert row is not None and row.status == DeliveryStatus.SENT
    # The preview (and "view in browser") builds the same message and sends nothing.
    assert world.app.composer.preview("üser@example.org").subject == row.subject


# --- 3. the LLM budget of a run ------------------------------------------------------------
# These readers' digests mostly share no theme, so the budget is tested with one call per
# digest (DIGEST_LLM_BRIEFING=digest): the same RunBudget bounds a theme's calls
# (tests/test_themed.py).
PER_DIGEST = {"llm_briefing": "digest"}

def _kinds(world: World) -> Counter[str]:
    with Session(world.app.engine) as session:
        rows = session.exec(select(Delivery)).all()
    return Counter(d.briefing_kind for d in rows)


def test_briefings_not_done_within_the_time_budget_are_extractive(tmp_path, feed_server,
                                                                  smtp_server):
    llm = LLMServer(mode="timeout", delay=2.5).start()  # answers well, but after 2.5 s
    try:
        smtp = smtp_server()
        world = world_with(tmp_path, feed_server, smtp, 7, openai_base_url=llm.base_url,
                           openai_api_key="sk-test", llm_timeout=5, llm_retries=0,
                           llm_budget_seconds=1, llm_concurrency=4, **PER_DIGEST)
        started = time.monotonic()
        report = world.app.send.send()
        elapsed = time.monotonic() - started
        assert report.counts["sent"] == 7, report
        # The budget, plus the day's themes (found before it starts), rendering and sending 7.
        assert elapsed < 1 + 2.5, elapsed
        assert report.counts["llm_budget_exhausted"] == 7
        assert _kinds(world) == {"extractive": 7}
        assert 1 <= llm.count <= 4  # the requests in flight at the deadline, no more
    finally:
        llm.stop()


def test_the_call_budget_lets_exactly_that_many_calls_reach_the_endpoint(tmp_path, feed_server,
                                                                         smtp_server,
                                                                         llm_server):
    smtp = smtp_server()
    world = world_with(tmp_path, feed_server, smtp, 7, openai_base_url=llm_server.base_url,
                       openai_api_key="sk-test", llm_max_calls=2, **PER_DIGEST)
    report = world.app.send.send()
    assert report.counts["sent"] == 7, report
    assert llm_server.count == 2 and report.counts["llm_calls"] == 2
    assert report.counts["llm_budget_exhausted"] == 5
    assert _kinds(world) == {"llm": 2, "extractive": 5}


def test_the_token_budget_stops_calls_before_they_are_made(tmp_path, feed_server, smtp_server,
                                                           llm_server):
    smtp = smtp_server()
    world = world_with(tmp_path, feed_server, smtp, 3, openai_base_url=llm_server.base_url,
                       openai_api_key="sk-test", llm_max_tokens=10,  # less than any prompt
                       **PER_DIGEST)
    report = world.app.send.send()
    assert report.counts["sent"] == 3 and llm_server.count == 0
    assert report.counts["llm_budget_exhausted"] == 3


def test_a_hung_llm_endpoint_lets_the_send_process_exit_within_the_llm_timeout(
        tmp_path, smtp_server):
    """`digest-mailer send` against an endpoint that never answers in time: the digests go
    out at the budget (1 s), and the process exits within DIGEST_LLM_TIMEOUT (3 s) after.

    Before: the briefing threads kept the interpreter alive through every retry of the
    hung call (3 tries × 3 s plus back-off; 95 s at the defaults).
    """
    llm = LLMServer(mode="timeout", delay=5).start()  # later than the client's timeout
    smtp = smtp_server()
    try:
        fleet = Fleet(tmp_path, smtp, f"sqlite:///{tmp_path / 'digest.db'}", "",
                      OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="sk-test",
                      DIGEST_LLM_TIMEOUT="3", DIGEST_LLM_RETRIES="2",
                      DIGEST_LLM_BUDGET_SECONDS="1", PYTHONUNBUFFERED="1",
                      DIGEST_LLM_BRIEFING="digest")
        fleet.set_up(4)
        started = time.monotonic()
        send = subprocess.Popen([*CLI, "send"], cwd=tmp_path, env=fleet.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert send.stdout is not None
        output, reported = [], None
        for line in send.stdout:  # the report is printed once the digests are sent
            output.append(line)
            if line.startswith("send: "):
                reported = time.monotonic()
        send.wait(timeout=TIMEOUT)
        exited = time.monotonic()
    finally:
        llm.stop()
    assert send.returncode == 0 and reported is not None, output
    assert len(received_by(smtp)) == 4 and "llm_budget_exhausted 4" in "".join(output), output
    print(f"report after {reported - started:.1f}s, exit {exited - reported:.1f}s later; "
          f"{llm.count} requests")
    assert exited - reported < 3 + 2, (exited - reported, output)  # + interpreter exit
    assert llm.count <= 4  # one try per briefing in flight: no retry after the budget


# --- 4. and 5. real consumers ---------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_url() -> Iterator[str]:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
    except Exception as err:
        require(False, f"Redis at {REDIS_URL} is not reachable: {err}")
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


class Fleet:
    """Consumers, enqueuers and the CLI as subprocesses sharing one database and queue."""

    def __init__(self, cwd: Path, smtp: LoopbackSmtp, database_url: str, redis_url: str,
                 **env: str) -> None:
        self.cwd, self.smtp, self.database_url = cwd, smtp, database_url
        self.env = clean_env(DIGEST_VAR_DIR=str(cwd / "var"), DIGEST_SMTP_URL=smtp.url(),
                             DIGEST_DATABASE_URL=database_url, DIGEST_REDIS_URL=redis_url,
                             DIGEST_AUTO_MIGRATE="true", DIGEST_SMTP_TIMEOUT="10",
                             DIGEST_SCHEDULE_MINUTES="0", **env)
        self.consumers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def set_up(self, readers: int) -> None:
        for category in ("cs.CV", "cs.LG"):
            url = (DEMO / "feeds" / f"arxiv_{category}.xml").resolve().as_uri()
            self.cli("feeds", "add", url, "--label", f"arXiv ({category})",
                     "--category", category)
        people = self.cwd / "people.csv"
        people.write_text("email,name,categories,timezone,send_hour,language\n" + "".join(
            f"r{n:02d}@example.org,Reader,{('cs.CV', 'cs.LG')[n % 2]},UTC,0,en\n"
            for n in range(readers)), encoding="utf-8")
        assert f"{readers} added" in self.cli("subscribers", "import", str(people))
        self.cli("feeds", "fetch")

    def start_consumer(self, *extra: str) -> subprocess.Popen[bytes]:
        log_path = self.cwd / f"consumer-{len(self.consumers) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(CONSUMER), "digest_mailer.faces.tasks.huey", "--flush-locks", "-w", "2",
                 "-k", "thread", *extra], cwd=self.cwd, env=self.env, stdout=log,
                stderr=subprocess.STDOUT)
        self.consumers.append((process, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for _, path in self.consumers)

    def wait_started(self) -> None:
        until = time.monotonic() + 20
        while self.logs().count("Huey consumer started") < len(self.consumers):
            assert time.monotonic() < until, self.logs()
            time.sleep(0.1)

    def enqueue_ticks(self, schedulers: int) -> None:
        """``schedulers`` processes call tick() at the same moment (each enqueues one)."""
        go = time.time() + (1.5 if schedulers > 1 else 0)  # past every start-up: all at once
        code = ("import time\nfrom digest_mailer.faces.tasks import tick\n"
                f"time.sleep(max(0, {go} - time.time()))\ntick()\n")
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=self.cwd, env=self.env)
                 for _ in range(schedulers)]
        for proc in procs:
            assert proc.wait(timeout=TIMEOUT) == 0

    def wait_until(self, condition, limit: float) -> None:
        until = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < until, self.logs()
            time.sleep(0.05)

    def drained(self) -> bool:
        """Every task taken from the queue has finished, and none is left."""
        text = "\n".join(path.read_text(errors="replace") for process, path in self.consumers
                         if process.poll() is None)  # a killed consumer never finishes
        done = text.count(" executed in ") + text.count(" not run, ")
        return done and done == text.count("Executing ") and "Traceback" not in text

    def stop_all(self) -> None:
        for process, _ in self.consumers:
            stop(process)

    def deliveries(self) -> list[Delivery]:
        engine = db.engine.make_engine(self.database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(Delivery)).all())
        finally:
            engine.dispose()


def received_by(smtp: LoopbackSmtp) -> Counter[str]:
    return Counter(r for m in smtp.messages for r in m.rcpt_tos)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_schedulers_and_two_consumers_send_one_digest_each(tmp_path, smtp_server,
                                                                database_url, redis_url):
    smtp = smtp_server()
    fleet = Fleet(tmp_path, smtp, database_url, redis_url, DIGEST_SEND_BATCH_SIZE="10")
    fleet.set_up(40)
    try:
        fleet.start_consumer()
        fleet.start_consumer()  # two consumers on one queue, as on two hosts
        fleet.wait_started()
        fleet.enqueue_ticks(2)
        # Each consumer process imports scikit-learn and SciPy on its first batch (the
        # briefing's themes): a second or two more than before, and more under CI load.
        fleet.wait_until(lambda: len(smtp.messages) >= 40, limit=60)
        fleet.wait_until(fleet.drained, limit=15)
        time.sleep(0.5)  # anything late would arrive now
    finally:
        fleet.stop_all()
    logs = fleet.logs()
    assert "Traceback" not in logs, logs
    got = received_by(smtp)
    assert len(got) == 40 and set(got.values()) == {1}, got
    rows = fleet.deliveries()
    assert len(rows) == 40 and {d.status for d in rows} == {DeliveryStatus.SENT}
    assert len({d.subscriber_id for d in rows}) == 40
    assert logs.count("digest_mailer.faces.tasks.tick") >= 2  # both ticks were taken


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_consumer_killed_mid_batch_leaves_at_most_one_duplicate(tmp_path, smtp_server,
                                                                 database_url, redis_url):
    """SIGKILL after ~10 of 40 digests arrived, at 0.1 s a message; restart, tick again.

    Everyone gets their digest. At most one reader gets it twice: the message the server
    was accepting when the worker died (accepted, but its row never marked sent), which
    the restarted worker takes over once the claim is DIGEST_CLAIM_TIMEOUT_MINUTES old.
    """
    smtp = smtp_server(delay=0.1)
    fleet = Fleet(tmp_path, smtp, database_url, redis_url,
                  DIGEST_CLAIM_TIMEOUT_MINUTES="0.03")  # 1.8 s
    fleet.set_up(40)
    try:
        first = fleet.start_consumer("-n")
        fleet.wait_started()
        fleet.enqueue_ticks(1)
        fleet.wait_until(lambda: len(smtp.messages) >= 10, limit=30)
        first.kill()
        first.wait(timeout=10)
        killed_at = len(smtp.messages)
        time.sleep(0.3)  # the message in flight, if any, is accepted now
        in_flight = len(smtp.messages) - killed_at
        assert in_flight <= 1
        before = fleet.deliveries()
        assert sum(d.status == DeliveryStatus.SENT for d in before) < 40
        time.sleep(1.6)  # with the 0.3 s above: the dead worker's claims are stale

        fleet.start_consumer("-n")
        fleet.wait_started()
        fleet.enqueue_ticks(1)
        fleet.wait_until(lambda: len(received_by(smtp)) >= 40, limit=30)
        fleet.wait_until(fleet.drained, limit=15)
    finally:
        fleet.stop_all()
    got = received_by(smtp)
    assert len(got) == 40 and min(got.values()) >= 1, got  # nobody skipped
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates <= 1, got
    print(f"killed after {killed_at} messages, {in_flight} in flight; {duplicates} duplicate")
    rows = fleet.deliveries()
    assert len(rows) == 40 and {d.status for d in rows} == {DeliveryStatus.SENT}
