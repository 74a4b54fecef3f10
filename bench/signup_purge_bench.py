"""Benchmark the daily sign-up purge: `python bench/signup_purge_bench.py --readers 2000`.

A fresh SQLite database and the App as the worker builds it (outbox transport); N readers
sign up through the service, every fourth confirms. Ten days later the purge deletes the
unconfirmed ones; a day after that it runs again over what is left and deletes nothing.
Prints the rows deleted and the milliseconds each purge took; it asserts only the counts.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from digest_mailer.app import App
from digest_mailer.services.signup import SignupRequest
from digest_mailer.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    args = parser.parse_args()
    now = [datetime(2026, 11, 1, 8, tzinfo=UTC)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env_file=None, var_dir=Path(tmp) / "var", smtp_url="",
                                 secret_key="bench", signup_client_limit=10**9,
                                 base_url="https://digest.example.org")
        app = App(settings, clock=lambda: now[0])
        app.sources.register("https://feeds.example.org/cs.CV", "arXiv (cs.CV)", "cs.CV")
        outbox = app.settings.effective_outbox_dir
        for n in range(args.readers):
            stamp = app.signup.stamp()
            now[0] += timedelta(seconds=10)
            email = f"reader{n}@example.org"
            answer = app.signup.submit(SignupRequest(email, "", "en", ["cs.CV"], "", "UTC",
                                                     "7", "", stamp), f"10.0.{n // 250}.{n % 250}")
            assert answer.kind == "inbox", answer
            if n % 4 == 0:
                (eml,) = outbox.glob(f"*-{email}-*.eml")
                text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(
                    ("plain",)).get_content()
                app.signup.confirm(re.search(r"/c/(\S+)", text).group(1))
        unconfirmed = args.readers - (args.readers + 3) // 4
        for label, later in (("after 10 days", timedelta(days=10)),
                             ("a day later", timedelta(days=1, minutes=1))):
            now[0] += later
            started = time.perf_counter()
            purged = app.signup_purge.run()
            took = (time.perf_counter() - started) * 1000
            assert purged is not None
            print(f"purge {label}: {purged.requests} requests, {purged.subscribers} "
                  f"unconfirmed subscribers, {purged.counts} request counts deleted "
                  f"in {took:.1f} ms")
            assert purged.subscribers == (unconfirmed if later.days == 10 else 0), purged
    return 0


if __name__ == "__main__":
    sys.exit(main())
