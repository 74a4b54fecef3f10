"""Acceptance (issue 12): sign-up with double opt-in in headless Chromium, against the real
uvicorn server and the real loopback SMTP server, without any JavaScript of ours.

sign up (zh) → confirmation email → the same address again within the hour sends nothing
→ the link → confirm → active → welcome email → the preferences page in Chinese; a bot that
fills the honeypot is refused silently. (200 sign-ups from one client: tests/test_signup.py.)
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import webserver
from sqlmodel import Session
from test_web_browser import SHOTS, _wait_text, browser  # noqa: F401  (a fixture)
from world import World

from digest_mailer import db, i18n
from digest_mailer.faces.web import create_app

live_server = webserver.live_server
pytestmark = pytest.mark.network
ZH = i18n.texts("zh")


@pytest.fixture
def site(tmp_path, feed_server, live_server, smtp_server):
    server = live_server()
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url, smtp_url=smtp.url())
    world.add_demo_sources()
    world.app.ingest.refresh()
    server.start(create_app(world.app))
    return world, smtp


def _status(world: World, email: str) -> str | None:
    with Session(world.app.engine) as session:
        found = db.subscribers.by_email(session, email)
        return found.status if found else None


def _fill(driver, world: World, email: str) -> None:
    """The Chinese form filled in as a reader does; the clock then passes the fill time."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(world.app.settings.base_url + "/subscribe?lang=zh")
    assert driver.find_element(By.TAG_NAME, "h1").text == ZH["page.signup.heading"]
    zones = Select(driver.find_element(By.ID, "timezone"))
    assert zones.options[0].get_attribute("value") == "Asia/Shanghai"
    assert zones.first_selected_option.get_attribute("value") == "Asia/Shanghai"
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "name").send_keys("李雷")
    driver.find_element(By.CSS_SELECTOR, "input[name=categories][value='cs.CV']").click()
    driver.find_element(By.ID, "keywords").send_keys("diffusion")
    Select(driver.find_element(By.ID, "send_hour")).select_by_value("8")
    Select(driver.find_element(By.ID, "language")).select_by_value("zh")
    assert not driver.find_element(By.ID, "website").is_displayed()  # the honeypot
    world.now += timedelta(seconds=5)


def _submit(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "form[action='/subscribe'] button[type=submit]").click()
    _wait_text(driver, ZH["page.signup_inbox.title"])


def test_sign_up_confirm_welcome_and_preferences_in_chinese(site, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    world, smtp = site
    _fill(browser, world, "li@example.cn")
    browser.save_screenshot(str(SHOTS / "signup-form-zh.png"))
    _submit(browser)
    inbox = browser.find_element(By.TAG_NAME, "main").text
    browser.save_screenshot(str(SHOTS / "signup-check-inbox-zh.png"))
    assert _status(world, "li@example.cn") == "pending"
    (received,) = smtp.messages
    confirmation = message_from_bytes(received.content, policy=policy.default)
    assert received.rcpt_tos == ["li@example.cn"]
    assert confirmation["Subject"] == ZH["email.signup.confirm_subject"]
    html = confirmation.get_body(("html",)).get_content()
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/c/[^"]+)"', html)
    assert link, "no confirmation link in the HTML part"
    assert link.group(1) in confirmation.get_body(("plain",)).get_content()

    # The same address again, within the hour: the same page, no second confirmation.
    world.now += timedelta(minutes=10)
    _fill(browser, world, "li@example.cn")
    _submit(browser)
    assert browser.find_element(By.TAG_NAME, "main").text == inbox
    assert len(smtp.messages) == 1

    browser.get(link.group(1))
    assert browser.find_element(By.TAG_NAME, "h1").text == ZH["page.confirm.heading"]
    assert _status(world, "li@example.cn") == "pending"  # opening the link changed nothing
    browser.save_screenshot(str(SHOTS / "signup-confirm-zh.png"))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_text(browser, ZH["page.confirm.done_heading"])
    # Confirmed at 08:10 UTC = 16:10 in Shanghai, past the 08:00 send hour: tomorrow.
    assert "2026年11月2日 08:00" in browser.find_element(By.ID, "first").text
    assert _status(world, "li@example.cn") == "active"
    browser.save_screenshot(str(SHOTS / "signup-confirmed-zh.png"))

    assert len(smtp.messages) == 2
    welcome = message_from_bytes(smtp.messages[1].content, policy=policy.default)
    assert welcome["Subject"] == ZH["email.signup.welcome_subject"]
    assert "2026年11月2日 08:00" in welcome.get_body(("plain",)).get_content()

    browser.find_element(By.ID, "preferences").click()
    _wait_text(browser, ZH["page.preferences.heading"])
    assert browser.find_element(By.TAG_NAME, "h1").text == ZH["page.preferences.heading"]
    assert browser.find_element(By.ID, "keywords").get_attribute("value") == "diffusion"
    assert browser.find_element(
        By.CSS_SELECTOR, "input[name=categories][value='cs.CV']").is_selected()
    browser.save_screenshot(str(SHOTS / "signup-preferences-zh.png"))


def test_a_bot_that_fills_the_honeypot_gets_the_same_page_and_no_email(site, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    world, smtp = site
    _fill(browser, world, "bot@example.org")
    # What a form-filling bot does: it fills every input, the hidden one too.
    browser.execute_script("document.getElementById('website').value = 'http://spam.example'")
    _submit(browser)
    assert ZH["page.signup_inbox.text"][:10] in browser.find_element(By.TAG_NAME, "main").text
    assert smtp.messages == []
    assert _status(world, "bot@example.org") is None


def test_the_english_form_on_a_phone_fits_without_sideways_scrolling(site, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    world, _ = site
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        browser.get(world.app.settings.base_url + "/subscribe")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Subscribe to the Research Digest"
        # Chromium asks for en-US: the United States' zones come first.
        assert Select(browser.find_element(By.ID, "timezone")).options[0].get_attribute(
            "value") == "America/New_York"
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        button = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
        assert button.size["height"] >= 40
        browser.save_screenshot(str(SHOTS / "signup-form-phone-390.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
