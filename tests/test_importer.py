"""Subscriber CSV import: parse (pure) and apply_rows against a real SQLite database."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from digest_mailer import db
from digest_mailer.db.models import Subscriber
from digest_mailer.domain.library import Seed
from digest_mailer.errors import ImportRowError
from digest_mailer.services.import_rows import SubscriberRow
from digest_mailer.services.import_rows import parse as parse_file
from digest_mailer.services.importer import ImportReport, apply_rows

REPO = Path(__file__).resolve().parent.parent
HEADER = "email,name,categories,keywords,exclusions,timezone,send_hour,language\n"
CATEGORIES = ["cs.CV", "cs.AI", "cs.CL", "cs.LG", "math.PR", "quant-ph", "bioinformatics"]
# What a row without a time zone or send hour gets (the settings' defaults, which the
# faces pass in: the importer has none of its own).
NEWCOMER: dict[str, Any] = {"default_timezone": "UTC", "default_send_hour": 7}


def parse(text: str, *, categories: list[str] = CATEGORIES, timezone: str = "UTC",
          send_hour: int = 7) -> tuple[list[SubscriberRow], list[ImportRowError]]:
    parsed = parse_file(text, known_categories=categories, default_timezone=timezone,
                        default_send_hour=send_hour)
    return parsed.rows, parsed.errors


def errors_of(text: str) -> list[tuple[int, str]]:
    _rows_unused, errors = parse(text)
    return [(e.line, e.column) for e in errors]


# --- parse: good rows ------------------------------------------------------------------------

def test_full_row_with_bom_quoted_commas_upper_case_header_and_lists() -> None:
    text = ("\ufeffEMAIL,Name,CATEGORIES,Keywords,EXCLUSIONS,TimeZone,SEND_HOUR,Language\n"
            'ada@Example.ORG,"Moreau, Ada",CS.cv | cs.LG,'
            '"diffusion | gaussian splatting, 3D |diffusion",survey||,Europe/Paris,9,ZH\n')
    rows, errors = parse(text)
    assert errors == []
    assert rows == [SubscriberRow(
        line=2, email="ada@example.org", name="Moreau, Ada", categories=("cs.CV", "cs.LG"),
        keywords=("diffusion", "gaussian splatting, 3D"), exclusions=("survey",),
        timezone="Europe/Paris", send_hour=9, language="zh")]


def test_defaults_fill_empty_cells() -> None:
    rows, errors = parse(HEADER + "wei@example.edu,,cs.CL,,,,,\n",
                         timezone="Asia/Shanghai", send_hour=6)
    assert errors == []
    assert rows == [SubscriberRow(2, "wei@example.edu", "", ("cs.CL",), (), (),
                                  "Asia/Shanghai", 6, "en")]


def test_keywords_alone_are_enough_and_missing_columns_are_empty() -> None:
    rows, errors = parse("email,keywords\nk@example.org,random walk|entanglement\n")
    assert errors == []
    assert [(r.categories, r.keywords, r.timezone, r.send_hour, r.language) for r in rows] == [
        ((), ("random walk", "entanglement"), "UTC", 7, "en")]


def test_bom_alone_does_not_hide_the_email_column() -> None:
    rows, errors = parse("\ufeffemail,categories\nbom@example.org,cs.AI\n")
    assert errors == []
    assert [r.email for r in rows] == ["bom@example.org"]


def test_header_without_email_column() -> None:
    rows, errors = parse("mail,categories\na@example.org,cs.AI\n")
    assert rows == []
    assert [(e.line, e.column) for e in errors] == [(1, "email")]


# --- parse: bad rows -------------------------------------------------------------------------

def test_every_bad_row_is_reported_with_its_line_and_column() -> None:
    text = HEADER + "".join([
        "good@example.org,Good,cs.AI,,,,,\n",                 # 2
        "not-an-address,Bad,cs.AI,,,,,\n",                   # 3
        "good@example.org,Again,cs.LG,,,,,\n",               # 4 duplicate of 2
        "case@Example.Org,,cs.AI,,,,,\n",                    # 5
        "case@EXAMPLE.org,,cs.AI,,,,,\n",                    # 6 duplicate of 5 (domain case)
        "cat@example.org,,cs.AI|cs.XX,,,,,\n",               # 7 unknown category
        "tz@example.org,,cs.AI,,,Mars/Olympus_Mons,,\n",     # 8 bad time zone
        "hour@example.org,,cs.AI,,,,24,\n",                  # 9 bad send hour
        "lang@example.org,,cs.AI,,,,,fr\n",                  # 10 bad language
        "empty@example.org,Nobody,,,,,,\n",                  # 11 no category nor keyword
        "last@example.org,,cs.CV,,,,,\n",                    # 12
    ])
    rows, errors = parse(text)
    assert [(e.line, e.column) for e in errors] == [
        (3, "email"), (4, "email"), (6, "email"), (7, "categories"), (8, "timezone"),
        (9, "send_hour"), (10, "language"), (11, "categories")]
    assert [(r.line, r.email) for r in rows] == [
        (2, "good@example.org"), (5, "case@example.org"), (12, "last@example.org")]
    by_line = {e.line: e for e in errors}
    assert by_line[4].reason == "duplicate of line 2"
    assert by_line[6].reason == "duplicate of line 5"
    assert "'cs.XX'" in by_line[7].reason
    assert "'Mars/Olympus_Mons'" in by_line[8].reason
    assert str(by_line[9]) == "line 9, column 'send_hour': must be an hour from 0 to 23"


@pytest.mark.parametrize("hour", ["24", "-1", "7.5", "seven", " 9h", "99"])
def test_bad_send_hours(hour: str) -> None:
    assert errors_of(f"email,categories,send_hour\nh@example.org,cs.AI,{hour}\n") == [
        (2, "send_hour")]


@pytest.mark.parametrize("hour, expected", [("0", 0), ("23", 23), ("07", 7), (" 8 ", 8)])
def test_good_send_hours(hour: str, expected: int) -> None:
    rows, errors = parse(f"email,categories,send_hour\nh@example.org,cs.AI,{hour}\n")
    assert errors == []
    assert rows[0].send_hour == expected


def test_superscript_send_hour_is_a_row_error_not_a_crash() -> None:
    assert errors_of("email,categories,send_hour\nh@example.org,cs.AI,²\n") == [
        (2, "send_hour")]


def test_bad_default_timezone_is_reported_per_row() -> None:
    rows, errors = parse("email,categories\na@example.org,cs.AI\n", timezone="Nowhere/City")
    assert rows == []
    assert [(e.line, e.column) for e in errors] == [(2, "timezone")]


def test_line_numbers_count_blank_lines_and_multiline_cells() -> None:
    text = (HEADER
            + "\n"                                               # 2 blank
            + 'multi@example.org,"Line one\nline two",cs.AI,,,,,\n'  # 3-4
            + "bad-address,,cs.AI,,,,,\n"                        # 5
            + "\n"                                               # 6 blank
            + "x@example.org,,cs.XX,,,,,\n")                     # 7
    rows, errors = parse(text)
    assert [(e.line, e.column) for e in errors] == [(5, "email"), (7, "categories")]
    # one record across lines 3-4 (a name keeps no newline: issue 8 strips C0 controls)
    assert [r.name for r in rows] == ["Line one line two"]


def test_error_in_multiline_record_points_at_its_first_line() -> None:
    text = HEADER + 'bad-address,"Line one\nline two",cs.AI,,,,,\n'
    assert errors_of(text) == [(2, "email")]


def test_example_csv_parses_without_errors() -> None:
    with (REPO / "demo" / "sources.csv").open(newline="", encoding="utf-8") as f:
        categories = [row["category"] for row in csv.DictReader(f)]
    assert "bioinformatics" in categories
    text = (REPO / "subscribers.example.csv").read_text(encoding="utf-8")
    rows, errors = parse(text, categories=categories)
    assert errors == []
    assert len(rows) == len(text.strip().splitlines()) - 1 == 5
    assert rows[0] == SubscriberRow(
        2, "ada.moreau@example.org", "Ada Moreau", ("cs.CV", "cs.LG"),
        ("diffusion", "gaussian splatting"), ("survey",), "Europe/Paris", 7, "en",
        cadence="daily")
    assert [r.language for r in rows].count("zh") == 1
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]


# --- apply_rows ----------------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine.make_engine("sqlite:///" + str(tmp_path / "t.db"))
    yield engine
    engine.dispose()


def _rows(text: str) -> list[SubscriberRow]:
    rows, errors = parse(HEADER + text)
    assert errors == []
    return rows


ROWS = ("ada@example.org,Ada,cs.CV|cs.LG,diffusion,survey,Europe/Paris,7,en\n"
        "wei@example.edu,Wei,cs.CL,retrieval,,Asia/Shanghai,8,zh\n")


def _apply(engine: Engine, rows: list[SubscriberRow]) -> ImportReport:
    with Session(engine) as session:
        return apply_rows(session, rows)


def test_apply_adds_then_leaves_unchanged(engine: Engine) -> None:
    report = _apply(engine, _rows(ROWS))
    assert (report.added, report.updated, report.unchanged, report.kept_unsubscribed) == (
        ["ada@example.org", "wei@example.edu"], [], [], [])
    with Session(engine) as session:
        ada = db.subscribers.by_email(session, "ada@example.org")
        assert ada is not None
        assert (ada.name, ada.categories, ada.keywords, ada.excluded_keywords, ada.timezone,
                ada.send_hour, ada.language, ada.status) == (
            "Ada", ["cs.CV", "cs.LG"], ["diffusion"], ["survey"], "Europe/Paris", 7, "en",
            "active")
        assert len(db.subscribers.every(session)) == 2

    again = _apply(engine, _rows(ROWS))
    assert (again.added, again.updated, again.unchanged) == (
        [], [], ["ada@example.org", "wei@example.edu"])
    assert again.summary() == ("0 added, 0 updated, 2 unchanged, 0 left unsubscribed, "
                               "0 rejected")


def test_apply_updates_changed_rows(engine: Engine) -> None:
    _apply(engine, _rows(ROWS))
    changed = ROWS.replace("Asia/Shanghai,8,zh", "Asia/Shanghai,9,zh").replace(
        "diffusion,survey", "diffusion|flow matching,survey")
    report = _apply(engine, _rows(changed + "new@example.org,,cs.AI,,,,,\n"))
    assert (report.added, report.updated, report.unchanged) == (
        ["new@example.org"], ["ada@example.org", "wei@example.edu"], [])
    with Session(engine) as session:
        ada = db.subscribers.by_email(session, "ada@example.org")
        wei = db.subscribers.by_email(session, "wei@example.edu")
        assert ada is not None and wei is not None
        assert ada.keywords == ["diffusion", "flow matching"]
        assert wei.send_hour == 9
        assert len(db.subscribers.every(session)) == 3


@pytest.mark.parametrize("status", ["unsubscribed", "bounced"])
def test_unsubscribed_subscriber_stays_unsubscribed(engine: Engine, status: str) -> None:
    _apply(engine, _rows(ROWS))
    with Session(engine) as session:
        wei = db.subscribers.by_email(session, "wei@example.edu")
        assert wei is not None
        wei.status = status
        session.add(wei)
        session.commit()

    report = _apply(engine, _rows(ROWS.replace("retrieval", "retrieval|agents")))
    assert report.kept_unsubscribed == ["wei@example.edu"]
    assert report.added == []
    with Session(engine) as session:
        wei = db.subscribers.by_email(session, "wei@example.edu")
        ada = db.subscribers.by_email(session, "ada@example.org")
        assert wei is not None and ada is not None
        assert wei.status == status
        assert ada.status == "active"
        assert len(db.subscribers.every(session)) == 2


def test_apply_keeps_an_existing_subscriber_public_id(engine: Engine) -> None:
    _apply(engine, _rows(ROWS))
    with Session(engine) as session:
        before = db.subscribers.by_email(session, "ada@example.org")
        assert before is not None
        public_id, row_id = before.public_id, before.id
    _apply(engine, _rows(ROWS.replace("Ada,", "Ada M.,")))
    with Session(engine) as session:
        after = session.get(Subscriber, row_id)
        assert after is not None
        assert (after.public_id, after.name) == (public_id, "Ada M.")


# --- import_csv: the acceptance file (issue 3) ---------------------------------------------------

from digest_mailer.services.exporter import export_csv, neutralise, restore  # noqa: E402
from digest_mailer.services.importer import RESUBSCRIBED, import_csv  # noqa: E402

BASE = (HEADER
        + "ada@example.org,Ada,cs.CV|cs.LG,diffusion,survey,Europe/Paris,7,en\n"
        + "wei@example.edu,Wei,cs.CL,retrieval,,Asia/Shanghai,8,zh\n"
        + "gone@example.org,Gone,cs.AI,,,UTC,7,en\n")
FORMULA = '=HYPERLINK("http://evil.example","x")'
# Excel's "CSV UTF-8" with a semicolon list separator: BOM, ";", CRLF, quoted cells.
ACCEPTANCE = ("\ufeffEmail ; Name;Categories;Keywords;Exclusions;TimeZone;Send_Hour;Language\r\n"
              "ada@example.org;Ada;cs.CV|cs.LG;diffusion;survey;Europe/Paris;7;en\r\n"   # 2
              "wei@example.edu;Wei;CS.cl;retrieval|agents;;Asia/Shanghai;9;zh\r\n"       # 3
              'new@example.org;"=HYPERLINK(""http://evil.example"",""x"")";cs.AI;'
              "+1|@SUM(A1);;UTC;6;en\r\n"                                               # 4
              "not-an-address;Bad;cs.AI;;;UTC;7;en\r\n"                                 # 5
              "NEW@Example.org;Dup;cs.AI;;;UTC;7;en\r\n"                                # 6
              "tz@example.org;TZ;cs.AI;;;Mars/Base;7;en\r\n"                            # 7
              "gone@example.org;Gone Again;cs.AI|cs.CV;;;UTC;7;en\r\n").encode()        # 8
REJECTED = [(5, "email"), (6, "email"), (7, "timezone")]


def state(engine: Engine) -> dict[str, tuple[object, ...]]:
    with Session(engine) as session:
        return {s.email: (s.status, s.status_reason, s.name, s.categories, s.keywords,
                          s.excluded_keywords, s.timezone, s.send_hour, s.language)
                for s in db.subscribers.every(session)}


def _setup(engine: Engine, status: str = "unsubscribed") -> None:
    report = import_csv(engine, BASE, **NEWCOMER, known_categories=CATEGORIES)
    assert report.written and report.added == ["ada@example.org", "wei@example.edu",
                                               "gone@example.org"]
    with Session(engine) as session:
        gone = db.subscribers.by_email(session, "gone@example.org")
        assert gone is not None
        gone.status, gone.status_reason = status, "one-click"
        session.add(gone)
        session.commit()


def test_acceptance_default_refuses_and_writes_nothing(engine: Engine) -> None:
    _setup(engine)
    before = state(engine)
    report = import_csv(engine, ACCEPTANCE, **NEWCOMER, known_categories=CATEGORIES)
    assert report.refused and not report.written
    assert [(e.line, e.column) for e in report.rejected] == REJECTED
    reasons = {e.line: e.reason for e in report.rejected}
    assert "@-sign" in reasons[5]
    assert reasons[6] == "duplicate of line 4"
    assert "'Mars/Base'" in reasons[7]
    assert (report.added, report.updated, report.unchanged) == ([], [], [])
    assert report.headline().startswith("refused, nothing written: 3 rows rejected")
    assert state(engine) == before


def test_acceptance_dry_run_prints_the_exact_plan_and_writes_nothing(engine: Engine) -> None:
    _setup(engine)
    before = state(engine)
    report = import_csv(engine, ACCEPTANCE, **NEWCOMER, known_categories=CATEGORIES, dry_run=True,
                        skip_invalid=True)
    assert not report.written and not report.refused
    assert report.lines(everything=True) == [
        "  add               new@example.org",
        "  update            wei@example.edu  (keywords, send_hour)",
        "  unchanged         ada@example.org",
        "  kept unsubscribed gone@example.org  (unsubscribed)",
        "  reject            line 5  (column 'email': " + report.rejected[0].reason + ")",
        "  reject            line 6  (column 'email': duplicate of line 4)",
        "  reject            line 7  (column 'timezone': unknown time zone 'Mars/Base' "
        "(an IANA name such as 'Europe/Berlin'))",
    ]
    assert report.headline() == ("dry run, nothing written: 1 added, 1 updated, 1 unchanged, "
                                 "1 left unsubscribed, 3 rejected")
    assert state(engine) == before
    # Without --skip-invalid the dry run says the real run would be refused.
    strict = import_csv(engine, ACCEPTANCE, **NEWCOMER, known_categories=CATEGORIES, dry_run=True)
    assert strict.refused and strict.added == ["new@example.org"]
    assert "would be refused" in strict.headline()
    assert state(engine) == before


def test_acceptance_skip_invalid_writes_the_good_rows_and_the_rejects(
        database_url: str, tmp_path: Path) -> None:
    engine = db.engine.make_engine(database_url, auto_migrate=True)
    try:
        _setup(engine)
        before = state(engine)
        report = import_csv(engine, ACCEPTANCE, **NEWCOMER,
                            known_categories=CATEGORIES, skip_invalid=True)
        after = state(engine)
    finally:
        engine.dispose()
    assert report.written and not report.refused
    assert report.summary() == ("1 added, 1 updated, 1 unchanged, 1 left unsubscribed, "
                                "3 rejected")
    assert after["ada@example.org"] == before["ada@example.org"]
    assert after["wei@example.edu"][4] == ["retrieval", "agents"]
    assert after["wei@example.edu"][7] == 9
    # The formula is stored as the text it is, never evaluated or altered.
    assert after["new@example.org"][2:5] == (FORMULA, ["cs.AI"], ["+1", "@SUM(A1)"])
    # Unsubscribed stays unsubscribed, and its row is not touched at all.
    assert after["gone@example.org"] == before["gone@example.org"]
    assert set(after) == {"ada@example.org", "wei@example.edu", "gone@example.org",
                          "new@example.org"}

    out = tmp_path / "rejected.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        report.write_rejects(handle)
    with out.open(newline="", encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written[0][:4] == ["line", "column", "reason", "Email "]
    assert [(r[0], r[1], r[3]) for r in written[1:]] == [
        ("5", "email", "not-an-address"), ("6", "email", "NEW@Example.org"),
        ("7", "timezone", "tz@example.org")]
    assert written[2][2] == "duplicate of line 4"


@pytest.mark.parametrize("status", ["unsubscribed", "bounced"])
def test_resubscribe_reactivates_with_a_log_record(engine: Engine, status: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    _setup(engine, status)
    plain = import_csv(engine, ACCEPTANCE, **NEWCOMER,
                       known_categories=CATEGORIES, skip_invalid=True)
    assert plain.kept_unsubscribed == ["gone@example.org"] and not plain.resubscribed
    assert state(engine)["gone@example.org"][0] == status
    assert not [r for r in caplog.records if "resubscribed" in r.getMessage()]

    with caplog.at_level("WARNING", logger="digest_mailer.services.importer"):
        report = import_csv(engine, ACCEPTANCE, **NEWCOMER, known_categories=CATEGORIES,
                            skip_invalid=True, resubscribe=True)
    assert report.resubscribed == ["gone@example.org"] and report.kept_unsubscribed == []
    assert report.summary().endswith("3 rejected, 1 resubscribed")
    assert report.lines(everything=False)[0] == (
        f"  resubscribe       gone@example.org  (was {status})")
    gone = state(engine)["gone@example.org"]
    assert gone[:4] == ("active", RESUBSCRIBED, "Gone Again", ["cs.AI", "cs.CV"])
    (record,) = [r for r in caplog.records if "resubscribed" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert "gone@example.org" in record.getMessage() and status in record.getMessage()


def test_export_neutralises_formulas_and_round_trips_unchanged(engine: Engine,
                                                               tmp_path: Path) -> None:
    _setup(engine)
    import_csv(engine, ACCEPTANCE, **NEWCOMER, known_categories=CATEGORIES, skip_invalid=True)
    before = state(engine)
    out = tmp_path / "export.csv"
    with out.open("w", newline="", encoding="utf-8-sig") as handle, Session(engine) as session:
        assert export_csv(session, handle) == 4
    with out.open(newline="", encoding="utf-8-sig") as handle:
        rows = {r["email"]: r for r in csv.DictReader(handle)}
    assert rows["new@example.org"]["name"] == "'" + FORMULA
    assert rows["new@example.org"]["keywords"] == "'+1|@SUM(A1)"
    assert rows["gone@example.org"]["status"] == "unsubscribed"
    assert rows["ada@example.org"] == {
        "email": "ada@example.org", "name": "Ada", "categories": "cs.CV|cs.LG",
        "keywords": "diffusion", "exclusions": "survey", "timezone": "Europe/Paris",
        "send_hour": "7", "language": "en", "cadence": "daily", "weekday": "",
        "status": "active"}
    for row in rows.values():  # no cell a spreadsheet would evaluate
        assert all(not v or v[0] not in "=+-@\t\r" for v in row.values())

    again = import_csv(engine, out.read_bytes(), **NEWCOMER, known_categories=CATEGORIES)
    assert again.written and again.rejected == []
    assert (again.added, again.updated) == ([], [])
    assert sorted(again.unchanged) == ["ada@example.org", "new@example.org", "wei@example.edu"]
    assert again.kept_unsubscribed == ["gone@example.org"]
    assert state(engine) == before


@pytest.mark.parametrize("value", ["=1+1", "+33 1", "-x", "@here", "\tx", "'=x", "''+y",
                                   "'plain", "plain", "", "'", "a=b"])
def test_neutralise_and_restore_are_inverse(value: str) -> None:
    assert restore(neutralise(value)) == value
    assert neutralise(value)[:1] not in ("=", "+", "-", "@", "\t", "\r")


# --- import_csv: files as Excel and others write them ----------------------------------------

def test_non_utf8_file_is_refused_naming_the_line(engine: Engine) -> None:
    data = ((HEADER + "a@example.org,Ada,cs.AI,,,,,\n").encode()
            + "b@example.org,José,cs.AI,,,,,\n".encode("cp1252"))
    report = import_csv(engine, data, **NEWCOMER, known_categories=CATEGORIES, skip_invalid=True)
    assert report.refused and not report.written
    (error,) = report.rejected
    assert (error.line, error.column) == (3, "file")
    assert "not UTF-8" in error.reason and "0xe9" in error.reason
    assert state(engine) == {}
    utf16 = import_csv(engine, HEADER.encode("utf-16"), **NEWCOMER, known_categories=CATEGORIES)
    assert utf16.refused and "UTF-16" in utf16.rejected[0].reason


@pytest.mark.parametrize("text", [
    "sep=;\r\nemail;categories;;\r\nx@example.org;cs.AI;;\r\n\r\n",
    "\ufeffsep=;\nemail;categories\nx@example.org;cs.AI\n",
    "email\tcategories\nx@example.org\tcs.AI\n",
    " EMAIL , Categories ,,,\r\nx@example.org, cs.AI ,,,\r\n",
    '"email","categories"\r\n"x@example.org","cs.AI"\r\n',
])
def test_excel_style_files(text: str) -> None:
    parsed = parse_file(text, **NEWCOMER, known_categories=CATEGORIES)
    assert parsed.errors == []
    assert [(r.email, r.categories) for r in parsed.rows] == [("x@example.org", ("cs.AI",))]
    assert parsed.rows[0].line == (3 if text.lstrip("\ufeff").startswith("sep=") else 2)


def test_extra_cells_and_duplicate_header_columns() -> None:
    assert errors_of("email,categories\nx@example.org,cs.AI,oops\n") == [(2, "(extra cells)")]
    parsed = parse_file("email,Email\nx@example.org,y@example.org\n", **NEWCOMER,
                        known_categories=CATEGORIES)
    assert parsed.fatal and [(e.line, e.column) for e in parsed.errors] == [(1, "email")]


def test_zone_names_are_matched_case_insensitively() -> None:
    rows, errors = parse("email,categories,timezone\nx@example.org,cs.AI,europe/PARIS\n")
    assert errors == [] and rows[0].timezone == "Europe/Paris"


def test_addresses_are_lower_cased_and_a_legacy_mixed_case_row_is_updated(
        engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Subscriber(email="Ada.Moreau@example.org", categories=["cs.AI"]))
        session.commit()
    report = import_csv(engine, "email,categories\nADA.moreau@Example.org,cs.AI\n",
                        **NEWCOMER, known_categories=CATEGORIES)
    assert report.updated == ["ada.moreau@example.org"]
    assert report.changes["ada.moreau@example.org"] == ("email",)
    assert list(state(engine)) == ["ada.moreau@example.org"]


def test_thousands_of_rows_in_chunks(engine: Engine) -> None:
    text = HEADER + "".join(f"r{i}@example.org,R {i},cs.AI,,,UTC,7,en\n" for i in range(2500))
    first = import_csv(engine, text, **NEWCOMER, known_categories=CATEGORIES)
    assert len(first.added) == 2500
    again = import_csv(engine, text.replace("R 7,", "R seven,"), **NEWCOMER,
                       known_categories=CATEGORIES)
    assert (len(again.unchanged), again.updated) == (2499, ["r7@example.org"])
    assert len(state(engine)) == 2500


# --- the library column ------------------------------------------------------------------------

LIBRARY_HEADER = HEADER.rstrip("\n") + ",library\n"


def _seeds(engine: Engine, email: str) -> list[tuple[str | None, str | None, str]]:
    with Session(engine) as session:
        reader = db.subscribers.by_email(session, email)
        assert reader is not None
        return [(s.arxiv_id, s.doi, s.kind) for s in db.library.of(session, reader.id or 0)]


def test_the_library_column_is_checked_with_its_line() -> None:
    rows, errors = parse(LIBRARY_HEADER
                         + "ada@example.org,,cs.CV,,,,,,arXiv:2401.01234v2|10.1038/X|\n"
                         + "bob@example.org,,cs.CV,,,,,,2401.01234|my homepage\n"
                         + "eve@example.org,,cs.CV,,,,,,\n")
    assert [(e.line, e.column, e.reason) for e in errors] == [
        (3, "library", "not an arXiv id or DOI: 'my homepage'")]
    assert [(r.email, r.library) for r in rows] == [
        ("ada@example.org", (Seed(arxiv_id="2401.01234"), Seed(doi="10.1038/x"))),
        ("eve@example.org", None)]


def test_the_library_cell_replaces_seeds_an_empty_cell_keeps_them(engine: Engine) -> None:
    _apply(engine, _rows(ROWS))
    first = _apply_library(
        engine, "ada@example.org,Ada,cs.CV|cs.LG,diffusion,survey,Europe/Paris,7,en,"
                "2401.00001|2401.00002\n"
                "new@example.org,,cs.CV,,,,,,2401.00003\n")
    assert (first.added, first.updated, first.changes) == (
        ["new@example.org"], ["ada@example.org"], {"ada@example.org": ("library",)})
    assert _seeds(engine, "ada@example.org") == [("2401.00001", None, "library"),
                                                 ("2401.00002", None, "library")]
    assert _seeds(engine, "new@example.org") == [("2401.00003", None, "library")]

    same = _apply_library(engine, "ada@example.org,Ada,cs.CV|cs.LG,diffusion,survey,"
                                  "Europe/Paris,7,en,2401.00001|2401.00002\n")
    assert same.unchanged == ["ada@example.org"]
    kept = _apply_library(engine, "ada@example.org,Ada,cs.CV|cs.LG,diffusion,survey,"
                                  "Europe/Paris,7,en,\n")
    assert kept.unchanged == ["ada@example.org"]
    assert len(_seeds(engine, "ada@example.org")) == 2


def _apply_library(engine: Engine, text: str) -> ImportReport:
    rows, errors = parse(LIBRARY_HEADER + text)
    assert errors == []
    return _apply(engine, rows)


def cadences(engine: Engine) -> dict[str, tuple[str, int]]:
    with Session(engine) as session:
        return {s.email: (s.cadence, s.weekday) for s in db.subscribers.every(session)}


def test_cadence_and_weekday_import_export_and_stay_when_a_file_leaves_them_out(
        engine: Engine, tmp_path: Path) -> None:
    weekly = ("email,categories,cadence,weekday\n"
              "ada@example.org,cs.CV,weekly,Fri\nwei@example.edu,cs.CL,daily,\n")
    report = import_csv(engine, weekly, **NEWCOMER, known_categories=CATEGORIES)
    assert report.added == ["ada@example.org", "wei@example.edu"]
    assert cadences(engine) == {"ada@example.org": ("weekly", 4), "wei@example.edu": ("daily", 0)}

    # An older file without the columns changes neither; a new row there is daily.
    older = HEADER + ("ada@example.org,,cs.CV,,,UTC,7,en\nwei@example.edu,,cs.CL,,,UTC,7,en\n"
                      "new@example.org,,cs.LG,,,UTC,7,en\n")
    again = import_csv(engine, older, **NEWCOMER, known_categories=CATEGORIES)
    assert again.unchanged == ["ada@example.org", "wei@example.edu"]
    assert cadences(engine)["ada@example.org"] == ("weekly", 4)
    assert cadences(engine)["new@example.org"] == ("daily", 0)

    # The export writes them (a weekly reader's day by name) and imports back unchanged.
    out = tmp_path / "export.csv"
    with out.open("w", newline="", encoding="utf-8") as handle, Session(engine) as session:
        export_csv(session, handle)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = {r["email"]: (r["cadence"], r["weekday"]) for r in csv.DictReader(handle)}
    assert rows["ada@example.org"] == ("weekly", "fri")
    assert rows["wei@example.edu"] == ("daily", "")
    back = import_csv(engine, out.read_bytes(), **NEWCOMER, known_categories=CATEGORIES)
    assert back.rejected == [] and len(back.unchanged) == 3

    # Moving a reader to another day is an update naming the field; weekly needs a day.
    moved = import_csv(engine, "email,categories,weekday\nada@example.org,cs.CV,mon\n",
                       **NEWCOMER, known_categories=CATEGORIES)
    assert moved.changes["ada@example.org"] == ("weekday",)
    refused = import_csv(engine, "email,categories,cadence\nwei@example.edu,cs.CL,weekly\n",
                         **NEWCOMER, known_categories=CATEGORIES)
    assert [(e.line, e.column) for e in refused.rejected] == [(2, "weekday")]
    assert not refused.written and cadences(engine)["wei@example.edu"] == ("daily", 0)


def test_two_imports_racing_for_one_new_address_end_in_a_conflict_not_a_crash(
        tmp_path, database_url):
    """The CLI and the browser importing the same new reader at once: one is written, the
    other is the ImportConflict the faces show ("run the import again"), never a raw
    database error."""
    from conftest import at_once

    from digest_mailer.db.engine import make_engine
    from digest_mailer.errors import ImportConflict

    engine = make_engine(database_url, auto_migrate=True)
    data = (HEADER + "a@example.org,A,cs.CV,,,UTC,7,en\n").encode()
    outcomes = at_once(lambda: import_csv(engine, data, known_categories=["cs.CV"],
                                          default_timezone="UTC", default_send_hour=7), 2)
    assert all(isinstance(o, ImportReport | ImportConflict) for o in outcomes), outcomes
    assert any(isinstance(o, ImportReport) and o.added == ["a@example.org"] for o in outcomes)
    with Session(engine) as session:
        assert [s.email for s in session.exec(select(Subscriber))] == ["a@example.org"]
