"""Hostile subscriber CSVs (issue 8): huge cells and lines, NULs, thousands of keywords,
bidi names, non-ASCII local parts. The CLI runs as a subprocess (as test_cli.py runs it);
the importer API against a real SQLite database.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_cli import COMMAND, TIMEOUT, clean_env, cli, db_count
from test_importer import NEWCOMER
from world import DEMO

from digest_mailer import db
from digest_mailer.db.models import Subscriber
from digest_mailer.domain.subscriber import MAX_ITEM_CHARS, MAX_ITEMS, MAX_NAME_CHARS
from digest_mailer.services.csvlines import MAX_CELL_CHARS, MAX_RECORD_CHARS
from digest_mailer.services.exporter import export_csv
from digest_mailer.services.importer import import_csv

HEADER = "email,name,categories,keywords\n"
CATEGORIES = ["cs.CV", "cs.LG"]
PAST_CSV_LIMIT = 131_073  # one more than the csv module's field_size_limit()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine.make_engine("sqlite:///" + str(tmp_path / "t.db"))
    yield engine
    engine.dispose()


def names(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.name for s in db.subscribers.every(session)}


def _cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env(DIGEST_VAR_DIR=str(tmp_path / "var"), **extra)
    url = (DEMO / "feeds" / "arxiv_cs.CV.xml").resolve().as_uri()
    cli(tmp_path, "feeds", "add", url, "--label", "arXiv (cs.CV)", "--category", "cs.CV",
        env=env)
    return env


def _peak_rss_mb(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, peak RSS in MB) of one CLI run, from the kernel."""
    with (cwd / "out.txt").open("w+") as out, (cwd / "err.txt").open("w+") as err:
        process = subprocess.Popen([*COMMAND, *args], cwd=cwd, env=env, stdout=out,
                                   stderr=err, text=True)
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), usage.ru_maxrss / 1024


# --- item 6: cells and lines past the bounds ---------------------------------------------

def test_cli_rejects_a_cell_past_the_csv_limit_by_line_and_imports_the_rest(tmp_path):
    env = _cli_env(tmp_path)
    people = tmp_path / "people.csv"
    people.write_text(HEADER + "a@example.org,A,cs.CV,\n"
                      + "big@example.org," + "x" * PAST_CSV_LIMIT + ",cs.CV,\n"
                      + "c@example.org,C,cs.CV,\n", encoding="utf-8")

    refused = cli(tmp_path, "subscribers", "import", str(people), env=env, expect=1)
    assert "Traceback" not in refused.stderr and "Error" not in refused.stderr
    assert refused.stdout.splitlines()[0].startswith("refused, nothing written: 1 rows")
    assert db_count(tmp_path, "subscriber") == 0

    done = cli(tmp_path, "subscribers", "import", str(people), "--skip-invalid", env=env)
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines()[:2] == [
        "imported: 2 added, 0 updated, 0 unchanged, 0 left unsubscribed, 1 rejected",
        f"  reject            line 3  (column '(line)': longer than {MAX_RECORD_CHARS:,} "
        f"characters (a cell may have at most {MAX_CELL_CHARS:,}))"]
    assert db_count(tmp_path, "subscriber") == 2
    with (tmp_path / "people.csv.rejected.csv").open(newline="", encoding="utf-8-sig") as f:
        assert [r[:2] for r in csv.reader(f)] == [["line", "column"], ["3", "(line)"]]


