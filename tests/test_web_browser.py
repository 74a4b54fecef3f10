"""Acceptance: the pages in a real browser (Debian's headless Chromium via chromedriver),
against the real uvicorn server on 127.0.0.1, without any JavaScript of ours.

Screenshots are kept as test artefacts in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import webserver
from conftest import REPO, require
from sqlmodel import Session, select
from world import World

from digest_mailer import db
from digest_mailer.db.models import Subscriber, Vote
from digest_mailer.faces.web import create_app

live_server = webserver.live_server
pytestmark = pytest.mark.network

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = REPO / "artifacts" / "screenshots"
LIBRARY = REPO / "tests" / "library"
PASSWORD = "browser-admin-password"
WAIT = 10


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    require(Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    require(Path(CHROMEDRIVER).exists(),
            "chromedriver is not installed (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                 "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                 "--window-size=1100,900", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def make_site(tmp_path, feed_server, live_server, **settings) -> World:
    """The demo sources ingested, served by a live uvicorn; ``settings`` over the test's."""
    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url,
                        admin_password=PASSWORD, **settings)
    world.add_demo_sources()
    world.app.ingest.refresh()
    server.start(create_app(world.app))
    return world


@pytest.fixture
def site(tmp_path, feed_server, live_server):
    return make_site(tmp_path, feed_server, live_server)


def _reader(world: World) -> Subscriber:
    return world.subscribe("ada@example.org", ["cs.CV"], name="Ada", keywords=["diffusion"])


def _fresh(world: World, reader: Subscriber) -> Subscriber:
    with Session(world.app.engine) as session:
        row = session.get(Subscriber, reader.id)
        assert row is not None
        return row


def _wait_text(driver, text: str) -> None:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shows(d) -> bool:  # type: ignore[no-untyped-def]
        try:
            return text in d.find_element(By.TAG_NAME, "body").text
        except WebDriverException as err:
            # Chromium's way of saying stale, when the body is swapped mid-read: read again.
            if "does not belong to the document" in str(err):
                return False
            raise

    # The page may be replaced while it is read (a form was just submitted): read again.
    WebDriverWait(driver, WAIT, ignored_exceptions=(
        StaleElementReferenceException, NoSuchElementException)).until(shows)


def test_unsubscribe_in_a_browser_then_undo(site, browser):
    from selenium.webdriver.common.by import By

    reader = _reader(site)
    links = site.app.signer.links(reader.public_id, "none")
    browser.get(links.unsubscribe)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Unsubscribe from the research digest?"
    assert _fresh(site, reader).status == "active"  # loading the page changed nothing
    browser.save_screenshot(str(SHOTS / "unsubscribe-confirm.png"))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "You are unsubscribed")
    undo = browser.find_element(By.CSS_SELECTOR, "form[action$='/undo'] button")
    assert "Undo" in undo.text and undo.is_displayed()
    assert _fresh(site, reader).status == "unsubscribed"
    browser.save_screenshot(str(SHOTS / "unsubscribed-undo.png"))
    undo.click()
    _wait_text(browser, "You are subscribed again")
    assert (_fresh(site, reader).status, _fresh(site, reader).status_reason) == ("active", "undo")


