"""Expected failures of `digest-mailer`: one line on stderr, a non-zero exit, no traceback.

Run as a user runs the command (a subprocess, a clean environment, see test_cli.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cli import COMMAND, TIMEOUT, clean_env, cli
from world import DEMO


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *wanted: str) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert all(w in lines[0] for w in wanted), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [("feeds", "list"), ("send", "--dry-run"), ("db", "current")])
def test_an_unreachable_database_is_one_line(tmp_path, command):
    env = clean_env(DIGEST_DATABASE_URL="postgresql://digest:s3cret@127.0.0.1:1/x")
    line = one_line_error(cli(tmp_path, *command, env=env, expect=None), 2,
                          "database error: cannot open", "127.0.0.1:1/x", "refused")
    assert "s3cret" not in line  # the password is never printed


@pytest.mark.parametrize(("url", "wanted"), [
    ("mysql://digest:s3cret@db.example.org/digest", "DIGEST_DATABASE_URL: mysql:// is not"),
    ("postgresql+nosuchdriver://digest:s3cret@db.example.org/digest", "Can't load plugin"),
])
def test_an_unknown_driver_is_one_line_naming_the_setting(tmp_path, url, wanted):
    done = cli(tmp_path, "feeds", "list", env=clean_env(DIGEST_DATABASE_URL=url), expect=None)
    assert "s3cret" not in one_line_error(done, 2, wanted)
    assert not (tmp_path / "var").exists()


def test_a_database_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "var").write_text("a file where the folder should be", encoding="utf-8")
    one_line_error(cli(tmp_path, "feeds", "list", expect=None), 2,
                   "database error: cannot create var for the database: File exists")


def test_missing_files_are_one_line(tmp_path):
    one_line_error(cli(tmp_path, "subscribers", "import", "nope.csv", expect=None), 2,
                   "cannot read nope.csv: No such file or directory")
    one_line_error(cli(tmp_path, "subscribers", "library", "a@b.c", "nope.bib", expect=None),
                   2, "cannot read nope.bib: No such file or directory")


def add_source(cwd: Path) -> None:
    url = (DEMO / "feeds" / "arxiv_cs.CV.xml").resolve().as_uri()
    cli(cwd, "feeds", "add", url, "--label", "arXiv (cs.CV)", "--category", "cs.CV")


def test_a_closed_pipe_ends_the_export_quietly(tmp_path):
    """`digest-mailer subscribers export - | head -1`: the reader leaves after one line."""
    people = tmp_path / "people.csv"
    add_source(tmp_path)
    rows = [f"reader{n:05d}@example.org,Reader {n},cs.CV,diffusion,UTC,7,en"
            for n in range(4000)]  # ~250 kB: more than the pipe holds, so a write meets it
    people.write_text("email,name,categories,keywords,timezone,send_hour,language\n"
                      + "\n".join(rows) + "\n", encoding="utf-8")
    cli(tmp_path, "subscribers", "import", str(people), "-q")
    export = subprocess.Popen([*COMMAND, "subscribers", "export", "-"], cwd=tmp_path,
                              env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().lstrip("\ufeff").startswith("email,")
    export.stdout.close()  # what head does after its line
    code = export.wait(TIMEOUT)
    assert export.stderr.read() == ""  # no traceback, no "Exception ignored … BrokenPipeError"
    assert code == 1


def test_head_in_a_shell_pipeline_sees_one_line(tmp_path: Path):
    add_source(tmp_path)
    cli(tmp_path, "subscribers", "add", "ada@example.org", "--categories", "cs.CV")
    command = " ".join(f"'{part}'" for part in COMMAND)
    done = subprocess.run(["bash", "-c", f"{command} subscribers export - | head -1"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert done.returncode == 0 and done.stdout.lstrip("\ufeff").startswith("email,")
    assert "Traceback" not in done.stderr