def test_cli_reads_a_huge_line_in_bounded_memory(tmp_path):
    """A 50 MB line: the old importer held it several times over (≈ 7 bytes per byte)."""
    env = _cli_env(tmp_path)
    small, huge = tmp_path / "small.csv", tmp_path / "huge.csv"
    small.write_text(HEADER + "a@example.org,A,cs.CV,\n", encoding="utf-8")
    with huge.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "a@example.org,A,cs.CV,\nhuge@example.org,")
        for _ in range(50):
            handle.write("y" * 1_000_000)
        handle.write(",cs.CV,\nb@example.org,B,cs.CV,\n")
    code, _, _, baseline = _peak_rss_mb(tmp_path, env, "subscribers", "import", str(small),
                                        "--dry-run")
    assert code == 0
    code, out, err, peak = _peak_rss_mb(tmp_path, env, "subscribers", "import", str(huge),
                                        "--skip-invalid")
    assert (code, "Traceback" in err) == (0, False), err
    assert out.splitlines()[0].endswith("2 added, 0 updated, 0 unchanged, 0 left "
                                        "unsubscribed, 1 rejected")
    assert "line 3" in out
    assert peak < baseline + 30, (baseline, peak)  # the line is 50 MB; memory grows < 30


def test_a_long_cell_and_a_long_multiline_record_are_rejected_and_the_rest_goes_on(engine):
    text = (HEADER
            + "a@example.org,A,cs.CV,\n"                                      # 2
            + "long@example.org,A,cs.CV," + "k" * (MAX_CELL_CHARS + 1) + "\n"  # 3
            + 'multi@example.org,"' + "m\n" * (MAX_RECORD_CHARS // 2 + 1)      # 4-50,005
            + '",cs.CV,\n'
            + "b@example.org,B,cs.CV,\n")
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES, skip_invalid=True)
    rejected = [(e.line, e.column, e.reason) for e in report.rejected]
    assert len(rejected) == 2  # the skipped record's lines make no rows of their own
    assert rejected[0] == (3, "keywords", f"cell longer than {MAX_CELL_CHARS:,} characters "
                                          f"({MAX_CELL_CHARS + 1:,})")
    assert rejected[1][:2] == (4, "(line)") and "longer than" in rejected[1][2]
    assert "multi@example.org" not in names(engine)
    assert {"a@example.org", "b@example.org"} <= set(names(engine))
    assert len(report.cells[3][3]) == MAX_CELL_CHARS  # the rejects file stays bounded


# --- NUL bytes ---------------------------------------------------------------------------

def test_nul_in_a_cell_is_rejected_with_line_and_column_and_never_exported(engine):
    text = HEADER + "a@example.org,A,cs.CV,\nnul@example.org,Ada\0Lovelace,cs.CV,\n"
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES, skip_invalid=True)
    assert [(e.line, e.column) for e in report.rejected] == [(3, "name")]
    assert "NUL" in report.rejected[0].reason
    assert names(engine) == {"a@example.org": "A"}
    with Session(engine) as session:  # as an older version stored it
        session.add(Subscriber(email="old@example.org", name="Old\0Row",
                               categories=["cs.CV"], keywords=["k\0w"]))
        session.commit()
    out = io.StringIO()
    report.write_rejects(out)
    assert "Ada\ufffdLovelace" in out.getvalue()  # where the refused NUL was
    with Session(engine) as session:
        assert export_csv(session, out) == 2
    assert "\0" not in out.getvalue() and "OldRow" in out.getvalue()
    strict = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES)
    assert strict.refused and not strict.written


# --- one set of caps ---------------------------------------------------------------------

