"""The admin dashboard: the runs' counts per day (real SQLite, runs written by the real
services) and the charts' SVG (parsed as XML; hostile words escaped; an empty month)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from feedserver import FeedServer
from llm_server import LLMServer
from sqlmodel import Session
from test_i18n import visible, zh_faults
from test_web import BASE, PASSWORD, login
from world import DEMO, World, arxiv_items, at, with_items

from digest_mailer import db
from digest_mailer.db.models import Run
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.charts import Series, chart, scale, text
from digest_mailer.faces.web.dashboard import charts
from digest_mailer.services.dashboard import DAYS, SERIES, SUMS, per_day

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "</title><script>alert('x')</script> & \"quoted\" \x01\x1b"
HOSTILE_SEEN = "</title><script>alert('x')</script> & \"quoted\" "  # the controls dropped


def _expected(reports: dict[date, list[tuple[str, Counter[str]]]]) -> dict[str, dict[date, int]]:
    """Each day's figures as the reports the services returned say, summed by hand."""
    out: dict[str, dict[date, int]] = {name: {} for name in SERIES}
    for day, runs in reports.items():
        for name, (kind, keys) in SUMS.items():
            out[name][day] = sum(c[k] for r_kind, c in runs if r_kind == kind for k in keys)
        out["sources_failing"][day] = max(
            (c["failed"] for r_kind, c in runs if r_kind == "ingest"), default=0)
    return out


def _save_run(world: World, kind: str, started: datetime, **counts: int) -> None:
    with Session(world.app.engine) as session:
        db.runs.save(session, Run(kind=kind, started_at=started, counts=counts))
        session.commit()


def busy_days(world: World, feed_server: FeedServer) -> dict[date, list[tuple[str, Counter[str]]]]:
    """Three days of ingest and send runs through the real services (a good feed, a feed
    that fails under a hostile label, a reader with papers, one with none), a replies run
    with a bounce and runs at the window's edges; each day's (kind, counts) as returned."""
    shell, items = arxiv_items((DEMO / "feeds" / "arxiv_cs.CV.xml").read_bytes())
    feed_server.add_bytes("/cv.xml", with_items(shell, items[:4]))
    feed_server.add_status("/gone.xml", 404)
    world.add_source("/cv.xml", "arXiv (cs.CV)", "cs.CV")
    world.add_source("/gone.xml", HOSTILE, "cs.XX")
    world.subscribe("cv@example.org", ["cs.CV"])
    world.subscribe("nothing@example.org", ["cs.XX"])  # its only source fails: empty digests
    reports: dict[date, list[tuple[str, Counter[str]]]] = {}

    def run(when: datetime, *what: str) -> None:
        world.now = when
        for name in what:
            report = world.app.ingest.refresh() if name == "ingest" else world.app.send.send()
            reports.setdefault(when.date(), []).append((report.kind, report.counts))

    run(at(1, 7), "ingest", "send")
    run(at(2, 7), "ingest", "send")
    run(at(3, 0), "ingest")  # midnight: the new day's first run
    run(at(3, 7), "ingest", "send")
    # A bounce read from the mailbox (the replies run's counts), and runs out of the window.
    _save_run(world, "replies", at(2, 9), messages=2, bounce_hard=1, unverified_bounce=1)
    reports[date(2026, 11, 2)].append(("replies", Counter(bounce_hard=1, unverified_bounce=1)))
    first = date(2026, 11, 3) - timedelta(days=DAYS - 1)
    _save_run(world, "send", datetime(first.year, first.month, first.day, tzinfo=UTC), sent=5)
    reports[first] = [("send", Counter(sent=5))]
    _save_run(world, "send", datetime(first.year, first.month, first.day, tzinfo=UTC)
              - timedelta(seconds=1), sent=100)
    return reports


def test_the_runs_of_several_days_summed_per_day_from_sqlite(
        tmp_path: Path, feed_server: FeedServer, llm_server: LLMServer) -> None:
    world = World.build(tmp_path, feed_server, openai_base_url=llm_server.base_url,
                        openai_api_key="sk-test", llm_retries=0)
    reports = busy_days(world, feed_server)
    first = date(2026, 11, 3) - timedelta(days=DAYS - 1)

    seen = world.app.status.last_days()
    assert seen.days[0] == first and seen.days[-1] == date(2026, 11, 3) == world.now.date()
    assert len(seen.days) == DAYS
    expected = _expected(reports)
    for name in SERIES:
        got = {d: v for d, v in zip(seen.days, seen.of(name), strict=True) if v}
        assert got == {d: v for d, v in expected[name].items() if v}, name
    # What the scenario did, read off the figures.
    assert seen.of("sent")[-3:] == (1, 0, 0) and seen.of("sent")[0] == 5  # not the 100
    assert seen.of("empty")[-3:] == (1, 2, 2)  # day 1: one empty; then nothing new for both
    assert seen.of("bounced")[-3:] == (0, 1, 0)
    assert seen.of("fetch_failures")[-3:] == (1, 1, 2)
    assert seen.of("sources_failing")[-3:] == (1, 1, 1)
    assert seen.of("llm_calls")[-3] >= 1 and seen.of("llm_input_tokens")[-3] > 0
    assert seen.errors[-1] and all(e.startswith(HOSTILE) for e in seen.errors[-1])


