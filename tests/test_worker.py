"""The real Huey worker: `huey_consumer digest_mailer.faces.tasks.huey` on SqliteHuey and RedisHuey.

The CLI sets up sources and readers, a separate process enqueues a tick (calling a Huey task
function outside the consumer enqueues it), and the consumer, a subprocess, runs it: refresh
the feeds, queue the due digests, send them to a loopback SMTP server. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require
from smtpserver import LoopbackSmtp
from world import DEMO, REPO

BIN = Path(sys.executable).parent
SCRIPT = BIN / "digest-mailer"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "digest_mailer.faces.cli"]
CONSUMER = BIN / "huey_consumer"
TIMEOUT = 60
READERS = {"cv@example.org": "cs.CV", "lg@example.org": "cs.LG"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


class Worker:
    """The test's var/ folder, its environment, and helpers to drive the worker there."""

    def __init__(self, cwd: Path, smtp: LoopbackSmtp, redis_url: str = "") -> None:
        self.cwd = cwd
        self.smtp = smtp
        self.redis_url = redis_url
        self.env = clean_env(DIGEST_VAR_DIR=str(cwd / "var"), DIGEST_SMTP_URL=smtp.url(),
                             DIGEST_SMTP_TIMEOUT="10", DIGEST_FETCH_TIMEOUT="10",
                             # No periodic tasks: the tests enqueue the tick themselves and
                             # count what is queued (with "*/59" a run crossing minute 59 or 0
                             # found a periodic tick of its own in the queue and the lock).
                             DIGEST_SCHEDULE_MINUTES="0")
        if redis_url:
            self.env["DIGEST_REDIS_URL"] = redis_url
        self.runs = 0

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def python(self, code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert done.returncode == 0, (code, done.stdout, done.stderr)
        return done.stdout.strip()

    def enqueue_tick(self) -> str:
        """Call tick() outside a consumer: it is enqueued, not run. Returns the task id."""
        out = self.python(
            "from digest_mailer.faces.tasks import huey, tick\n"
            "result = tick()\n"
            "print(type(result).__name__, huey.immediate, huey.pending_count(), result.id)\n")
        kind, immediate, pending, task_id = out.split()
        assert (kind, immediate, pending) == ("Result", "False", "1"), out
        assert not self.smtp.messages or self.runs, "nothing may run before a consumer does"
        return task_id

    def pending(self) -> int:
        return int(self.python("from digest_mailer.faces.tasks import huey\n"
                               "print(huey.pending_count())"))

    def consume(self, until: object, *, limit: float, crash: bool = False,
                command: list[str] | None = None) -> str:
        """Run the consumer until ``until(log)`` is true or ``limit`` s pass; return its log.

        ``crash`` ends it with SIGKILL (an OOM kill, a lost machine) instead of SIGINT.
        """
        self.runs += 1
        log_path = self.cwd / f"consumer-{self.runs}.log"
        command = command or [str(CONSUMER), "digest_mailer.faces.tasks.huey", "-w", "1", "-k",
                              "thread"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + limit
                while time.monotonic() < deadline and process.poll() is None:
                    if until(log_path.read_text(errors="replace")):  # type: ignore[operator]
                        break
                    time.sleep(0.2)
                assert process.poll() is None, "the consumer exited by itself"
                if crash:
                    process.kill()
                    process.wait(timeout=10)
            finally:
                stop(process)
        return log_path.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (Huey's graceful stop), then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", "redis"])
def worker(request: pytest.FixtureRequest, tmp_path: Path, smtp_server) -> Iterator[Worker]:
    """A worker on SqliteHuey in var/, or on RedisHuey (a database of its own, emptied)."""
    assert CONSUMER.exists(), f"{CONSUMER} is missing (huey is a dependency)"
    if request.param == "sqlite":
        yield Worker(tmp_path, smtp_server())
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as err:
        require(False, f"Redis at {REDIS_URL} is not reachable: {err}")
    client.flushdb()
    try:
        yield Worker(tmp_path, smtp_server(), REDIS_URL)
    finally:
        client.flushdb()
        client.close()


def _set_up(worker: Worker) -> None:
    for category in READERS.values():
        url = (DEMO / "feeds" / f"arxiv_{category}.xml").resolve().as_uri()
        worker.cli("feeds", "add", url, "--label", f"arXiv ({category})",
                   "--category", category)
    people = worker.cwd / "people.csv"
    people.write_text("email,name,categories,timezone,send_hour,language\n" + "".join(
        f"{address},Reader,{category},UTC,0,en\n" for address, category in READERS.items()),
        encoding="utf-8")
    assert "2 added" in worker.cli("subscribers", "import", str(people))


def _received(smtp: LoopbackSmtp) -> list[str]:
    return sorted(rcpt for message in smtp.messages for rcpt in message.rcpt_tos)


def test_the_consumer_sends_each_due_digest_once(worker: Worker):
    _set_up(worker)
    first = worker.enqueue_tick()
    # SqliteHuey lives in DIGEST_VAR_DIR; RedisHuey leaves no queue file there.
    assert (worker.cwd / "var" / "huey.db").is_file() == (not worker.redis_url)
    assert worker.smtp.messages == []

    log = worker.consume(lambda _: len(worker.smtp.messages) >= 2, limit=30)
    assert _received(worker.smtp) == sorted(READERS), log
    assert len(worker.smtp.messages) == 2, log
    assert f"{first} executed in" in log, log
    assert re.search(r"digest_mailer\.faces\.tasks\.send_batch: \S+ .*executed in", log), log
    assert "Traceback" not in log and "Unhandled exception" not in log, log

    # A second tick finds nothing due: the Delivery rows say both digests were sent.
    second = worker.enqueue_tick()
    log = worker.consume(lambda text: f"{second} executed in" in text, limit=20)
    assert f"{second} executed in" in log, log
    assert "Traceback" not in log and "Unhandled exception" not in log, log
    assert worker.pending() == 0
    assert len(worker.smtp.messages) == 2 and _received(worker.smtp) == sorted(READERS)


def test_schedule_zero_leaves_the_ticks_to_cron(worker: Worker):
    code = ("from digest_mailer.faces.tasks import huey\n"
            "print(sorted(t.name for t in huey._registry.periodic_tasks))\n")
    assert worker.python(code) == "[]"  # DIGEST_SCHEDULE_MINUTES=0, as the fixture sets
    worker.env["DIGEST_SCHEDULE_MINUTES"] = "5"
    assert worker.python(code) == "['read_replies', 'tick']"


def procfile_lines() -> dict[str, str]:
    procfile = REPO / "Procfile"
    if not procfile.exists():
        pytest.skip("Procfile not written yet")
    return dict(line.split(":", 1) for line in procfile.read_text().splitlines()
                if re.match(r"^\w+:", line))


def test_a_worker_killed_mid_tick_does_not_block_later_ticks(worker: Worker, feed_server):
    _set_up(worker)
    # A slow source holds the tick inside refresh_feeds long enough to kill the consumer there.
    slow = feed_server.add_slow("/slow.xml", 5.0)
    worker.cli("feeds", "add", slow, "--label", "Journal (slow)", "--category", "journal")
    first = worker.enqueue_tick()
    worker.consume(lambda text: f"Executing digest_mailer.faces.tasks.tick: {first}" in text,
                   limit=20, crash=True)
    assert worker.smtp.messages == []  # killed before any digest went out
    feed_server.add_status("/slow.xml", 404)  # fast from now on

    # The deployment's own worker line (Procfile), restarted as a supervisor would.
    command = procfile_lines()["worker"].split()
    assert command[0] == "huey_consumer"
    command[0] = str(CONSUMER)
    second = worker.enqueue_tick()
    log = worker.consume(
        lambda text: len(worker.smtp.messages) >= 2 or f"{second} not run" in text,
        limit=20, command=command)
    assert f"{second} not run" not in log, log
    assert _received(worker.smtp) == sorted(READERS), log


def test_procfile_runs_the_worker_and_the_web_app():
    lines = procfile_lines()
    assert "worker" in lines and "web" in lines, lines
    worker = lines["worker"].split()
    assert worker[:2] == ["huey_consumer", "digest_mailer.faces.tasks.huey"], worker
    assert "digest-mailer web" in lines["web"] and "0.0.0.0" in lines["web"]