def test_preferences_in_a_browser_save_and_field_errors(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    reader = _reader(site)
    url = site.app.signer.links(reader.public_id, "none").preferences
    browser.get(url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your digest preferences"
    browser.find_element(By.CSS_SELECTOR, "input[name=categories][value='cs.LG']").click()
    Select(browser.find_element(By.ID, "send_hour")).select_by_value("6")
    keywords = browser.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("diffusion\ngraph neural network")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Saved.")
    assert browser.find_element(By.ID, "saved").is_displayed()
    saved = _fresh(site, reader)
    assert saved.categories == ["cs.CV", "cs.LG"] and saved.send_hour == 6
    assert saved.keywords == ["diffusion", "graph neural network"]
    browser.save_screenshot(str(SHOTS / "preferences-saved.png"))

    zone = browser.find_element(By.ID, "timezone")
    zone.clear()
    zone.send_keys("Mars/Olympus_Mons")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Nothing was saved")
    error = browser.find_element(By.ID, "timezone-error")
    assert "Unknown time zone" in error.text and error.is_displayed()
    field = error.find_element(By.XPATH, "..")  # the error sits in the field's own block
    assert field.find_element(By.ID, "timezone").get_attribute("value") == "Mars/Olympus_Mons"
    assert _fresh(site, reader).timezone == "UTC"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    browser.save_screenshot(str(SHOTS / "preferences-error.png"))

    # The library: a BibTeX file chosen in the file input, its seeds listed, one removed.
    browser.get(url)
    browser.find_element(By.ID, "library-file").send_keys(str(LIBRARY / "zotero.bib"))
    browser.find_element(By.CSS_SELECTOR, "form#upload button[type=submit]").click()
    _wait_text(browser, "Library saved: 3 papers")
    seeds = browser.find_elements(By.CSS_SELECTOR, "#seeds li")
    assert [s.find_element(By.CLASS_NAME, "seed-text").text for s in seeds] == [
        "Attention Is All You Need",
        "Denoising Diffusion Probabilistic Models for Schrödinger bridges",
        "A note on Gröbner bases by Kollár"]
    browser.save_screenshot(str(SHOTS / "preferences-library.png"))
    seeds[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_text(browser, "Removed from your library.")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#seeds li")) == 2
    assert site.app.library.seeds(reader.email)[0].title.startswith("Denoising")

    # A phone: 390 CSS pixels wide. The page fits without sideways scrolling.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    browser.get(url)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    button = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    assert button.size["height"] >= 40  # big enough for a thumb
    browser.save_screenshot(str(SHOTS / "preferences-phone-390.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_admin_in_a_browser_login_and_csv_upload(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base = site.app.settings.base_url
    browser.get(base + "/admin")
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Wrong password")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, "Recent runs")
    assert "arXiv (cs.CV)" in browser.find_element(By.ID, "sources").find_element(
        By.XPATH, "following-sibling::div").text
    cookie = browser.get_cookie("digest_admin")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.save_screenshot(str(SHOTS / "admin-overview.png"))

    upload = tmp_path / "subscribers.csv"
    upload.write_text("email,name,categories,keywords,exclusions,timezone,send_hour,language\n"
                      "grace@example.org,Grace,cs.CV|cs.LG,,,Europe/Berlin,7,en\n"
                      "not-an-address,X,cs.CV,,,UTC,7,en\n", encoding="utf-8")
    browser.find_element(By.LINK_TEXT, "Import").click()
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/import'] button").click()
    _wait_text(browser, "Dry run, nothing written yet")
    assert "1 to add" in browser.find_element(By.ID, "report").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#rejected tr")
    assert rows[1].text.startswith("3 email")  # the line and the reason
    browser.save_screenshot(str(SHOTS / "admin-import-preview.png"))
    browser.find_element(By.ID, "confirm-all").click()  # all or nothing: refused
    _wait_text(browser, "Refused, nothing written")
    with Session(site.app.engine) as session:
        assert db.subscribers.by_email(session, "grace@example.org") is None
    browser.find_element(By.ID, "confirm-good").click()
    _wait_text(browser, "Imported:")
    report = browser.find_element(By.ID, "report").text
    assert "1 added" in report and "1 rejected" in report
    browser.save_screenshot(str(SHOTS / "admin-import-report.png"))
    with Session(site.app.engine) as session:
        grace = db.subscribers.by_email(session, "grace@example.org")
        assert grace is not None
        db.subscribers.set_status(session, grace, "bounced", "5.1.1 no such user", "bounce",
                                  site.app.clock())
        session.commit()

    browser.find_element(By.LINK_TEXT, "Subscribers").click()
    _wait_text(browser, "grace@example.org")
    browser.find_element(By.LINK_TEXT, "grace@example.org").click()
    _wait_text(browser, "Status history")
    browser.find_element(By.ID, "reason").send_keys("confirmed the address by phone")
    browser.find_element(By.CSS_SELECTOR, "#resubscribe button").click()
    _wait_text(browser, "active again")
    history = browser.find_element(By.ID, "history").text
    assert "bounced → active confirmed the address by phone admin" in history
    assert "5.1.1 no such user bounce" in history
    browser.save_screenshot(str(SHOTS / "admin-subscriber.png"))
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    _wait_text(browser, "Admin login")


def test_the_full_list_of_the_day_opened_from_the_email_and_a_vote_from_it(site, browser):
    """Issue 10, acceptance 3: the "N more" link of a sent digest opens every paper of the
    day, ranked, with reasons; a "more like this" button on a paper the email left out
    records the vote."""
    from selenium.webdriver.common.by import By
    from test_reader_models import LLM_LIBRARY

    reader = site.subscribe("llm@example.org", ["cs.LG"], keywords=["conformal prediction"])
    site.app.library.load(reader.email, LLM_LIBRARY)
    assert site.app.send.send().counts["sent"] == 1
    (eml,) = sorted(site.app.settings.effective_outbox_dir.glob("*.eml"))
    html = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(
        ("html",)).get_content()
    link = re.search(r'<a href="([^"]+/v/[^"/]+/all)">(\d+) more in cs\.LG today</a>', html)
    assert link, "no 'N more' link in the sent digest"
    with Session(site.app.engine) as session:
        delivery = db.deliveries.of_day(session, reader.id, date(2026, 11, 1))
        assert delivery is not None

    browser.get(link.group(1))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your full list for 1 November 2026"
    cards = browser.find_elements(By.CSS_SELECTOR, ".paper")
    assert len(cards) == len(delivery.entry_keys) + int(link.group(2))
    assert [c.text.split("]", 1)[0] for c in cards] == [f"[{i}" for i in range(1, len(cards) + 1)]
    sent = browser.find_elements(By.CSS_SELECTOR, ".paper.sent")
    assert len(sent) == len(delivery.entry_keys)
    assert all("In your email" in c.text for c in sent)
    assert "Matched your keyword ‘conformal prediction’" in cards[0].text
    assert sum("To help us learn your taste" in c.text for c in sent) == 2
    browser.save_screenshot(str(SHOTS / "full-list-of-the-day.png"))

    target = next(c for c in reversed(cards) if "In your email" not in c.text)
    key = target.find_element(By.CSS_SELECTOR, "a.title").get_attribute("href").rsplit("/", 1)[1]
    title = target.find_element(By.CSS_SELECTOR, "a.title").text
    assert key not in delivery.entry_keys
    target.find_element(By.CSS_SELECTOR, "button.vote-more").click()
    _wait_text(browser, "Noted: more papers like")
    assert title in browser.find_element(By.TAG_NAME, "body").text
    with Session(site.app.engine) as session:
        assert [(v.subscriber_id, v.entry_key, v.vote) for v in session.exec(select(Vote))] == [
            (reader.id, key, "more")]
    browser.save_screenshot(str(SHOTS / "full-list-vote-recorded.png"))


def test_a_digest_on_a_real_day_on_a_desktop_and_a_phone(site, browser):
    """Issue 11: the digest of a real day (the demo feeds, through the real pipeline),
    opened from its "view in browser" link at 1200 px and at 390 px (a phone): screenshots
    saved, no sideways scrolling on the phone, every card's PDF link and TL;DR visible."""
    from selenium.webdriver.common.by import By

    site.subscribe("ada@example.org", ["cs.CV", "cs.LG"], name="Ada",
                   keywords=["diffusion", "gaussian splatting"])
    assert site.app.send.send().counts["sent"] == 1
    (eml,) = sorted(site.app.settings.effective_outbox_dir.glob("*.eml"))
    html = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(
        ("html",)).get_content()
    view = re.search(r'<a href="([^"]+/v/[^"/]+)">View in browser</a>', html)
    assert view, "no view-in-browser link"
    for width, name in ((1200, "digest-desktop.png"), (390, "digest-phone-390.png")):
        browser.set_window_size(width, 900)
        browser.get(view.group(1))
        pdfs = [a for a in browser.find_elements(By.TAG_NAME, "a") if a.text == "PDF"]
        assert pdfs and all(a.get_attribute("href").startswith("https://arxiv.org/pdf/")
                            for a in pdfs)
        assert "TL;DR:" in browser.find_element(By.TAG_NAME, "body").text
        inner = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= inner, (width, scroll, inner)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(height + 120, 6000))
        browser.save_screenshot(str(SHOTS / name))
        assert (SHOTS / name).stat().st_size > 10_000
