"""The installed `digest-mailer` command, run as a user runs it: a subprocess, a clean environment.

Each run gets cwd=tmp_path (so var/ and .env are the test's own), an environment without any
DIGEST_* or OPENAI_* variable, and a timeout. Feeds are the bundled demo files (file://) or
a loopback HTTP server; mail goes to the outbox folder. Nothing is mocked.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html as htmllib
import json
import os
import re
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from feedserver import FeedServer
from world import DEMO, REPO

SCRIPT = Path(sys.executable).parent / "digest-mailer"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "digest_mailer.faces.cli"]
TIMEOUT = 60
TAG = re.compile(r"<[^>]+>")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # loopback never via a proxy
    env.update(extra)
    return env


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None,
        expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*COMMAND, *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if expect is not None:
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
    return done


def example_subscribers() -> list[dict[str, str]]:
    with (REPO / "subscribers.example.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # The example has no status column today; a row marked unsubscribed would get no mail.
    return [r for r in rows if (r.get("status") or "active").strip().lower() == "active"]


def load(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def visible(document: str) -> str:
    body = document.split("</head>", 1)[-1]
    return htmllib.unescape(re.sub(r"\s+", " ", TAG.sub(" ", body)))


def db_count(cwd: Path, table: str) -> int:
    with sqlite3.connect(cwd / "var" / "digest.db") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `digest-mailer demo` run shared by the read-only tests: (cwd, stdout)."""
    cwd = tmp_path_factory.mktemp("demo")
    return cwd, cli(cwd, "demo").stdout


