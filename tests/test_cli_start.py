"""How `digest-mailer` starts: fast, loading only what a command uses; its help and version.

The time is measured in a subprocess and printed; the assertion is a generous bound for a
busy 2-core machine (the 0.5 s target is bench/cli_start.py's). What a command imports is
the part that cannot drift quietly: it is checked exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from test_cli import COMMAND, clean_env, cli
from world import DEMO

from digest_mailer.faces.cli import _parser

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pydantic", "pydantic_settings", "openai",
         "sklearn", "scipy", "numpy", "huey", "httpx", "fastapi", "argon2", "mjml", "jinja2")
# What `feeds list` may load: the settings (pydantic) and the database (SQLAlchemy Core: it
# reads rows of the reflected table, and builds no SQLModel class).
NOT_FOR_FEEDS_LIST = ("sqlmodel", "pydantic_settings", "alembic", "openai", "sklearn",
                      "scipy", "numpy", "huey", "httpx", "fastapi", "argon2", "mjml", "jinja2")
LOADED = """
import json, sys
from digest_mailer.faces.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
sys.exit(code)
"""


def loaded(cwd: Path, *args: str) -> set[str]:
    """The top-level packages imported by the time ``digest-mailer ARGS`` is done."""
    done = subprocess.run([sys.executable, "-c", LOADED, *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.splitlines()[-1]))


def test_help_starts_fast(tmp_path):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([*COMMAND, "--help"], cwd=tmp_path, env=clean_env(),
                              capture_output=True, text=True, timeout=60, check=False)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0 and "examples:" in done.stdout, done.stderr
    median = statistics.median(times)
    print(f"\ndigest-mailer --help: median {median:.2f} s of 3 (fastest {min(times):.2f} s)")
    assert median < 3.0


def test_help_loads_no_heavy_package(tmp_path):
    assert loaded(tmp_path, "--help") & set(HEAVY) == set()


def test_feeds_list_opens_the_database_and_nothing_else(tmp_path):
    cli(tmp_path, "feeds", "list")  # the first start creates the database: Alembic
    found = loaded(tmp_path, "feeds", "list")
    assert {"sqlalchemy", "pydantic"} <= found  # it did read the settings and the database
    assert found & set(NOT_FOR_FEEDS_LIST) == set()


def test_the_process_entry_ends_with_mains_exit_code(tmp_path):
    """``python -m`` (and the script) end through run(), which skips the last garbage
    collection: the exit code is main's, and what the command wrote is there next time."""
    entry = [sys.executable, "-m", "digest_mailer.faces.cli"]
    url = (DEMO / "feeds" / "arxiv_cs.CV.xml").resolve().as_uri()
    added = subprocess.run([*entry, "feeds", "add", url, "--label", "CV", "--category", "cs.CV"],
                           cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                           timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*entry, "feeds", "list"], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0 and f"#1 {url}" in listed.stdout, listed.stderr
    refused = subprocess.run([*entry, "feeds", "list"], cwd=tmp_path,
                             env=clean_env(DIGEST_MAX_PAPRES="5"), capture_output=True,
                             text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "did you mean DIGEST_MAX_PAPERS?" in refused.stderr


def test_version_is_the_installed_packages(tmp_path):
    done = cli(tmp_path, "--version")
    assert done.stdout == f"digest-mailer {version('digest-mailer')}\n"


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
             ) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and group under ``parser``, with its words."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(((*path, name), sub))
                found += commands(sub, (*path, name))
    return found


def test_every_command_says_what_it_does_and_shows_examples():
    every = commands(_parser())
    assert len(every) >= 20
    for words, sub in every:
        help_text = sub.format_help()
        assert sub.description and "\n" not in sub.description, words
        assert "\nexamples:\n  " in help_text, words
        # Each example runs the command it is shown under.
        shown = [line.strip() for line in help_text.split("\nexamples:\n", 1)[1].splitlines()]
        assert all(f"digest-mailer {' '.join(words)}" in line for line in shown), (words, shown)


@pytest.mark.parametrize("words", [("send",), ("preview",)])
def test_date_options_show_their_format(words, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args([*words, "--help"])
    assert "--date YYYY-MM-DD" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _parser().parse_args([*words, "x@example.org", "--json", "--date", "24.11.2026"])
    assert "not a date like 2026-11-24" in capsys.readouterr().err
