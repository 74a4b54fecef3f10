"""How fast `digest-mailer` starts: `python bench/cli_start.py [--runs 7] [--baseline ../main]`.

Times `--help`, `feeds list` and `send --dry-run` as a user runs them (a new process each
time, `python -m digest_mailer.faces.cli`), in a temp dir with a fresh SQLite database
that the bundled demo feeds and the example subscribers were loaded into, and prints the
median and fastest wall time of each next to the 0.5 s target.

Anchors, timed in the same rounds so a busy machine shows in them too: the bare
interpreter; the import of SQLAlchemy and pydantic alone, what `feeds list` cannot do
without (a Core read of the database, the settings model); and of SQLModel and
pydantic-settings, what it imported before issue 12. ``--baseline DIR`` times another
checkout of the code (its own temp dir and database) round by round beside this one.

Bytecode is cached as after a user's first run, in one temp folder for every checkout
(PYTHONPYCACHEPREFIX; an untimed first round writes it), so a checkout whose __pycache__
is missing or stale, or a PYTHONDONTWRITEBYTECODE in the environment, weighs on no side.
It prints figures; it asserts nothing (tests/test_cli_start.py holds a generous bound).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
TARGET = 0.5  # seconds: issue 12's "starts fast"
COMMANDS = (("--help",), ("feeds", "list"), ("send", "--dry-run"))
FLOORS = ("import sqlalchemy, pydantic.main", "import sqlmodel, pydantic_settings")


def environment(code: Path, pycache: Path) -> dict[str, str]:
    """A user's environment: no DIGEST_*/OPENAI_* settings, this checkout's code first,
    bytecode written and read in the run's cache folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(code)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest_mailer.faces.cli", *args]


def prepare(code: Path, cwd: Path, pycache: Path) -> None:
    """The demo sources, fetched, and the example subscribers, all due now (send hour 0)."""
    env = environment(code, pycache)

    def run(*args: str) -> None:
        subprocess.run(cli(*args), cwd=cwd, env=env, check=True,
                       capture_output=True, timeout=300)

    with (DEMO / "sources.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            url = (DEMO / "feeds" / row["url"]).resolve().as_uri()
            run("feeds", "add", url, "--label", row["label"], "--category", row["category"])
    with (REPO / "subscribers.example.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["timezone"], row["send_hour"] = "UTC", "0"
    people = cwd / "people.csv"
    with people.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run("subscribers", "import", str(people), "-q")
    run("feeds", "fetch")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU (user + system) hardly grows on a busy machine."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): "
                         f"{done.stderr.decode(errors='replace')[-500:]}")
    return took, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each (default 7)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout to time beside this one, e.g. ../main")
    args = parser.parse_args()
    codes = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cli-start-") as tmp:
        pycache = Path(tmp) / "pycache"
        cases: list[tuple[str, list[str], Path, dict[str, str]]] = [
            ("anchor: python -c pass", [sys.executable, "-c", "pass"], Path(tmp),
             environment(REPO, pycache))]
        cases += [(f"anchor: python -c '{floor}'", [sys.executable, "-c", floor], Path(tmp),
                   environment(REPO, pycache)) for floor in FLOORS]
        for name, code in codes.items():
            cwd = Path(tmp) / name
            cwd.mkdir()
            prepare(code, cwd, pycache)
            cases += [(f"{name}: digest-mailer {' '.join(c)}", cli(*c), cwd,
                       environment(code, pycache)) for c in COMMANDS]
        for _label, argv, cwd, env in cases:  # untimed: writes what the cache still lacks
            timed(argv, cwd, env)
        times: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in cases}
        for _ in range(args.runs):  # round by round: a busy moment hits every case alike
            for label, argv, cwd, env in cases:
                times[label].append(timed(argv, cwd, env))
    width = max(map(len, times))
    print(f"{'':{width}}  wall: median  fastest   CPU: median  (of {args.runs}; "
          f"target {TARGET:g} s wall)")
    for label, got in times.items():
        median = statistics.median(w for w, _ in got)
        verdict = "" if label.startswith("anchor") else (
            "  under target" if median < TARGET else "  over target")
        print(f"{label:{width}}  {median:10.2f} s {min(w for w, _ in got):6.2f} s "
              f"{statistics.median(c for _, c in got):10.2f} s{verdict}")
    print(f"load average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
