"""One subscriber validator (issue 9, acceptance 2): one table of profiles, three faces.

Every case goes through (a) a CSV file and the real importer, (b) the preferences page
over HTTP (FastAPI's TestClient, with the page's CSRF token) and (c) the CLI's
``digest-mailer subscribers add``, in process through ``faces.cli.main``. Each face must give
the table's answer: accepted with the same canonical stored values, or refused naming the
same field and leaving the subscriber as it was.
The CLI answers with exit 1 and one line per bad field on stderr, or exit 0.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from world import demo_sources, make_settings

from digest_mailer import db
from digest_mailer.app import App
from digest_mailer.db.models import Subscriber
from digest_mailer.domain.subscriber import MAX_ITEM_CHARS, MAX_ITEMS, MAX_PAPERS, MIN_PAPERS
from digest_mailer.faces.web import create_app
from digest_mailer.services.importer import import_csv
from digest_mailer.text import one_line

BASE_URL = "https://digest.example.org"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
WEB_ERROR = re.compile(r'id="(\w+)-error"')
STORED = ("categories", "keywords", "excluded_keywords", "timezone", "send_hour", "language",
          "max_papers", "cadence", "weekday")

# What every case starts from, in the faces' own terms (lists become "|" cells, lines or
# arguments); a case overrides some of it.
BASE: dict[str, Any] = {"categories": ["cs.CV"], "keywords": ["diffusion"], "exclusions": [],
                        "timezone": "Europe/Berlin", "send_hour": "6", "language": "en",
                        "max_papers": "12", "cadence": "daily", "weekday": ""}
CANONICAL: dict[str, Any] = {"categories": ["cs.CV"], "keywords": ["diffusion"],
                             "excluded_keywords": [], "timezone": "Europe/Berlin",
                             "send_hour": 6, "language": "en", "max_papers": 12,
                             "cadence": "daily", "weekday": 0}


@dataclass(frozen=True)
class Case:
    name: str
    given: dict[str, Any]
    refused: frozenset[str] = frozenset()  # the fields named; empty: accepted
    stored: dict[str, Any] = field(default_factory=dict)  # canonical values beyond CANONICAL

    def fields(self) -> dict[str, Any]:
        return {**BASE, **self.given}


def ok(name: str, stored: dict[str, Any] | None = None, **given: Any) -> Case:
    return Case(name, given, stored=stored or {})


def bad(name: str, refused: str, **given: Any) -> Case:
    return Case(name, given, refused=frozenset(refused.split()))


WORDS = [f"{i:02d}" + "w" * (MAX_ITEM_CHARS - 2) for i in range(MAX_ITEMS)]

CASES = [
    ok("baseline"),
    # time zones: any case, any spaces around → the IANA spelling
    ok("zone lower case", {"timezone": "Asia/Shanghai"}, timezone="asia/shanghai"),
    ok("zone upper case", {"timezone": "America/New_York"}, timezone="AMERICA/NEW_YORK"),
    ok("zone with spaces", {"timezone": "Europe/Paris"}, timezone="  europe/PARIS "),
    ok("zone utc", {"timezone": "UTC"}, timezone="utc"),
    bad("zone unknown", "timezone", timezone="Mars/Olympus"),
    bad("zone path", "timezone", timezone="../../etc/passwd"),
    # keywords and exclusions: 50 of at most 100 characters, cleaned, de-duplicated
    ok("keywords at the caps", {"keywords": WORDS}, keywords=WORDS),
    bad("keywords one too many", "keywords", keywords=[f"k{i}" for i in range(MAX_ITEMS + 1)]),
    bad("keyword one too long", "keywords", keywords=["q" * (MAX_ITEM_CHARS + 1)]),
    bad("exclusions one too many", "exclusions",
        exclusions=[f"e{i}" for i in range(MAX_ITEMS + 1)]),
    bad("exclusion one too long", "exclusions", exclusions=["x" * (MAX_ITEM_CHARS + 1)]),
    ok("keywords folded and de-duplicated", {"keywords": ["graph neural network", "GAN"]},
       keywords=["  graph   neural network ", "GAN", "GAN"]),
    ok("bidi and control characters in keywords", {"keywords": ["diffusion", "flow matching"]},
       keywords=["\u202ediffusion\u200b", "flow\x07matching"]),
    ok("bidi characters in exclusions", {"excluded_keywords": ["survey"]},
       exclusions=["sur\u2066vey\u2069"]),
    # categories: the configured ones, matched case-insensitively
    ok("category in another case", {"categories": ["cs.CV", "cs.LG"]},
       categories=["CS.cv", "cs.lg"]),
    bad("category unknown", "categories", categories=["cs.XX"]),
    ok("keywords without categories", {"categories": []}, categories=[]),
    bad("neither categories nor keywords", "categories", categories=[], keywords=[]),
    # language: the known codes
    ok("language upper case", {"language": "zh"}, language="ZH"),
    bad("language unknown", "language", language="fr"),
    # send hour: 0-23 in ASCII digits
    ok("hour 0", {"send_hour": 0}, send_hour="0"),
    ok("hour 23", {"send_hour": 23}, send_hour="23"),
    ok("hour as text", {"send_hour": 7}, send_hour="7"),
    ok("hour with spaces", {"send_hour": 7}, send_hour=" 7 "),
    bad("hour -1", "send_hour", send_hour="-1"),
    bad("hour 24", "send_hour", send_hour="24"),
    bad("hour 7.5", "send_hour", send_hour="7.5"),
    bad("hour in Arabic-Indic digits", "send_hour", send_hour="\u0667"),
    # the reader's digest size
    ok("max papers lowest", {"max_papers": MIN_PAPERS}, max_papers=str(MIN_PAPERS)),
    ok("max papers highest", {"max_papers": MAX_PAPERS}, max_papers=str(MAX_PAPERS)),
    bad("max papers too few", "max_papers", max_papers=str(MIN_PAPERS - 1)),
    bad("max papers too many", "max_papers", max_papers=str(MAX_PAPERS + 1)),
    bad("max papers not a number", "max_papers", max_papers="lots"),
    # cadence: daily, or weekly on a weekday (mon…sun, a full name, or 0 = Monday … 6)
    ok("weekly on friday", {"cadence": "weekly", "weekday": 4}, cadence="weekly", weekday="fri"),
    ok("weekly, full day name in capitals", {"cadence": "weekly", "weekday": 6},
       cadence="WEEKLY", weekday=" Sunday "),
    ok("weekday as a digit", {"cadence": "weekly", "weekday": 0}, cadence="weekly", weekday="0"),
    ok("daily with a weekday given", {"weekday": 2}, cadence="daily", weekday="wed"),
    bad("cadence unknown", "cadence", cadence="monthly"),
    bad("weekly without a weekday", "weekday", cadence="weekly", weekday=""),
    bad("weekday unknown", "weekday", cadence="weekly", weekday="funday"),
    bad("weekday 7", "weekday", cadence="weekly", weekday="7"),
    bad("weekday in Arabic-Indic digits", "weekday", cadence="weekly", weekday="\u0663"),
    # several bad fields at once: each is named
    bad("three bad fields", "timezone send_hour language", timezone="Nowhere/Land",
        send_hour="25", language="xx"),
]


@dataclass
class Site:
    app: App
    client: TestClient
    root: Path
    count: int = 0

    def reader(self, face: str) -> Subscriber:
        """A fresh subscriber in a known state, for one face of one case."""
        self.count += 1
        with Session(self.app.engine) as session:
            subscriber = Subscriber(email=f"{face}-{self.count}@example.org", name="Reader",
                                    categories=["cs.AI"], keywords=["kept"], timezone="UTC",
                                    send_hour=7, language="en")
            session.add(subscriber)
            session.commit()
            session.refresh(subscriber)
            return subscriber

    def stored(self, email: str) -> dict[str, Any]:
        with Session(self.app.engine) as session:
            subscriber = db.subscribers.by_email(session, email)
            assert subscriber is not None, email
            return {name: getattr(subscriber, name) for name in STORED}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("rules")
    app = App(make_settings(root, base_url=BASE_URL))
    with Session(app.engine) as session:  # the categories come from the sources
        for row in demo_sources():
            db.sources.add(session, f"https://feeds.example.org/{row['url']}", row["label"],
                           row["category"])
        session.commit()
    with TestClient(create_app(app), base_url=BASE_URL, follow_redirects=False) as client:
        yield Site(app, client, root)


@dataclass
class Answer:
    refused: frozenset[str]  # the fields named
    stored: dict[str, Any]  # the subscriber's values afterwards


def through_csv(site: Site, case: Case) -> Answer:
    email = site.reader("csv").email
    given = case.fields()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "categories", "keywords", "exclusions", "timezone", "send_hour",
                     "language", "max_papers", "cadence", "weekday"])
    writer.writerow([email, "|".join(given["categories"]), "|".join(given["keywords"]),
                     "|".join(given["exclusions"]), given["timezone"], given["send_hour"],
                     given["language"], given["max_papers"], given["cadence"],
                     given["weekday"]])
    settings = site.app.settings
    report = import_csv(site.app.engine, out.getvalue(),
                        default_timezone=settings.default_timezone,
                        default_send_hour=settings.default_send_hour,
                        smtputf8=settings.smtp_utf8)
    assert report.written != bool(report.rejected), report.lines(everything=True)
    return Answer(frozenset(e.column for e in report.rejected), site.stored(email))


def through_page(site: Site, case: Case) -> Answer:
    reader = site.reader("web")
    given = case.fields()
    path = site.app.signer.links(reader.public_id, "none").preferences
    path = path.removeprefix(BASE_URL)
    page = site.client.get(path)
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token
    response = site.client.post(path, data={
        "categories": given["categories"], "keywords": "\n".join(given["keywords"]),
        "exclusions": "\n".join(given["exclusions"]), "timezone": given["timezone"],
        "send_hour": given["send_hour"], "language": given["language"],
        "max_papers": given["max_papers"], "cadence": given["cadence"],
        "weekday": given["weekday"], "csrf": token.group(1)})
    refused = frozenset(WEB_ERROR.findall(response.text))
    assert response.status_code == (400 if refused else 200), response.text[-1500:]
    return Answer(refused, site.stored(reader.email))


def _cli(site: Site, args: list[str], monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``digest-mailer ARGS`` in this process, configured as the site is (environment only)."""
    from digest_mailer.faces import cli

    settings = site.app.settings
    for key in list(os.environ):
        if key.startswith(("DIGEST_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DIGEST_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("DIGEST_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("DIGEST_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DIGEST_BASE_URL", settings.base_url)
    monkeypatch.chdir(site.root)  # no stray .env
    capsys.readouterr()
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse: an unknown command or option
        code = exit_.code if isinstance(exit_.code, int) else 2
    return code, capsys.readouterr().err


def through_cli(site: Site, case: Case, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> Answer:
    email = site.reader("cli").email
    given = case.fields()
    code, err = _cli(site, [
        "subscribers", "add", email, "--categories", "|".join(given["categories"]),
        "--keywords", "|".join(given["keywords"]), "--exclusions", "|".join(given["exclusions"]),
        f"--timezone={given['timezone']}", f"--send-hour={given['send_hour']}",
        f"--language={given['language']}", f"--max-papers={given['max_papers']}",
        f"--cadence={given['cadence']}", f"--weekday={given['weekday']}",
    ], monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == (1 if lines else 0), (code, err)
    named = frozenset(name for name in CANONICAL_FIELDS
                      if any(_names(line, name) for line in lines))
    assert len(lines) == len(named), err  # one line per bad field
    return Answer(named, site.stored(email))


CANONICAL_FIELDS = ("categories", "keywords", "exclusions", "timezone", "send_hour",
                    "language", "max_papers", "cadence", "weekday", "email")


def _names(line: str, name: str) -> bool:
    """Does a CLI error line name this field (as the field or as its option)?"""
    option = "--" + name.replace("_", "-")
    return re.search(rf"(?<![\w-])({re.escape(name)}|{re.escape(option)})(?![\w-])",
                     line) is not None


UNCHANGED = {"categories": ["cs.AI"], "keywords": ["kept"], "excluded_keywords": [],
             "timezone": "UTC", "send_hour": 7, "language": "en", "max_papers": None,
             "cadence": "daily", "weekday": 0}


def expect(case: Case, answer: Answer) -> None:
    assert answer.refused == case.refused
    assert answer.stored == (UNCHANGED if case.refused else {**CANONICAL, **case.stored})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_importer_answers_as_the_table_says(site: Site, case: Case) -> None:
    expect(case, through_csv(site, case))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_preferences_page_answers_as_the_table_says(site: Site, case: Case) -> None:
    expect(case, through_page(site, case))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_cli_answers_as_the_table_says(site: Site, case: Case,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    expect(case, through_cli(site, case, monkeypatch, capsys))


# --- the address: the CSV and the CLI take one (the page never changes it) --------------------

ADDRESSES = [("Ada.Lovelace@Example.ORG", "ada.lovelace@example.org"),
             ("  padded@example.org ", "padded@example.org"),
             ("not-an-address", None), ("two@@example.org", None),
             ("üser@example.org", None)]  # a non-ASCII local part needs DIGEST_SMTP_UTF8


@pytest.mark.parametrize("given, stored", ADDRESSES)
def test_the_importer_and_the_cli_take_the_same_addresses(
        site: Site, given: str, stored: str | None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = site.app.settings
    report = import_csv(site.app.engine, f"email,categories\n{given},cs.CV\n",
                        default_timezone=settings.default_timezone,
                        default_send_hour=settings.default_send_hour,
                        smtputf8=settings.smtp_utf8)
    assert [e.column for e in report.rejected] == ([] if stored else ["email"])
    assert report.added == ([stored] if stored else [])

    cli_email = given.replace("@", "+cli@", 1) if stored else given
    code, err = _cli(site, ["subscribers", "add", cli_email, "--categories", "cs.CV"],
                     monkeypatch, capsys)
    if stored is None:
        assert code == 1 and any(_names(line, "email") for line in err.splitlines()), err
    else:
        assert code == 0, err
        assert site.stored(stored.replace("@", "+cli@", 1))["categories"] == ["cs.CV"]


def test_the_cleaning_the_table_relies_on() -> None:
    """The one invisible-character rule (digest_mailer/text.py) the validator applies."""
    assert one_line("\u202eAda\u200b \u2066Love\u00adlace\u2069\x07\x85\u200f\ufeff") == (
        "Ada Lovelace")
    assert one_line(" a\r\n\tb\x00c\u2028 d ") == "a b c d"
    assert one_line("محمد\u200cعلی Zoë 王小明") == "محمدعلی Zoë 王小明"


def test_the_preferences_page_shows_the_cadence_and_a_form_without_it_keeps_it(
        site: Site) -> None:
    reader = site.reader("web-cadence")
    path = site.app.signer.links(reader.public_id, "none").preferences.removeprefix(BASE_URL)
    token = CSRF.search(site.client.get(path).text)
    assert token
    form = {"categories": ["cs.CV"], "keywords": "diffusion", "timezone": "UTC",
            "send_hour": "7", "language": "en", "max_papers": "12", "csrf": token.group(1)}
    saved = site.client.post(path, data={**form, "cadence": "weekly", "weekday": "4"})
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    assert '<option value="weekly" selected>' in saved.text
    assert '<option value="4" selected>Friday</option>' in saved.text
    assert (site.stored(reader.email)["cadence"], site.stored(reader.email)["weekday"]) == (
        "weekly", 4)
    # A form of an older page (no cadence fields) leaves them as they are.
    kept = site.client.post(path, data=form)
    assert kept.status_code == 200
    assert (site.stored(reader.email)["cadence"], site.stored(reader.email)["weekday"]) == (
        "weekly", 4)
