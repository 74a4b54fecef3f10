"""Benchmark the morning send: `python bench/run.py --subscribers 10000 [--database-url …]`.

Builds a synthetic morning (2,000 new entries, N subscribers over 12 categories), starts a
loopback OpenAI-compatible server that sleeps 300 ms per call and a loopback SMTP server
that accepts and discards, then runs the real pipeline once in one process and once in
two worker processes, and prints wall time per stage, digests/second, LLM calls and
input tokens, cache hit rate and peak RSS. It prints figures; it asserts nothing.
With BENCH_PROFILE=/path each worker writes its cProfile stats to /path.<pid>.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import resource
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller
from sqlalchemy import delete
from sqlmodel import Session, select
from synthetic import CATEGORIES, make_entries, make_subscribers

from digest_mailer import db
from digest_mailer.app import App
from digest_mailer.db.models import BriefingCacheEntry, Delivery, Run, Subscriber
from digest_mailer.settings import load_settings

LLM_DELAY = 0.3


class SlowLLM(ThreadingHTTPServer):
    """Answers every chat completion after 300 ms; counts calls and prompt tokens."""

    daemon_threads = True
    request_queue_size = 256  # the send path makes many requests at once

    def __init__(self, counts: Any) -> None:
        super().__init__(("127.0.0.1", 0), _LLMHandler)
        self.counts = counts  # shared [calls, prompt tokens]


class _LLMHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints: no connection per call
    # Headers and body go out in two writes: with Nagle on, the body waited for the
    # client's delayed ACK, adding 40 ms to every call.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = " ".join(str(m.get("content", "")) for m in body["messages"])
        tokens = max(1, len(text) // 4)  # ~4 characters a token, as OpenAI's rule of thumb
        time.sleep(LLM_DELAY)
        server: SlowLLM = self.server  # type: ignore[assignment]
        with server.counts.get_lock():
            server.counts[0] += 1
            server.counts[1] += tokens
        answer = "These papers share methods across fields [1], [2]."
        payload = json.dumps({
            "id": "b", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 12,
                      "total_tokens": tokens + 12}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class Discard:
    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 OK"


class Services:
    """The LLM and SMTP servers, each in a process of its own as on other machines.

    In the bench's own process their threads would share one interpreter lock, and the
    SMTP server's replies would wait on the LLM server's threads.
    """

    def __init__(self) -> None:
        self.counts = multiprocessing.Array("q", 2)
        self._stop = multiprocessing.Event()
        ports: multiprocessing.Queue = multiprocessing.Queue()
        self._procs = [multiprocessing.Process(target=target, args=(ports,), daemon=True)
                       for target in (self._llm, self._smtp)]
        for proc in self._procs:
            proc.start()
        found = dict(ports.get(timeout=30) for _ in self._procs)
        self.llm_port, self.smtp_port = found["llm"], found["smtp"]

    @property
    def calls(self) -> int:
        return self.counts[0]

    @property
    def prompt_tokens(self) -> int:
        return self.counts[1]

    def _llm(self, ports: multiprocessing.Queue) -> None:
        server = SlowLLM(self.counts)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ports.put(("llm", server.server_address[1]))
        self._stop.wait()

    def _smtp(self, ports: multiprocessing.Queue) -> None:
        with socket.socket() as probe:  # aiosmtpd needs a concrete port to check it started
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        smtp = Controller(Discard(), hostname="127.0.0.1", port=port)
        smtp.start()
        ports.put(("smtp", port))
        self._stop.wait()
        smtp.stop()

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout=10)


class StageClock:
    """Wraps the send path's stage entry points to add up their wall time."""

    def __init__(self, app: App) -> None:
        self.seconds: Counter[str] = Counter()
        self._wrap(app.send, "_prepare", "select")  # choose papers, write and claim the row
        self._wrap(app.briefer, "brief", "brief")
        self._wrap(app.renderer, "render", "render")
        factory = app.send.transport_factory

        def timed_factory():  # type: ignore[no-untyped-def]
            transport = factory()
            self._wrap(transport, "send", "send")
            return transport

        app.send.transport_factory = timed_factory

    def _wrap(self, owner: object, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(owner, name, timed)


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def build_world(args: argparse.Namespace, tmp: Path, services: Services) -> dict:
    settings = load_settings(
        env_file=None, var_dir=tmp, database_url=args.database_url or "",
        smtp_url=f"smtp://127.0.0.1:{services.smtp_port}",
        openai_base_url=f"http://127.0.0.1:{services.llm_port}/v1",
        openai_api_key="bench", llm_retries=0, llm_timeout=30, max_papers=args.papers,
        max_per_category=args.papers, send_batch_size=args.batch,
        llm_concurrency=args.llm_concurrency, auto_migrate=True)
    rng = random.Random(7)
    app = App(settings)
    start = time.perf_counter()
    with Session(app.engine) as session:
        sources = {c: db.sources.add(session, f"https://bench.example.org/{c}", f"arXiv ({c})",
                                       c) for c in CATEGORIES}
        entries = make_entries(args.entries, rng)
        now = datetime.now(UTC)
        for category, source in sources.items():
            db.entries.store(session, source,
                                [e for e in entries if e.categories[0] == category], now)
        session.add_all(Subscriber(**row) for row in make_subscribers(args.subscribers, rng))
        session.commit()
    print(f"world: {args.entries} entries, {args.subscribers} subscribers, "
          f"{app.engine.dialect.name}, built in {time.perf_counter() - start:.1f} s")
    return {"settings": settings}


def reset(app: App) -> None:
    with Session(app.engine) as session:
        for table in (Delivery, BriefingCacheEntry, Run):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()


def worker(settings_kw: dict, ids: list[int], batch: int, day: date, out: multiprocessing.Queue):
    app = App(load_settings(env_file=None, **settings_kw))
    clock = StageClock(app)
    counts: Counter[str] = Counter()
    profile = os.environ.get("BENCH_PROFILE")  # a path: cProfile stats of each worker there
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    for start in range(0, len(ids), batch):
        counts.update(app.send.send(ids[start:start + batch], digest_date=day).counts)
    if profile:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((dict(counts), dict(clock.seconds), peak_rss_mb(), usage.ru_utime, usage.ru_stime))


def run(label: str, settings, llm: Services, ids: list[int], workers: int, batch: int) -> None:
    app = App(settings)
    reset(app)
    calls0, tokens0 = llm.calls, llm.prompt_tokens
    day = date(2026, 11, 24)
    kw = {k: getattr(settings, k) for k in (
        "var_dir", "database_url", "smtp_url", "openai_base_url", "openai_api_key",
        "llm_retries", "llm_timeout", "max_papers", "max_per_category", "send_batch_size",
        "llm_concurrency", "auto_migrate")}
    start = time.perf_counter()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    chunks = [ids[i::workers] for i in range(workers)]
    procs = [multiprocessing.Process(target=worker, args=(kw, c, batch, day, queue))
             for c in chunks]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    wall = time.perf_counter() - start
    counts: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for c, s, *_ in results:
        counts.update(c)
        stages.update(s)
    user, system = (sum(r[i] for r in results) for i in (3, 4))
    sent = counts["sent"]
    calls, tokens = llm.calls - calls0, llm.prompt_tokens - tokens0
    with Session(app.engine) as session:
        rows = session.exec(select(Delivery.entry_keys, Subscriber.language).join(
            Subscriber, Subscriber.id == Delivery.subscriber_id))
        keys = {(tuple(entry_keys), language) for entry_keys, language in rows}
    hits = counts.get("llm_cache_hits", 0)
    print(f"\n{label}: {workers} worker(s), {len(ids)} subscribers")
    print(f"  wall {wall:.1f} s, {sent} sent, {counts['skipped_empty']} empty, "
          f"{counts['failed']} failed → {sent / wall:.1f} digests/s end to end")
    print("  stage seconds (summed over workers): " + ", ".join(
        f"{k} {stages[k]:.1f}" for k in ("select", "brief", "render", "send")))
    print(f"  LLM: {calls} calls for {len(keys)} distinct selections (papers and language), "
          f"{tokens} input tokens "
          f"({tokens / max(calls, 1):.0f} per call, {tokens / max(sent, 1):.0f} per digest), "
          f"cache hit rate {hits / max(hits + calls, 1):.0%}")
    print(f"  worker CPU per digest: {1000 * user / max(sent, 1):.1f} ms user, "
          f"{1000 * system / max(sent, 1):.1f} ms system")
    print(f"  peak RSS: {max(r[2] for r in results):.0f} MB per worker")


@contextlib.contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """SQLite: the temp folder's file. PostgreSQL: a new database beside the given one."""
    if not url.startswith("postgresql"):
        yield url
        return
    import psycopg
    from sqlalchemy.engine import make_url

    given = make_url(url)
    name = f"digest_bench_{os.getpid()}"
    admin = psycopg.connect(host=given.host, port=given.port or 5432, user=given.username,
                            dbname=given.database, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield given.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=2_000)
    parser.add_argument("--papers", type=int, default=20, help="papers per digest")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--llm-concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    multiprocessing.set_start_method("fork")
    services = Services()
    print(f"bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url) as url:
        args.database_url = url
        world = build_world(args, Path(tmp), services)
        app = App(world["settings"])
        with Session(app.engine) as session:
            ids = [s.id for s in db.subscribers.active(session)]
        for workers in args.workers:
            run(f"run with {workers} worker(s)", world["settings"], services, ids, workers,
                args.batch)
    services.stop()
    print(f"\npeak RSS of the bench process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