def test_a_day_is_the_utc_date_the_cli_prints() -> None:
    late = Run(kind="send", started_at=datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC),
               counts={"sent": 1})
    early = Run(kind="send", started_at=datetime(2026, 11, 3, 0, 0, tzinfo=UTC),
                counts={"sent": 2})
    seen = per_day([late, early], date(2026, 11, 3), days=2)
    assert seen.days == (date(2026, 11, 2), date(2026, 11, 3))
    assert seen.of("sent") == (1, 2)
    assert f"{late.started_at:%Y-%m-%d}" == "2026-11-02"  # as `digest-mailer runs` prints it


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def test_the_svg_is_well_formed_and_hostile_words_stay_text() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    made = chart("chart-x", HOSTILE, HOSTILE, days,
                 [Series("a", HOSTILE, [0, 3, 1]), Series("b", "b", [2, 0, 7])],
                 notes=["", HOSTILE, ""])
    root = _parse(str(made.svg))
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert root.find(f"{SVG}title").text == HOSTILE_SEEN  # type: ignore[union-attr]
    bars = {(e.get("data-series"), e.get("data-day")): int(e.get("data-value") or 0)
            for e in root.iter(f"{SVG}rect") if e.get("data-series")}
    assert bars == {("a", "2026-11-02"): 3, ("a", "2026-11-03"): 1,
                    ("b", "2026-11-01"): 2, ("b", "2026-11-03"): 7}
    tips = [e.find(f"{SVG}title").text for e in root.iter(f"{SVG}rect")  # type: ignore[union-attr]
            if e.get("data-day") == "2026-11-02"]
    assert tips == [f"2026-11-02 · {HOSTILE_SEEN}: 3\n{HOSTILE_SEEN}"]
    assert "<script>" not in str(made.svg) and "\x01" not in str(made.svg)
    # A bar is as tall as its value against the axis: 7 is the top of 8 by 2.
    heights = {e.get("data-value"): float(e.get("height") or 0) for e in root.iter(f"{SVG}rect")
               if e.get("data-series")}
    assert heights["7"] / heights["1"] == pytest.approx(7, rel=0.02)
    assert made.rows[1] == (days[1], [3, 0], HOSTILE)
    with pytest.raises(ValueError):
        chart('x" onload="y', "t", "d", days, [])
    with pytest.raises(ValueError):
        chart("x", "t", "d", days, [Series("a", "a", [1])])


def test_an_empty_month_renders_every_chart() -> None:
    empty = per_day([], date(2026, 11, 3))
    for lang in ("en", "zh"):
        for made in charts(empty, lang):
            root = _parse(str(made.svg))
            assert not [e for e in root.iter(f"{SVG}rect") if e.get("data-series")]
            assert len(made.rows) == DAYS and all(v == 0 for _, vs, _ in made.rows for v in vs)
            points = [e for e in root.iter(f"{SVG}circle")]
            assert len(points) in (0, DAYS)  # a line chart still shows its 30 zeros
    (tokens,) = [c for c in charts(empty, "en") if c.ident == "chart-tokens"]
    assert "2026-10-05 to 2026-11-03" in tokens.desc and "Input tokens 0" in tokens.desc


@pytest.mark.parametrize(("top", "step", "axis"), [
    (0, 1, 1), (1, 1, 1), (4, 1, 4), (7, 2, 8), (9, 5, 10), (40, 10, 40), (41, 20, 60),
    (12_345, 5_000, 15_000)])
def test_the_axis_has_at_most_four_round_steps(top: int, step: int, axis: int) -> None:
    assert scale(top) == (step, axis)


def test_text_escapes_for_attributes_too() -> None:
    assert text('a"b<c>&\'') == "a&quot;b&lt;c&gt;&amp;&#x27;"


def test_the_overview_shows_the_charts_in_chinese(tmp_path: Path, feed_server: FeedServer) -> None:
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD, admin_language="zh")
    feed_server.add_status("/gone.xml", 404)
    world.add_source("/gone.xml", HOSTILE, "cs.XX")
    world.app.ingest.refresh()
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as client:
        login(client)
        page = client.get("/admin").text
    for key in ("digests", "llm", "tokens", "sources"):
        assert page.count(f'id="chart-{key}"') == 1
    assert "每日摘要邮件" in page and "最近30天" in page
    assert "<script>" not in page
    heading = visible(page).split("最近30天", 1)[1].split("来源\n", 1)[0]
    assert zh_faults(heading) == []
    row = re.search(r'<tr data-day="2026-11-01">(.*?)</tr>',
                    page.split('id="chart-sources-table"', 1)[1], re.S)
    assert row and '<td class="n">1</td><td class="n">1</td>' in row.group(1)