def test_python_dash_m_runs_the_same_main(tmp_path):
    done = subprocess.run([sys.executable, "-m", "digest_mailer.faces.cli", "--help"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert done.returncode == 0 and "usage: digest-mailer" in done.stdout


def test_demo_sends_one_checked_digest_per_example_subscriber(demo_dir):
    cwd, out = demo_dir
    readers = example_subscribers()
    outbox = cwd / "var" / "outbox"
    assert "fetched 7" in out and "sources 7" in out
    assert "entries_new 70" in out
    assert f"sent {len(readers)}" in out and "failed" not in out
    assert str(outbox.resolve()) in out

    emls = sorted(outbox.glob("*.eml"))
    assert len(emls) == len(readers) == 5
    assert sorted(p.with_suffix(".html") for p in emls) == sorted(outbox.glob("*.html"))
    languages = {r["email"]: r["language"] for r in readers}
    seen: set[str] = set()
    for path in emls:
        message = load(path)
        address = message["To"].addresses[0].addr_spec
        seen.add(address)
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain",
                                                                          "text/html"]
        text = str(message.get_body(("plain",)).get_content()).replace("\r\n", "\n")
        body = str(message.get_body(("html",)).get_content())
        shown = visible(body)
        assert re.search(r"^\[1\] \S", text, flags=re.MULTILINE), address
        # Group headings carry the category code, in the text part and in the HTML (in
        # full-width brackets for a Chinese reader).
        headings = re.findall(r"^== (.+?) · \d+", text, flags=re.MULTILINE)
        assert headings, address
        for heading in headings:
            assert re.search(r"(\(|（)[\w.\-]+(\)|）)$", heading), heading
            assert heading in shown, heading
        html_tag = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", body)
        assert html_tag, address
        if languages[address].startswith("zh"):
            assert html_tag.group(1).startswith("zh")
            assert "本简报摘自今日论文摘要" in shown and "科研简报" in str(message["Subject"])
        else:
            assert html_tag.group(1) == "en"
            assert "Briefing extracted from today's abstracts" in shown
            assert "Briefing extracted from today's abstracts" in text
        preview = path.with_suffix(".html").read_text(encoding="utf-8")
        assert headings[0] in visible(preview)
    assert seen == set(languages)
    assert any(lang.startswith("zh") for lang in languages.values())


def test_demo_twice_sends_nothing_again(tmp_path):
    cli(tmp_path, "demo")
    outbox = tmp_path / "var" / "outbox"
    before = sorted(outbox.glob("*.eml"))
    again = cli(tmp_path, "demo").stdout
    assert sorted(outbox.glob("*.eml")) == before
    assert f"already_done {len(before)}" in again and "sent " not in again
    assert "entries_new 0" in again


def test_feeds_list_runs_subscribers_list_and_preview(demo_dir):
    cwd, _ = demo_dir
    listed = cli(cwd, "feeds", "list").stdout
    with (DEMO / "sources.csv").open(newline="", encoding="utf-8") as handle:
        sources = list(csv.DictReader(handle))
    for row in sources:
        (line,) = [x for x in listed.splitlines() if x.startswith(row["label"] + " ")]
        assert " ok, " in line and "ERROR" not in line, line
        assert (DEMO / "feeds" / row["url"]).resolve().as_uri() in listed

    runs = cli(cwd, "runs").stdout
    assert re.search(r"^\S+ \S+ ingest .*entries_new 70", runs, flags=re.MULTILINE), runs
    assert re.search(r"^\S+ \S+ send .*sent 5", runs, flags=re.MULTILINE), runs

    people = cli(cwd, "subscribers", "list").stdout
    for row in example_subscribers():
        (line,) = [x for x in people.splitlines() if x.startswith(row["email"] + " ")]
        assert "active" in line and row["timezone"] in line
        assert ",".join(row["categories"].split("|")) in line

    out = cwd / "x.html"
    reader = example_subscribers()[0]["email"]
    shown = cli(cwd, "preview", reader, "--out", str(out)).stdout
    subject = shown.splitlines()[0]
    assert str(out) in shown and out.is_file()
    page = out.read_text(encoding="utf-8")
    sent = [load(p) for p in (cwd / "var" / "outbox").glob("*.eml")]
    (message,) = [m for m in sent if m["To"].addresses[0].addr_spec == reader]
    assert subject == str(message["Subject"])  # today's digest, as it was sent
    text = str(message.get_body(("plain",)).get_content())
    links = re.findall(r"^ +(https?://\S+)$", text.replace("\r\n", "\n"), flags=re.MULTILINE)
    assert links and all(link in page for link in links)


def _small_setup(cwd: Path) -> None:
    """Two demo feeds as file:// sources, two readers due now (send hour 0, UTC)."""
    for name in ("cs.CV", "cs.LG"):
        url = (DEMO / "feeds" / f"arxiv_{name}.xml").resolve().as_uri()
        cli(cwd, "feeds", "add", url, "--label", f"arXiv ({name})", "--category", name)
    people = cwd / "people.csv"
    people.write_text("email,name,categories,timezone,send_hour,language\n"
                      "cv@example.org,CV Reader,cs.CV,UTC,0,en\n"
                      "lg@example.org,LG Reader,cs.LG,UTC,0,en\n", encoding="utf-8")
    imported = cli(cwd, "subscribers", "import", str(people)).stdout
    assert "2 added" in imported and "0 rejected" in imported
    cli(cwd, "feeds", "fetch")


def test_send_dry_run_writes_and_sends_nothing(tmp_path):
    _small_setup(tmp_path)
    dry = cli(tmp_path, "send", "--dry-run").stdout
    assert "would_send 2" in dry and "sent" not in dry
    # Who would get what: a row per reader, papers per category, the briefing kind.
    header, *rows, counts = dry.splitlines()
    assert header.split() == ["subscriber", "date", "digest", "papers", "per", "category",
                              "briefing"]
    assert counts == "send: would_send 2"
    listed = {row.split()[0]: row for row in rows}
    assert set(listed) == {"cv@example.org", "lg@example.org"}
    as_json = json.loads(cli(tmp_path, "send", "--dry-run", "--json").stdout)
    for digest in as_json["digests"]:
        row = listed[digest["email"]].split()
        assert row[1:4] == [digest["digest_date"], "new", str(len(digest["papers"]))]
        per = {}
        for paper in digest["papers"]:
            per[paper["category"]] = per.get(paper["category"], 0) + 1
        assert " ".join(row[4:-1]) == ", ".join(f"{g} {n}" for g, n in per.items())
        assert row[-1] == digest["briefing"] == "extractive"  # no LLM configured
    # With an endpoint set, the briefing is to be the LLM's (a dry run asks it nothing).
    llm = cli(tmp_path, "send", "--dry-run",
              env=clean_env(DIGEST_OPENAI_BASE_URL="http://127.0.0.1:9/v1")).stdout
    assert [row.split()[-1] for row in llm.splitlines()[1:-1]] == ["llm", "llm"]
    assert db_count(tmp_path, "delivery") == 0
    assert not list((tmp_path / "var").glob("outbox/*"))
    assert " send " not in cli(tmp_path, "runs").stdout  # a dry run leaves no Run row

    real = cli(tmp_path, "send").stdout  # the same selection, for real: the dry run was why
    assert "sent 2" in real
    assert db_count(tmp_path, "delivery") == 2
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 2


@pytest.mark.parametrize(("variable", "value", "wanted"), [
    ("DIGEST_MAX_PAPER", "3", "DIGEST_MAX_PAPERS"),
    ("DIGEST_DEFAULT_SEND_HOUR", "25", "0 to 23"),
    ("DIGEST_SMTP_URL", "http://x", "smtp://"),
])
def test_a_bad_environment_variable_exits_2_naming_it(tmp_path, variable, value, wanted):
    done = cli(tmp_path, "runs", env=clean_env(**{variable: value}), expect=2)
    assert f"{variable}:" in done.stderr and wanted in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()  # refused before touching anything


def test_a_bad_value_in_dot_env_exits_2_naming_it(tmp_path):
    (tmp_path / ".env").write_text("DIGEST_SMTP_URL=http://x\n", encoding="utf-8")
    done = cli(tmp_path, "runs", expect=2)
    assert "DIGEST_SMTP_URL:" in done.stderr and "smtp://" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_typo_in_dot_env_is_named_once_with_a_suggestion(tmp_path):
    (tmp_path / ".env").write_text("DIGEST_MAX_PAPER=3\n", encoding="utf-8")
    done = cli(tmp_path, "runs", expect=2)
    assert "DIGEST_DIGEST_" not in done.stderr, done.stderr
    assert "DIGEST_MAX_PAPER:" in done.stderr and "DIGEST_MAX_PAPERS" in done.stderr


def test_a_dot_env_shared_with_the_procfile_is_accepted(tmp_path):
    (tmp_path / ".env").write_text("PORT=8000\nDIGEST_MAX_PAPERS=3\n", encoding="utf-8")
    done = cli(tmp_path, "runs", expect=None)
    assert done.returncode == 0, done.stderr


def test_a_failing_source_is_reported_and_the_others_stay_ok(tmp_path, feed_server: FeedServer):
    cli(tmp_path, "demo")
    # `feeds add` refuses a feed whose test fetch fails: it breaks after it was added.
    url = feed_server.add_file("/x.xml", DEMO / "feeds" / "arxiv_cs.CV.xml")
    cli(tmp_path, "feeds", "add", url, "--label", "Journal (x)", "--category", "journal")
    feed_server.add_status("/x.xml", 500)
    fetched = cli(tmp_path, "feeds", "fetch", expect=None)
    assert fetched.returncode != 0
    assert "! Journal (x): HTTP 500" in fetched.stdout and "failed 1" in fetched.stdout
    assert "Traceback" not in fetched.stderr
    assert feed_server.hits["/x.xml"] == 2  # the test fetch, then the run's

    listed = cli(tmp_path, "feeds", "list").stdout.splitlines()
    (bad,) = [x for x in listed if x.startswith("Journal (x) ")]
    assert "ERROR HTTP 500" in bad
    labels = [x for x in listed if x and not x.startswith(" ") and x != bad]
    assert len(labels) == 7 and all(" ok, " in x and "ERROR" not in x for x in labels), listed


def test_send_to_an_unknown_subscriber_is_a_clear_error(tmp_path):
    _small_setup(tmp_path)
    done = cli(tmp_path, "send", "--subscriber", "unknown@example.org", expect=None)
    assert done.returncode != 0
    assert "no subscriber unknown@example.org" in done.stderr
    assert "Traceback" not in done.stderr
    assert db_count(tmp_path, "delivery") == 0


def test_preview_of_an_unknown_subscriber_is_a_clear_error(tmp_path):
    _small_setup(tmp_path)
    done = cli(tmp_path, "preview", "unknown@example.org", "--out", str(tmp_path / "p.html"),
               expect=None)
    assert done.returncode != 0
    assert "no subscriber unknown@example.org" in done.stderr
    assert "Traceback" not in done.stderr


IMPORT_CSV = ("\ufeffemail;name;categories;keywords;exclusions;timezone;send_hour;language\r\n"
              "cv@example.org;CV;cs.CV;;;UTC;7;en\r\n"                          # 2 added
              'f@example.org;"=HYPERLINK(""http://x"")";cs.LG;;;UTC;7;en\r\n'   # 3 added
              "bad-address;Bad;cs.CV;;;UTC;7;en\r\n"                           # 4 email
              "CV@Example.org;Dup;cs.CV;;;UTC;7;en\r\n"                        # 5 duplicate
              "tz@example.org;TZ;cs.CV;;;Mars/Base;7;en\r\n")                  # 6 timezone


def test_subscribers_import_dry_run_skip_invalid_and_export(tmp_path):
    env = clean_env(DIGEST_VAR_DIR=str(tmp_path / "var"))
    for name in ("cs.CV", "cs.LG"):
        url = (DEMO / "feeds" / f"arxiv_{name}.xml").resolve().as_uri()
        cli(tmp_path, "feeds", "add", url, "--label", f"arXiv ({name})", "--category", name,
            env=env)
    people = tmp_path / "people.csv"
    people.write_bytes(IMPORT_CSV.encode("utf-8"))
    rejects = tmp_path / "people.csv.rejected.csv"

    refused = cli(tmp_path, "subscribers", "import", str(people), env=env, expect=1)
    assert refused.stdout.splitlines()[0].startswith("refused, nothing written: 3 rows")
    assert db_count(tmp_path, "subscriber") == 0 and not rejects.exists()

    dry = cli(tmp_path, "subscribers", "import", str(people), "--dry-run", "--skip-invalid",
              env=env)
    assert dry.stdout.splitlines() == [
        "dry run, nothing written: 2 added, 0 updated, 0 unchanged, 0 left unsubscribed, "
        "3 rejected",
        "  add               cv@example.org",
        "  add               f@example.org",
        "  reject            line 4  (column 'email': An email address must have an @-sign.)",
        "  reject            line 5  (column 'email': duplicate of line 2)",
        "  reject            line 6  (column 'timezone': unknown time zone 'Mars/Base' "
        "(an IANA name such as 'Europe/Berlin'))",
    ]
    assert db_count(tmp_path, "subscriber") == 0 and not rejects.exists()
    assert "Traceback" not in dry.stderr and "\r" not in dry.stderr  # no bar without a TTY
    strict_dry = cli(tmp_path, "subscribers", "import", str(people), "--dry-run", env=env,
                     expect=1)
    assert "would be refused" in strict_dry.stdout

    done = cli(tmp_path, "subscribers", "import", str(people), "--skip-invalid", env=env)
    assert done.stdout.splitlines()[0] == (
        "imported: 2 added, 0 updated, 0 unchanged, 0 left unsubscribed, 3 rejected")
    assert f"rejected rows written to {rejects}" in done.stdout
    assert db_count(tmp_path, "subscriber") == 2
    with rejects.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert [r[:2] + r[3:4] for r in rows] == [
        ["line", "column", "email"], ["4", "email", "bad-address"],
        ["5", "email", "CV@Example.org"], ["6", "timezone", "tz@example.org"]]

    with sqlite3.connect(tmp_path / "var" / "digest.db") as db:
        db.execute("UPDATE subscriber SET status='unsubscribed' WHERE email='cv@example.org'")
    again = cli(tmp_path, "subscribers", "import", str(people), "--skip-invalid", env=env)
    assert again.stdout.splitlines()[0] == (
        "imported: 0 added, 0 updated, 1 unchanged, 1 left unsubscribed, 3 rejected")

    exported = cli(tmp_path, "subscribers", "export", "-", env=env).stdout
    assert exported.splitlines() == [
        "email,name,categories,keywords,exclusions,timezone,send_hour,language,cadence,weekday,"
        "status",
        "cv@example.org,CV,cs.CV,,,UTC,7,en,daily,,unsubscribed",
        "f@example.org,\"'=HYPERLINK(\"\"http://x\"\")\",cs.LG,,,UTC,7,en,daily,,active"]
    out = tmp_path / "export.csv"
    cli(tmp_path, "subscribers", "export", str(out), env=env)
    back = cli(tmp_path, "subscribers", "import", str(out), env=env)
    assert back.stdout.splitlines()[0] == (
        "imported: 0 added, 0 updated, 1 unchanged, 1 left unsubscribed, 0 rejected")


def test_preview_json_is_one_utf8_document_whatever_the_locale(demo_dir):
    cwd, _ = demo_dir
    reader = "priya.natarajan@example.ac.uk"
    done = subprocess.run([*COMMAND, "preview", reader, "--json"], cwd=cwd,
                          env=clean_env(PYTHONIOENCODING="ascii", LC_ALL="C"),
                          capture_output=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout.decode("utf-8"))
    assert set(document) == {"email", "digest_date", "retry", "briefing", "papers", "more"}
    assert document["email"] == reader and not document["retry"]
    assert document["briefing"] == "extractive"  # as it was sent
    # Today's digest as it was sent: its papers, in the email's order.
    sent = [load(p) for p in (cwd / "var" / "outbox").glob("*.eml")]
    (message,) = [m for m in sent if m["To"].addresses[0].addr_spec == reader]
    text = str(message.get_body(("plain",)).get_content()).replace("\r\n", "\n")
    links = re.findall(r"^ +(https://arxiv\.org/abs/\S+)$", text, flags=re.MULTILINE)
    assert [p["link"] for p in document["papers"]] == links
    title = "Scaling limits of the contact process on dynamic Erdős–Rényi graphs"
    assert title in [p["title"] for p in document["papers"]]
    assert title.encode() in done.stdout  # UTF-8 as it is, not \\u escapes

    refused = cli(cwd, "send", "--json", expect=2)
    assert "send --json needs --dry-run" in refused.stderr
