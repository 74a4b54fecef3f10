"""Subscriber CSV import: parse_csv (pure) and apply_rows against a real SQLite database."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import store
from digest_mailer.errors import ImportRowError
from digest_mailer.importer import ImportReport, SubscriberRow, apply_rows, parse_csv
from digest_mailer.models import Subscriber

REPO = Path(__file__).resolve().parent.parent
HEADER = "email,name,categories,keywords,exclusions,timezone,send_hour,language\n"
CATEGORIES = ["cs.CV", "cs.AI", "cs.CL", "cs.LG", "math.PR", "quant-ph", "bioinformatics"]


def parse(text: str, *, categories: list[str] = CATEGORIES, timezone: str = "UTC",
          send_hour: int = 7) -> tuple[list[SubscriberRow], list[ImportRowError]]:
    return parse_csv(text, known_categories=categories, default_timezone=timezone,
                     default_send_hour=send_hour)


def errors_of(text: str) -> list[tuple[int, str]]:
    _rows_unused, errors = parse(text)
    return [(e.line, e.column) for e in errors]


# --- parse_csv: good rows ------------------------------------------------------------------------

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


# --- parse_csv: bad rows -------------------------------------------------------------------------

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
    assert [r.name for r in rows] == ["Line one\nline two"]


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
        ("diffusion", "gaussian splatting"), ("survey",), "Europe/Paris", 7, "en")
    assert [r.language for r in rows].count("zh") == 1
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]


# --- apply_rows ----------------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = store.make_engine("sqlite:///" + str(tmp_path / "t.db"))
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
        ada = store.subscriber_by_email(session, "ada@example.org")
        assert ada is not None
        assert (ada.name, ada.categories, ada.keywords, ada.excluded_keywords, ada.timezone,
                ada.send_hour, ada.language, ada.status) == (
            "Ada", ["cs.CV", "cs.LG"], ["diffusion"], ["survey"], "Europe/Paris", 7, "en",
            "active")
        assert len(store.all_subscribers(session)) == 2

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
        ada = store.subscriber_by_email(session, "ada@example.org")
        wei = store.subscriber_by_email(session, "wei@example.edu")
        assert ada is not None and wei is not None
        assert ada.keywords == ["diffusion", "flow matching"]
        assert wei.send_hour == 9
        assert len(store.all_subscribers(session)) == 3


@pytest.mark.parametrize("status", ["unsubscribed", "bounced"])
def test_unsubscribed_subscriber_stays_unsubscribed(engine: Engine, status: str) -> None:
    _apply(engine, _rows(ROWS))
    with Session(engine) as session:
        wei = store.subscriber_by_email(session, "wei@example.edu")
        assert wei is not None
        wei.status = status
        session.add(wei)
        session.commit()

    report = _apply(engine, _rows(ROWS.replace("retrieval", "retrieval|agents")))
    assert report.kept_unsubscribed == ["wei@example.edu"]
    assert report.added == []
    with Session(engine) as session:
        wei = store.subscriber_by_email(session, "wei@example.edu")
        ada = store.subscriber_by_email(session, "ada@example.org")
        assert wei is not None and ada is not None
        assert wei.status == status
        assert ada.status == "active"
        assert len(store.all_subscribers(session)) == 2


def test_apply_keeps_an_existing_subscriber_public_id(engine: Engine) -> None:
    _apply(engine, _rows(ROWS))
    with Session(engine) as session:
        before = store.subscriber_by_email(session, "ada@example.org")
        assert before is not None
        public_id, row_id = before.public_id, before.id
    _apply(engine, _rows(ROWS.replace("Ada,", "Ada M.,")))
    with Session(engine) as session:
        after = session.get(Subscriber, row_id)
        assert after is not None
        assert (after.public_id, after.name) == (public_id, "Ada M.")
