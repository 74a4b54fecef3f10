"""Acceptance (issue 12, admin 2): sources in a real browser (headless Chromium against the
real uvicorn server, feeds on loopback): log in, add a source that does not parse (refused
with the reason shown), add a good one, fetch it now, disable it, remove it."""

from __future__ import annotations

import pytest
from test_web_browser import PASSWORD, SHOTS, _wait_text, browser, live_server, make_site
from world import DEMO

pytestmark = pytest.mark.network
__all__ = ["browser", "live_server"]  # the fixtures this module's test uses


@pytest.fixture
def site(tmp_path, feed_server, live_server):
    """test_web_browser's site, whose admin may name the loopback feed server
    (refused by default: test_source_guard.py)."""
    return make_site(tmp_path, feed_server, live_server, sources_allow_private=True)


def test_admin_adds_a_bad_and_a_good_source_disables_and_removes_it(site, browser):
    from selenium.webdriver.common.by import By

    feeds, base = site.feeds, site.app.settings.base_url
    html = feeds.add_bytes("/journal.html", b"<html><body>Latest issue</body></html>",
                           content_type="text/html")
    good = feeds.add_file("/journal.xml", DEMO / "feeds" / "arxiv_cs.CV.xml")

    browser.get(base + "/admin")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Recent runs")
    browser.find_element(By.LINK_TEXT, "Sources").click()
    _wait_text(browser, "Add a source")
    before = len(site.app.sources.every())

    def add(url: str, label: str, category: str) -> None:
        for name, value in (("url", url), ("label", label), ("category", category)):
            field = browser.find_element(By.ID, name)
            field.clear()
            field.send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "#add-form button[type=submit]").click()

    add(html, "Journal of Things", "journal")
    _wait_text(browser, "Nothing was stored.")
    error = browser.find_element(By.ID, "url-error")
    assert error.text == "the test fetch failed: not an RSS or Atom feed" and error.is_displayed()
    assert browser.find_element(By.ID, "label").get_attribute("value") == "Journal of Things"
    assert len(site.app.sources.every()) == before
    browser.save_screenshot(str(SHOTS / "admin-source-refused.png"))

    add(good, "Journal of Things", "journal")
    _wait_text(browser, "Added. The test fetch found")
    source = site.app.sources.every()[-1]
    assert (source.url, source.label, source.category) == (good, "Journal of Things", "journal")
    rows = browser.find_elements(By.CSS_SELECTOR, "#fetches tr")
    assert "test fetch" in rows[1].text and "200" in rows[1].text
    site.subscribe("ada@example.org", ["journal", "cs.CV"])

    browser.find_element(By.CSS_SELECTOR, "#fetch-form button").click()
    _wait_text(browser, "Fetched: 14 items, 0 of them new.")  # the cs.CV source had them
    assert "fetch now" in browser.find_elements(By.CSS_SELECTOR, "#fetches tr")[1].text
    browser.save_screenshot(str(SHOTS / "admin-source-history.png"))

    browser.find_element(By.CSS_SELECTOR, "#active-form button").click()
    _wait_text(browser, "Disabled:")
    assert not site.app.sources.get(str(source.id)).active  # type: ignore[union-attr]
    assert browser.find_element(By.CSS_SELECTOR, "#active-form button").text == "Enable"

    browser.find_element(By.CSS_SELECTOR, "#remove-form input[name=confirm]").click()
    browser.find_element(By.CSS_SELECTOR, "#remove-form button").click()
    _wait_text(browser, "Removed: Journal of Things.")
    report = browser.find_element(By.ID, "removal").text
    assert "1 subscriber lost the category journal:" in report and "ada@example.org" in report
    assert "Journal of Things" not in browser.find_element(By.ID, "sources").text
    assert site.app.sources.get(good) is None and len(site.app.sources.every()) == before
    assert site.app.subscribers.by_email("ada@example.org").categories == [  # type: ignore[union-attr]
        "cs.CV"]
    browser.save_screenshot(str(SHOTS / "admin-source-removed.png"))
