"""Issue 12, acceptance 2: the admin dashboard in headless Chromium (real uvicorn) shows
charts whose numbers match what `digest-mailer runs` prints for the same database."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

import pytest
import webserver
from llm_server import LLMServer
from test_cli import COMMAND, TIMEOUT, clean_env
from test_dashboard import busy_days
from test_web_browser import PASSWORD, SHOTS, _wait_text, browser
from world import World

from digest_mailer.faces.web import create_app

live_server = webserver.live_server
pytestmark = pytest.mark.network
__all__ = ["browser", "live_server"]

# What each chart's series takes from the `runs` lines of a day: (run kind, the counts
# added up on a line, and over the day's lines sum or max). Written out here as the README
# says it, not read from the code under test.
FROM_RUNS = {
    "chart-digests": {"sent": ("send", ("sent",), sum), "failed": ("send", ("failed",), sum),
                      "empty": ("send", ("skipped_empty",), sum),
                      "bounced": ("replies", ("bounce_hard", "bounce_soft", "bounce_auth"),
                                  sum)},
    "chart-llm": {"llm-calls": ("send", ("llm_calls", "llm_tldr_calls"), sum),
                  "llm-cache-hits": ("send", ("llm_cache_hits", "llm_tldr_cache_hits"), sum)},
    "chart-tokens": {"llm-input-tokens": ("send", ("llm_prompt_tokens",), sum)},
    "chart-sources": {"sources-failing": ("ingest", ("failed",), max),
                      "fetch-failures": ("ingest", ("failed",), sum)},
}
LINE = re.compile(r"^(\d{4}-\d\d-\d\d) \d\d:\d\d (\w+)\s+(.*)$")


def runs_printed(env: dict[str, str], cwd: object,
                 *args: str) -> list[tuple[str, str, dict[str, int]]]:
    """`digest-mailer runs ARGS` in a subprocess: each line's (day, kind, counts)."""
    import subprocess

    done = subprocess.run([*COMMAND, "runs", *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=TIMEOUT, check=True)
    runs = []
    for line in done.stdout.splitlines():
        if line.startswith("    ! "):
            continue
        match = LINE.match(line)
        assert match, line
        day, kind, rest = match.groups()
        counts = {k: int(v) for k, v in (p.rsplit(" ", 1) for p in rest.split(", ") if p)}
        runs.append((day, kind, counts))
    return runs


def test_the_dashboard_shows_what_digest_mailer_runs_prints(
        tmp_path, feed_server, live_server, llm_server: LLMServer, browser) -> None:
    from selenium.webdriver.common.by import By

    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url,
                        admin_password=PASSWORD, openai_base_url=llm_server.base_url,
                        openai_api_key="sk-test", llm_retries=0)
    busy_days(world, feed_server)
    server.start(create_app(world.app))

    browser.get(server.base_url + "/admin")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Last 30 days")
    figure = browser.find_element(By.ID, "chart-digests-figure")
    browser.execute_script("arguments[0].scrollIntoView()", figure)
    browser.save_screenshot(str(SHOTS / "admin-dashboard.png"))

    # The charts show the 30 UTC days to today: `runs --since` their first day prints
    # every run of them, however many (plain `runs` stops at 20), and none before.
    today = world.now.date()
    env = {"DIGEST_DATABASE_URL": world.app.settings.effective_database_url}
    printed = runs_printed(env, tmp_path, "--since", f"{today - timedelta(days=29):%Y-%m-%d}")
    window = {f"{today - timedelta(days=i):%Y-%m-%d}" for i in range(30)}
    assert {day for day, _, _ in printed} <= window
    assert len(runs_printed(env, tmp_path)) == len(printed) + 1  # and the run before them
    for ident, series in FROM_RUNS.items():
        lines: dict[str, dict[str, list[int]]] = {key: defaultdict(list) for key in series}
        for day, kind, counts in printed:
            for key, (wanted, names, _) in series.items():
                if kind == wanted:
                    lines[key][day].append(sum(counts.get(n, 0) for n in names))
        expected = {key: {day: series[key][2](values) for day, values in lines[key].items()}
                    for key in series}
        # The table under the chart, opened as a reader would.
        figure = browser.find_element(By.ID, f"{ident}-figure")
        figure.find_element(By.TAG_NAME, "summary").click()
        table = figure.find_element(By.ID, f"{ident}-table")
        keys = [th.get_attribute("data-series")
                for th in table.find_elements(By.CSS_SELECTOR, "th[data-series]")]
        assert keys == list(series)
        shown: dict[str, dict[str, int]] = {key: {} for key in series}
        rows = table.find_elements(By.CSS_SELECTOR, "tr[data-day]")
        assert {row.get_attribute("data-day") for row in rows} == window
        for row in rows:
            cells = [int(td.text) for td in row.find_elements(By.CSS_SELECTOR, "td.n")]
            for key, value in zip(keys, cells, strict=True):
                if value:
                    shown[key][row.get_attribute("data-day")] = value
        # The pictures: each bar or point carries its number.
        drawn: dict[str, dict[str, int]] = {key: {} for key in series}
        for mark in figure.find_elements(By.CSS_SELECTOR, "svg [data-series]"):
            if int(mark.get_attribute("data-value")):
                drawn[mark.get_attribute("data-series")][mark.get_attribute("data-day")] = int(
                    mark.get_attribute("data-value"))
        for key in series:
            want = {d: v for d, v in expected[key].items() if v}
            assert shown[key] == want, (ident, key, shown[key], want)
            assert drawn[key] == want, (ident, key)
    # The scenario's figures are not all zero: the comparison compared something.
    assert sum(v for _, k, c in printed if k == "send" for n, v in c.items() if n == "sent") == 6
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
