"""Benchmark sign-up: `python bench/signup_bench.py --readers 200`.

A fresh SQLite database and the App as the web process builds it (outbox transport, the
demo sources registered without fetching); N readers each sign up (form stamp, validator,
counts, pending subscriber, confirmation email rendered with MJML and written) and then
confirm (profile applied, status history, welcome email). The per-client limit is lifted
so every request goes through. Prints milliseconds per request; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from digest_mailer.app import App
from digest_mailer.services.signup import SignupRequest
from digest_mailer.settings import load_settings

DEMO = Path(__file__).resolve().parent.parent / "demo"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env_file=None, var_dir=Path(tmp) / "var", smtp_url="",
                                 secret_key="bench", signup_client_limit=10**9,
                                 base_url="https://digest.example.org")
        app = App(settings)
        with (DEMO / "sources.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                app.sources.register(f"https://feeds.example.org/{row['url']}",
                                     row["label"], row["category"])
        submit, confirm = [], []
        real = app.clock

        def ten_seconds_ago() -> datetime:  # a form filled in at a person's pace
            return real() - timedelta(seconds=10)

        for n in range(args.readers):
            app.signup.clock = ten_seconds_ago
            stamp = app.signup.stamp()
            app.signup.clock = real
            request = SignupRequest(f"reader{n}@example.org", f"Reader {n}", "zh" if n % 2
                                    else "en", ["cs.CV", "cs.LG"], "diffusion",
                                    "Asia/Shanghai", "7", "", stamp)
            started = time.perf_counter()
            answer = app.signup.submit(request, f"10.0.{n // 250}.{n % 250}")
            submit.append(time.perf_counter() - started)
            assert answer.kind == "inbox", answer
            (eml,) = app.settings.effective_outbox_dir.glob(f"*-reader{n}@example.org-*.eml")
            text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(
                ("plain",)).get_content()
            token = re.search(r"/c/(\S+)", text).group(1)
            started = time.perf_counter()
            done = app.signup.confirm(token)
            confirm.append(time.perf_counter() - started)
            assert done is not None and done.welcomed, done
    for name, times in (("sign-up (confirmation email)", submit),
                        ("confirm (welcome email)", confirm)):
        print(f"{name}: median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.1f} ms over {len(times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
