"""Peak memory of `digest-mailer subscribers import` on a CSV with one huge line.

    .venv/bin/python bench/import_memory.py [--mb 200]

Runs the CLI twice in a scratch directory (a two-row file, then the same with one line of
``--mb`` megabytes) and prints each run's peak RSS, as the kernel reports it (wait4).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "digest_mailer.faces.cli"]
HEADER = "email,name,categories\n"


def run(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MB, stdout) of one CLI run."""
    start = time.monotonic()
    with (cwd / "out.txt").open("w+") as out:
        process = subprocess.Popen([*COMMAND, *args], cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        text = out.read()
    return (os.waitstatus_to_exitcode(status), time.monotonic() - start,
            usage.ru_maxrss / 1024, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the huge line")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="import-memory-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(PYTHONPATH=str(REPO), DIGEST_VAR_DIR=str(work / "var"))
    feed = (REPO / "demo" / "feeds" / "arxiv_cs.CV.xml").as_uri()
    subprocess.run([*COMMAND, "feeds", "add", feed, "--label", "cs.CV", "--category", "cs.CV"],
                   cwd=work, env=env, check=True, capture_output=True)
    small, huge = work / "small.csv", work / "huge.csv"
    small.write_text(HEADER + "a@example.org,A,cs.CV\n")
    with huge.open("w") as handle:
        handle.write(HEADER + "a@example.org,A,cs.CV\nhuge@example.org,")
        for _ in range(args.mb):
            handle.write("y" * 1_000_000)
        handle.write(",cs.CV\nb@example.org,B,cs.CV\n")
    for label, path in (("two-row file", small), (f"{args.mb} MB line", huge)):
        code, seconds, peak, out = run(work, env, "subscribers", "import", str(path),
                                       "--dry-run", "--skip-invalid")
        print(f"{label:>14}: exit {code}, {seconds:.1f} s, peak RSS {peak:.0f} MB; "
              f"{out.splitlines()[0] if out else '(no output)'}")


if __name__ == "__main__":
    main()
