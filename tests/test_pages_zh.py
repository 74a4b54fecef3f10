"""A Chinese reader's pages on the real uvicorn server (issue 9, acceptance 3): unsubscribe,
preferences, feedback and their answers speak the reader's table, follow the Chinese
typesetting rules and keep no English UI sentence; an English reader's stay English.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest
import webserver
from sqlmodel import Session
from world import World

from digest_mailer import i18n
from digest_mailer.db.models import Subscriber
from digest_mailer.faces.web import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_i18n import HAN, visible, zh_faults

live_server = webserver.live_server
pytestmark = pytest.mark.network

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMEOUT = 10.0
EN, ZH = i18n.texts("en"), i18n.texts("zh")
# Every English sentence a page or a refusal could show (those without placeholders).
ENGLISH_UI = sorted({v for k, v in EN.items() if k.startswith(("page.", "profile."))
                     and "{" not in v and len(v) > 3 and v != ZH.get(k)})
FORM = {"categories": ["cs.CV"], "keywords": "diffusion", "exclusions": "", "send_hour": "6",
        "timezone": "Asia/Shanghai", "max_papers": "12"}


@pytest.fixture
def site(tmp_path, feed_server, live_server):
    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url)
    world.add_demo_sources()
    world.app.ingest.refresh()
    server.start(create_app(world.app))
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client:
        yield world, client


def _csrf(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, page.text[-1000:]
    return match.group(1)


def _journey(world: World, client: httpx.Client, language: str) -> dict[str, httpx.Response]:
    """Every subscriber page a reader of ``language`` can reach, by name, with its status
    checked on the way."""
    reader = world.subscribe(f"li-{language}@example.cn", ["cs.CV"], language=language)
    links = world.app.signer.links(reader.public_id, "none")
    got: dict[str, httpx.Response] = {}

    def visit(name: str, status: int, response: httpx.Response) -> httpx.Response:
        assert response.status_code == status, (name, response.text[-1500:])
        got[name] = response
        return response

    visit("unsubscribe", 200, client.get(links.unsubscribe))
    visit("not_one_click", 400, client.post(links.unsubscribe, data={"x": "y"}))
    done = visit("unsubscribed", 200, client.post(links.unsubscribe,
                                                  data={"List-Unsubscribe": "One-Click"}))
    visit("resubscribed", 200, client.post(links.unsubscribe + "/undo",
                                           data={"csrf": _csrf(done)}))

    form = visit("preferences", 200, client.get(links.preferences))
    fields = {**FORM, "language": language, "csrf": _csrf(form)}
    visit("refused", 400, client.post(links.preferences, data={**fields,
                                                               "timezone": "Mars/Olympus"}))
    visit("saved", 200, client.post(links.preferences, data=fields))
    visit("form_expired", 403, client.post(links.preferences, data=FORM))

    key = world.selection(reader).groups[0][1][0].key
    unsent = world.unsent_delivery(reader)
    feedback = world.app.signer.feedback_url(reader.public_id, key, "more")
    visit("feedback", 200, client.get(feedback))
    visit("feedback_done", 200, client.post(feedback))
    visit("not_sent", 404, client.get(world.app.signer.links(reader.public_id,
                                                             unsent).view_online))
    with Session(world.app.engine) as session:
        stored = session.get(Subscriber, reader.id)
        assert stored is not None and (stored.status, stored.timezone) == ("active",
                                                                            "Asia/Shanghai")
    return got


# What each page must say, from the reader's table (the "main strings").
MAIN = {
    "unsubscribe": ["page.unsubscribe.heading", "page.unsubscribe.button",
                    "page.unsubscribe.hint"],
    "not_one_click": ["page.not_one_click.title", "page.not_one_click.text"],
    "unsubscribed": ["page.unsubscribed.heading", "page.unsubscribed.mistake",
                     "page.unsubscribed.undo"],
    "resubscribed": ["page.resubscribed.heading", "page.resubscribed.link"],
    "preferences": ["page.preferences.heading", "page.preferences.keywords_hint",
                    "page.preferences.save"],
    "refused": ["page.preferences.not_saved", "page.preferences.timezone"],
    "saved": ["page.preferences.saved", "page.preferences.heading"],
    "form_expired": ["page.form_expired.title", "page.form_expired.text"],
    "feedback": ["page.feedback.yes_more", "page.feedback.hint"],
    "feedback_done": ["page.feedback_done.heading", "page.feedback_done.preferences"],
    "not_sent": ["page.not_sent.title", "page.not_sent.text"],
}


def test_a_chinese_readers_pages_are_chinese_and_typeset_as_chinese(site):
    world, client = site
    pages = _journey(world, client, "zh")
    assert sorted(pages) == sorted(MAIN)
    for name, response in pages.items():
        html = response.text
        assert '<html lang="zh-Hans">' in html and f"{ZH['page.title_suffix']}</title>" in html
        text = visible(html)
        missing = [key for key in MAIN[name] if ZH[key] not in text]
        assert missing == [], name
        assert zh_faults(text) == [], name
        # As words: "List-Unsubscribe=One-Click" is a header name, not the word "Unsubscribe".
        left = [s for s in ENGLISH_UI if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)]
        assert left == [], name
    # The refusal names the field in the reader's words, the typed value kept as typed.
    error = re.search(r'id="timezone-error">([^<]*)</p>', pages["refused"].text)
    assert error and error.group(1) == ("未知的时区 &#39;Mars/Olympus&#39;（请填写 IANA 时区名，"
                                        "例如 Europe/Berlin）。")
    assert "<option value=\"zh\" selected>中文 (Chinese)</option>" in pages["saved"].text


def test_an_english_readers_pages_stay_english(site):
    world, client = site
    pages = _journey(world, client, "en")
    for name, response in pages.items():
        assert '<html lang="en">' in response.text, name
        text = visible(response.text).replace(i18n.display_names()["zh"], "")
        assert not re.search(HAN, text), name
        assert all(EN[key] in text for key in MAIN[name]), name
    error = re.search(r'id="timezone-error">([^<]*)</p>', pages["refused"].text)
    assert error and error.group(1) == ("Unknown time zone &#39;Mars/Olympus&#39; (an IANA "
                                        "name such as &#39;Europe/Berlin&#39;).")


def test_pages_for_no_known_reader_are_english(site):
    """A bad link or an unknown address names no reader: those pages stay English."""
    world, client = site
    world.subscribe("li@example.cn", ["cs.CV"], language="zh")
    for path, status, key in (("/u/not-a-token", 400, "invalid_link"),
                              ("/nowhere", 404, "not_found"), ("/", 200, "home")):
        response = client.get(path)
        assert response.status_code == status and EN[f"page.{key}.text"] in response.text
        assert '<html lang="en">' in response.text
