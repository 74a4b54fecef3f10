"""Benchmark the subscriber CSV import: `python bench/import_bench.py --rows 100000`.

Writes N realistic rows (names with accents and CJK, addresses, 1–3 categories of the demo
sources, 0–3 keywords, 15 zones, a few formula-looking keywords) to a temp CSV, imports
them into a fresh SQLite database (or a fresh PostgreSQL database created for the run with
--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test), then imports the same
file again (all unchanged). Prints rows/second for parse+validate and for apply, wall time
and peak RSS. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import inspect
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from email_validator import validate_email
from sqlmodel import Session
from synthetic import KEYWORDS

from digest_mailer import db
from digest_mailer.services.import_rows import parse
from digest_mailer.services.importer import apply_rows, import_csv
from digest_mailer.settings import Settings

# What a row without a time zone or send hour gets: the settings' defaults, as the CLI uses.
NEWCOMER = {"default_timezone": Settings.model_fields["default_timezone"].default,
            "default_send_hour": Settings.model_fields["default_send_hour"].default}

DEMO = Path(__file__).resolve().parent.parent / "demo"
FIRST = ("Ada", "Wei", "Priya", "Tomás", "Kenji", "Amélie", "Søren", "Fatima", "Olusegun",
         "María", "Jürgen", "Chloé", "Hiroshi", "Zoë", "Rahul", "Ingrid", "Mateo", "Aisha")
LAST = ("Moreau", "Zhang", "Natarajan", "Oliveira", "Watanabe", "Müller", "Nielsen", "Haddad",
        "Adeyemi", "García", "O'Brien", "Kowalski", "Nakamura", "Lefèvre", "Singh", "Berg")
CJK = ("张伟", "王芳", "李娜", "刘洋", "陈静", "山田太郎", "佐藤花子")
DOMAINS = ("example.org", "uni-example.edu", "lab.example.ac.uk", "Example.COM",
           "research.example.de", "mail.example.jp")
ZONES = ("UTC", "Europe/Berlin", "Europe/London", "Europe/Paris", "America/New_York",
         "America/Los_Angeles", "America/Sao_Paulo", "Asia/Shanghai", "Asia/Tokyo",
         "Asia/Kolkata", "Australia/Sydney", "Africa/Lagos", "Europe/Madrid",
         "America/Chicago", "Pacific/Auckland")


def categories() -> list[str]:
    with (DEMO / "sources.csv").open(newline="", encoding="utf-8") as handle:
        return [row["category"] for row in csv.DictReader(handle)]


def write_rows(path: Path, count: int, rng: random.Random) -> None:
    cats = categories()
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(("email", "name", "categories", "keywords", "exclusions", "timezone",
                         "send_hour", "language"))
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = rng.choice(CJK) if rng.random() < 0.1 else f"{first} {last}"
            local = f"{first}.{last}".lower().replace("'", "")
            keywords = rng.sample(KEYWORDS, rng.choice((0, 1, 2, 3)))
            if rng.random() < 0.01:
                keywords.append("=SUM(A1:A9)")  # formula-looking text, imported as text
            writer.writerow((
                f"{local}.{i}@{rng.choice(DOMAINS)}", name,
                "|".join(rng.sample(cats, rng.choice((1, 2, 2, 3)))), "|".join(keywords),
                rng.choice(KEYWORDS) if rng.random() < 0.1 else "", rng.choice(ZONES),
                rng.randint(5, 9), "zh" if rng.random() < 0.1 else "en"))


@contextlib.contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    if not url:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"dm_import_bench_{os.getpid()}"
    admin = psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                            user=parsed.username or "postgres", password=parsed.password,
                            dbname=parsed.database or "postgres", autocommit=True)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_engine(url: str):  # type: ignore[no-untyped-def]
    options = ({"auto_migrate": True}
               if "auto_migrate" in inspect.signature(db.engine.make_engine).parameters else {})
    return db.engine.make_engine(url, **options)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "subscribers.csv"
        started = time.perf_counter()
        write_rows(path, args.rows, rng)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        with database(args.database_url, folder) as url:
            engine = make_engine(url)
            print(f"database: {engine.dialect.name}")
            with Session(engine) as session:
                for category in categories():
                    db.sources.add(session, f"https://example.org/{category}.xml",
                                     f"bench ({category})", category)
                session.commit()
            known = categories()
            data = path.read_bytes()

            wall = time.perf_counter()
            t0 = time.perf_counter()
            parsed = parse(data, **NEWCOMER, known_categories=known)
            t1 = time.perf_counter()
            with Session(engine) as session:
                report = apply_rows(session, parsed.rows)
            t2 = time.perf_counter()
            n = len(parsed.rows)
            print(f"first import: {report.summary()}")
            print(f"  parse+validate {t1 - t0:6.2f} s  {n / (t1 - t0):9,.0f} rows/s")
            print(f"  apply          {t2 - t1:6.2f} s  {n / (t2 - t1):9,.0f} rows/s")
            print(f"  total wall     {time.perf_counter() - wall:6.2f} s   "
                  f"peak RSS {rss_mb():.0f} MB")

            t0 = time.perf_counter()
            again = import_csv(engine, data, **NEWCOMER, known_categories=known)
            t1 = time.perf_counter()
            print(f"re-import (import_csv, one call): {again.summary()}")
            print(f"  total wall     {t1 - t0:6.2f} s  {n / (t1 - t0):9,.0f} rows/s   "
                  f"peak RSS {rss_mb():.0f} MB")
            engine.dispose()

        addresses = [r.email for r in parsed.rows[:20_000]]
        t0 = time.perf_counter()
        for address in addresses:
            validate_email(address, check_deliverability=False)
        per = (time.perf_counter() - t0) / len(addresses)
        print(f"email-validator alone: {per * 1e6:.0f} µs/address "
              f"(≈ {per * n:.1f} s of the parse+validate for {n:,} rows)")


if __name__ == "__main__":
    main()