@pytest.mark.parametrize("column, value, reason", [
    ("keywords", "|".join(f"k{i}" for i in range(8000)), "cell longer than"),  # 47 kB
    ("keywords", "|".join(f"k{i}" for i in range(MAX_ITEMS + 1)),
     f"at most {MAX_ITEMS} keywords"),
    ("keywords", "q" * (MAX_ITEM_CHARS + 1), f"at most {MAX_ITEM_CHARS} characters"),
    ("keywords", "q" * 50_000, "cell longer than"),
    ("keywords", "q" * 100_000, "longer than 100,000 characters"),  # the whole line is
    ("exclusions", "|".join(f"e{i}" for i in range(MAX_ITEMS + 1)),
     f"at most {MAX_ITEMS} exclusions"),
    ("name", "N" * 5000, f"longer than {MAX_NAME_CHARS} characters"),
    ("name", "N" * (MAX_NAME_CHARS + 1), f"longer than {MAX_NAME_CHARS} characters"),
])
def test_caps_are_enforced_by_the_importer(engine, column, value, reason):
    text = ("email,name,categories,keywords,exclusions\n"
            + ",".join(["a@example.org" if c == "email" else "cs.CV" if c == "categories"
                        else value if c == column else ""
                        for c in ("email", "name", "categories", "keywords", "exclusions")])
            + "\n")
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES)
    column = "(line)" if len(value) >= MAX_RECORD_CHARS else column
    assert [(e.line, e.column) for e in report.rejected] == [(2, column)]
    assert reason in report.rejected[0].reason
    assert names(engine) == {}


def test_caps_at_the_limit_are_accepted(engine):
    keywords = "|".join(f"{i:03d}" + "w" * (MAX_ITEM_CHARS - 3) for i in range(MAX_ITEMS))
    text = f"{HEADER}a@example.org,{'N' * MAX_NAME_CHARS},cs.CV,{keywords}\n"
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES)
    assert report.rejected == [] and report.added == ["a@example.org"]


def test_more_categories_than_the_cap_are_refused(engine):
    known = [f"cat.{i}" for i in range(MAX_ITEMS + 1)]
    text = "email,categories\na@example.org," + "|".join(known) + "\n"
    report = import_csv(engine, text, **NEWCOMER, known_categories=known)
    assert [(e.line, e.column) for e in report.rejected] == [(2, "categories")]
    assert f"at most {MAX_ITEMS} categories" in report.rejected[0].reason


# --- names: controls and bidi characters ---------------------------------------------------

def test_bidi_zero_width_and_control_characters_are_stripped_from_names(engine):
    hostile = "\u202eAda\u200b \u2066Love\u00adlace\u2069\x07\x85\u200f\ufeff"
    text = f"{HEADER}a@example.org,\"{hostile}\",cs.CV,\n"
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES)
    assert report.added == ["a@example.org"]
    assert names(engine) == {"a@example.org": "Ada Lovelace"}
    kept = "محمد\u200cعلی Zoë 王小明"  # ZWNJ is stripped too; letters and spaces stay
    again = import_csv(engine, f"{HEADER}a@example.org,{kept},cs.CV,\n",
                       **NEWCOMER, known_categories=CATEGORIES)
    assert again.updated == ["a@example.org"]
    assert names(engine) == {"a@example.org": "محمدعلی Zoë 王小明"}


# --- non-ASCII local parts ---------------------------------------------------------------

def test_non_ascii_local_part_is_refused_unless_the_server_takes_smtputf8(engine):
    text = HEADER + "üser@example.org,U,cs.CV,\nuser@bücher.example,B,cs.CV,\n"
    report = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES, skip_invalid=True)
    assert [(e.line, e.column) for e in report.rejected] == [(2, "email")]
    assert "DIGEST_SMTP_UTF8" in report.rejected[0].reason
    assert report.added == ["user@bücher.example"]  # a non-ASCII domain goes as IDNA
    allowed = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES, smtputf8=True)
    assert allowed.rejected == [] and allowed.added == ["üser@example.org"]


def test_cli_takes_the_smtputf8_setting(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(HEADER + "üser@example.org,U,cs.CV,\n", encoding="utf-8")
    env = _cli_env(tmp_path)
    refused = cli(tmp_path, "subscribers", "import", str(people), env=env, expect=1)
    assert "line 2" in refused.stdout and "DIGEST_SMTP_UTF8" in refused.stdout
    env["DIGEST_SMTP_UTF8"] = "true"
    done = subprocess.run([*COMMAND, "subscribers", "import", str(people)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert db_count(tmp_path, "subscriber") == 1
