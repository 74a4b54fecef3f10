"""Sign-up with double opt-in over HTTP (FastAPI's TestClient): real SQLite, the real
loopback SMTP server, the App's clock moved by hand (the form's fill time, the resend hour,
the link's expiry)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from world import World, at

from digest_mailer import db
from digest_mailer.db.models import Signup, Subscriber
from digest_mailer.domain.schedule import due_date
from digest_mailer.domain.signup import (
    CONFIRMED,
    Limits,
    Locale,
    Verdict,
    accepted_locale,
    first_digest_at,
    verdict,
    zone_choices,
)
from digest_mailer.faces.web import create_app

BASE = "https://digest.example.org"
STAMP = re.compile(r'name="stamp" value="([^"]+)"')
INBOX = "Check your inbox"
LINK = re.compile(r"https://digest\.example\.org(/[cp]/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def smtp(smtp_server):
    return smtp_server()


@pytest.fixture
def world(tmp_path: Path, feed_server, smtp) -> World:
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url())
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world



def mails(smtp) -> list[EmailMessage]:
    return [message_from_bytes(m.content, policy=policy.default) for m in smtp.messages]


def body(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def form(client: TestClient, world: World, **query: str) -> str:
    """A fresh form's stamp; the clock then moves on past the minimum fill time."""
    page = client.get("/subscribe", params=query)
    assert page.status_code == 200, page.text
    world.now += timedelta(seconds=5)
    match = STAMP.search(page.text)
    assert match
    return match.group(1)


def signup(client: TestClient, stamp: str, email: str = "ada@example.org", **fields: object):
    data: dict[str, object] = {"email": email, "name": "Ada", "language": "en",
                               "categories": ["cs.CV"], "keywords": "diffusion",
                               "timezone": "Europe/Berlin", "send_hour": "7", "website": "",
                               "stamp": stamp, **fields}
    return client.post("/subscribe", data=data)


def stored(world: World, email: str) -> Subscriber | None:
    with Session(world.app.engine) as session:
        return db.subscribers.by_email(session, email)


def confirm_link(message: EmailMessage) -> str:
    (link,) = {m.group(1) for m in LINK.finditer(body(message)) if m.group(1).startswith("/c/")}
    return link


# --- the whole journey -------------------------------------------------------------------

def test_sign_up_confirm_welcome_then_the_first_digest_at_the_next_send_hour(world, client, smtp):
    page = client.get("/subscribe")
    assert 'name="website"' in page.text and "<script" not in page.text
    assert "Computer Vision (cs.CV)" in page.text and "arXiv (cs.CV)" in page.text
    stamp = form(client, world)
    answer = signup(client, stamp, email="Ada@Example.org")
    assert answer.status_code == 200 and INBOX in answer.text
    pending = stored(world, "ada@example.org")
    assert pending is not None and pending.status == "pending"
    assert world.app.send.due() == []  # pending readers never get a digest

    (confirmation,) = mails(smtp)
    assert confirmation["To"] == "ada@example.org"  # nothing typed reaches a stranger
    assert "Ada" not in body(confirmation)
    assert confirmation["Subject"] == "Confirm your subscription to the Research Digest"
    assert confirmation.get_content_type() == "multipart/alternative"
    assert "List-Unsubscribe" not in confirmation  # not on any list yet
    link = confirm_link(confirmation)
    assert link in body(confirmation, "html")
    assert "48 hours" in body(confirmation)

    # A GET (a mail scanner) changes nothing; the POST confirms.
    asked = client.get(link)
    assert asked.status_code == 200 and "Yes, subscribe me" in asked.text
    assert stored(world, "ada@example.org").status == "pending"
    done = client.post(link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    # Confirmed at 08:00:10 UTC = 09:00 in Berlin, after the 07:00 send hour: tomorrow.
    assert "Your first digest comes on 2 November 2026 at about 07:00 (Europe/Berlin)" in done.text
    reader = stored(world, "ada@example.org")
    assert (reader.status, reader.status_reason, reader.name) == ("active", CONFIRMED, "Ada")
    assert (reader.categories, reader.keywords, reader.timezone) == (
        ["cs.CV"], ["diffusion"], "Europe/Berlin")
    assert world.app.signup.history("ada@example.org") == [
        (None, "pending", "signed up"), ("pending", "active", CONFIRMED)]

    welcome = mails(smtp)[1]
    assert welcome["Subject"] == "Welcome to the Research Digest"
    assert "2 November 2026 at about 07:00 (Europe/Berlin)" in " ".join(body(welcome).split())
    assert "List-Unsubscribe-Post" in welcome
    preferences = re.search(r'href="(https://digest\.example\.org/p/[^"]+)"', done.text)
    assert preferences and client.get(preferences.group(1)).status_code == 200

    # The link again: nothing more happens, no second welcome.
    assert "You are subscribed" in client.post(link).text
    assert len(smtp.messages) == 2

    # Not today (it confirmed after the send hour), tomorrow at 07:00 Berlin it is due.
    assert world.app.send.due() == []
    world.now = datetime(2026, 11, 2, 6, 5, tzinfo=UTC)
    assert world.app.send.due() == [reader.id]


@pytest.mark.parametrize(("language", "every", "page_says", "again_says"), [
    ("en", "then every Wednesday at that time", "then every Wednesday",
     "the digest comes every Wednesday"),
    ("zh", "此后每星期三同一时间寄出", "此后每星期三一封", "简报每星期三在您设定的时间寄出")])
def test_a_weekly_sign_up_gets_its_first_digest_on_its_weekday(world, client, smtp, language,
                                                              every, page_says, again_says):
    stamp = form(client, world, lang=language)
    answer = signup(client, stamp, language=language, cadence="weekly", weekday="2")
    assert answer.status_code == 200
    link = confirm_link(mails(smtp)[0])
    done = client.post(link)
    assert page_says in done.text
    assert again_says in client.post(link).text  # the link again: what it confirmed
    reader = stored(world, "ada@example.org")
    assert (reader.status, reader.cadence, reader.weekday) == ("active", "weekly", 2)
    # Confirmed on Sunday 1 November: the first digest is Wednesday's, not Monday's.
    welcome = "".join(body(mails(smtp)[1]).split())  # the text part's lines, unwrapped
    assert every.replace(" ", "") in welcome
    assert ("4November2026" if language == "en" else "2026年11月4日") in welcome
    for day in (2, 3):  # Monday and Tuesday at 07:05 in Berlin: nothing due
        world.now = datetime(2026, 11, day, 6, 5, tzinfo=UTC)
        assert world.app.send.due() == []
    world.now = datetime(2026, 11, 4, 6, 5, tzinfo=UTC)
    assert world.app.send.due() == [reader.id]


def test_the_sign_up_form_offers_the_cadence_and_checks_it(world, client, smtp):
    page = client.get("/subscribe").text
    assert 'name="cadence"' in page and 'name="weekday"' in page
    refused = signup(client, form(client, world), cadence="hourly", weekday="9")
    assert refused.status_code == 400
    assert 'id="cadence-error"' in refused.text and 'id="weekday-error"' in refused.text
    assert smtp.messages == [] and stored(world, "ada@example.org") is None


def test_a_chinese_sign_up_is_chinese_throughout(world, client, smtp):
    page = client.get("/subscribe", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "订阅科研简报" in page.text
    zones = re.findall(r'<option value="([A-Z][A-Za-z_/]+)"', page.text)
    assert zones[0] == "Asia/Shanghai"
    assert 'value="Asia/Shanghai" selected' in page.text
    world.now += timedelta(seconds=5)
    stamp = STAMP.search(page.text).group(1)
    answer = signup(client, stamp, email="li@example.cn", language="zh",
                    timezone="Asia/Shanghai", page_lang="zh", name="")
    assert "请查收邮件" in answer.text
    (confirmation,) = mails(smtp)
    assert confirmation["Subject"] == "请确认订阅科研简报"
    link = confirm_link(confirmation)
    assert "确认订阅" in client.get(link).text
    done = client.post(link)
    assert "订阅成功" in done.text and "2026年11月2日 07:00" in done.text
    assert mails(smtp)[1]["Subject"] == "欢迎订阅科研简报"


# --- no enumeration, resend limits ---------------------------------------------------------

def test_the_page_says_the_same_whoever_the_address_is(world, client, smtp):
    world.subscribe("active@example.org", ["cs.CV"], name="Grace")
    answers = []
    for email in ("new@example.org", "active@example.org", "new@example.org"):
        answers.append(signup(client, form(client, world), email=email))
    assert {a.status_code for a in answers} == {200}
    texts = {re.sub(r'value="[^"]*"', "", a.text) for a in answers}
    assert len(texts) == 1
    kinds = [m["Subject"] for m in mails(smtp)]
    assert kinds == ["Confirm your subscription to the Research Digest",
                     "You are already subscribed to the Research Digest"]
    already = mails(smtp)[1]
    assert "/p/" in body(already) and "/c/" not in body(already)
    assert stored(world, "active@example.org").status == "active"  # no second account


def test_an_unconfirmed_address_gets_at_most_one_confirmation_an_hour(world, client, smtp):
    signup(client, form(client, world))
    world.now += timedelta(minutes=59)
    signup(client, form(client, world), keywords="other")
    assert len(smtp.messages) == 1
    world.now += timedelta(minutes=2)
    signup(client, form(client, world), keywords="graphs")
    assert len(smtp.messages) == 2
    # The newest link brings its own profile; the older one then confirms nothing more.
    first, second = (confirm_link(m) for m in mails(smtp))
    client.post(second)
    assert stored(world, "ada@example.org").keywords == ["graphs"]
    client.post(first)
    assert stored(world, "ada@example.org").keywords == ["graphs"]
    assert len(smtp.messages) == 3  # one welcome


@pytest.mark.parametrize("status", ["unsubscribed", "bounced"])
def test_someone_who_left_comes_back_only_by_confirming(world, client, smtp, status):
    world.subscribe("gone@example.org", ["cs.LG"], status=status, soft_bounces=3)
    signup(client, form(client, world), email="gone@example.org")
    assert stored(world, "gone@example.org").status == status
    assert stored(world, "gone@example.org").categories == ["cs.LG"]  # nothing applied yet
    assert world.app.send.due() == []
    client.post(confirm_link(mails(smtp)[0]))
    back = stored(world, "gone@example.org")
    assert (back.status, back.categories, back.soft_bounces) == ("active", ["cs.CV"], 0)
    assert world.app.signup.history("gone@example.org") == [(status, "active", CONFIRMED)]


def test_a_confirmation_link_expires_after_48_hours(world, client, smtp):
    signup(client, form(client, world))
    link = confirm_link(mails(smtp)[0])
    world.now += timedelta(hours=48, minutes=1)
    assert client.get(link).status_code == 410
    expired = client.post(link)
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert stored(world, "ada@example.org").status == "pending"


def test_a_forged_or_cut_confirmation_link_is_refused_before_its_body(world, client, smtp):
    signup(client, form(client, world))
    link = confirm_link(mails(smtp)[0])
    for bad in (link[:-3], "/c/not-a-token", link + "x"):
        assert client.post(bad, content=b"x" * 10).status_code == 400
        assert client.get(bad).status_code == 400
    assert stored(world, "ada@example.org").status == "pending"


# --- bots ----------------------------------------------------------------------------------

def test_a_filled_honeypot_and_a_form_sent_too_fast_are_refused_silently(world, client, smtp):
    bot = signup(client, form(client, world), website="http://spam.example")
    assert bot.status_code == 200 and INBOX in bot.text
    page = client.get("/subscribe")
    fast = signup(client, STAMP.search(page.text).group(1), email="fast@example.org")
    assert fast.status_code == 200 and INBOX in fast.text
    assert smtp.messages == []
    assert stored(world, "ada@example.org") is None and stored(world, "fast@example.org") is None


def test_a_form_without_our_stamp_is_shown_again_filled_in(world, client, smtp):
    """An embedded copy of the form on another site posts no stamp: the reader gets the
    form again, filled in, and nothing is sent until they press Subscribe here."""
    embedded = client.post("/subscribe", data={"email": "emb@example.org",
                                               "categories": ["cs.LG"], "language": "en"})
    assert embedded.status_code == 200 and "press Subscribe" in embedded.text
    assert 'value="emb@example.org"' in embedded.text
    assert re.search(r'value="cs\.LG" checked', embedded.text)
    assert smtp.messages == []
    world.now += timedelta(seconds=5)
    again = signup(client, STAMP.search(embedded.text).group(1), email="emb@example.org")
    assert INBOX in again.text and len(smtp.messages) == 1


def test_200_sign_ups_from_one_client_are_rate_limited(world, client, smtp):
    stamp = form(client, world)
    codes = [signup(client, stamp, email=f"r{n}@example.org").status_code for n in range(200)]
    limit = world.app.settings.signup_client_limit
    assert codes[:limit] == [200] * limit  # the GET of the form counted none
    assert codes[limit:] == [429] * (200 - limit)
    assert len(smtp.messages) <= limit
    refused = signup(client, stamp, email="late@example.org")
    assert int(refused.headers["Retry-After"]) > 3000
    assert "Too many sign-ups" in refused.text
    world.now += timedelta(hours=1, seconds=1)  # a new hour, a new count
    assert signup(client, form(client, world), email="late@example.org").status_code == 200


def test_hostile_fields_are_refused_with_reasons_and_never_reflected_raw(world, client, smtp):
    stamp = form(client, world)
    bad = signup(client, stamp, email="<script>@x", name="x" * 101, categories=["../etc"],
                 timezone="Mars/Base", send_hour="25", keywords="")
    assert bad.status_code == 400 and "Nothing was sent" in bad.text
    for field in ("email", "name", "categories", "timezone", "send_hour"):
        assert f'id="{field}-error"' in bad.text, field
    assert "<script>@x" not in bad.text and "&lt;script&gt;@x" in bad.text
    header = signup(client, stamp, email="a@example.org\r\nBcc: x@example.org")
    assert header.status_code == 400 and smtp.messages == []


def test_sign_up_closed_is_not_found(tmp_path, feed_server):
    world = World.build(tmp_path, feed_server, signup=False)
    with TestClient(create_app(world.app), base_url=BASE) as closed:
        assert closed.get("/subscribe").status_code == 404
        assert closed.post("/subscribe", data={"email": "a@example.org"}).status_code == 404


# --- the pure rules ------------------------------------------------------------------------

def test_accept_language_and_the_zones_offered_first():
    assert accepted_locale("zh-TW,zh;q=0.9") == Locale("zh", "TW")
    assert accepted_locale("fr-FR, en-GB;q=0.5, zh;q=0.4") == Locale("en", "GB")
    assert accepted_locale("fr, de;q=0.5") == Locale("en")
    assert accepted_locale("zh;q=abc, en;q=0") == Locale("en")
    assert accepted_locale("x" * 10_000) == Locale("en")
    first, rest = zone_choices(Locale("zh", "TW"))
    assert first[:2] == ("Asia/Taipei", "Asia/Shanghai") and "Asia/Taipei" not in rest
    assert zone_choices(Locale("zh"))[0][0] == "Asia/Shanghai"
    assert "Europe/Berlin" in zone_choices(Locale("en"))[1]


def test_the_first_digest_waits_for_the_next_send_hour():
    zone = "Asia/Shanghai"
    early = datetime(2026, 11, 1, 21, 30, tzinfo=UTC)  # 05:30 on the 2nd in Shanghai
    assert first_digest_at(early, zone, 7).isoformat() == "2026-11-02T07:00:00+08:00"
    late = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 on the 2nd
    assert first_digest_at(late, zone, 7).isoformat() == "2026-11-03T07:00:00+08:00"
    assert due_date(datetime(2026, 11, 2, 3, tzinfo=UTC), zone, 7, held_since=late) is None
    later = datetime(2026, 11, 2, 23, 5, tzinfo=UTC)
    assert str(due_date(later, zone, 7, held_since=late)) == "2026-11-03"
    assert str(due_date(datetime(2026, 11, 2, 3, tzinfo=UTC), zone, 7,
                        held_since=early)) == "2026-11-02"
    # Weekly on Mondays (2 November is one): early on the day, that day; late, a week on.
    assert first_digest_at(early, zone, 7, "weekly", 0).isoformat() == "2026-11-02T07:00:00+08:00"
    assert first_digest_at(late, zone, 7, "weekly", 0).isoformat() == "2026-11-09T07:00:00+08:00"
    assert first_digest_at(late, zone, 7, "weekly", 4).isoformat() == "2026-11-06T07:00:00+08:00"


def test_what_a_request_earns():
    now, limits = at(2), Limits()
    assert verdict(None, [], now, limits) is Verdict.CONFIRM
    assert verdict("bounced", [], now, limits) is Verdict.CONFIRM
    assert verdict("active", [], now, limits) is Verdict.ALREADY
    assert verdict(None, [now - timedelta(minutes=59)], now, limits) is Verdict.QUIET
    assert verdict("active", [now - timedelta(minutes=30)], now, limits) is Verdict.QUIET
    three = [now - timedelta(hours=h) for h in (2, 5, 9)]
    assert verdict(None, three, now, limits) is Verdict.QUIET  # three a day at most
    assert verdict(None, three[:2], now, limits) is Verdict.CONFIRM


def test_old_sign_up_rows_are_forgotten(world, client, smtp):
    """A confirmed request goes after two days (the limits' memory); one nobody confirmed
    stays until seven days after its link expired, as its pending subscriber does."""
    signup(client, form(client, world))
    client.post(confirm_link(mails(smtp)[0]))
    signup(client, form(client, world), email="bob@example.org")
    world.now += timedelta(days=3)
    signup(client, form(client, world), email="other@example.org")

    def rows() -> list[str]:
        with Session(world.app.engine) as session:
            return sorted(s.email for s in session.exec(select(Signup)))

    assert rows() == ["bob@example.org", "other@example.org"]
    world.now += timedelta(days=6, minutes=1)  # bob's link expired 7 days ago
    signup(client, form(client, world), email="late@example.org")
    assert rows() == ["late@example.org", "other@example.org"]


def test_a_mail_server_refusal_says_so_and_a_retry_may_send(world, client, smtp_server):
    refusing = smtp_server(refuse=("ada@example.org",))
    world.app.settings.smtp_url = refusing.url()  # the App builds a transport per send
    answer = signup(client, form(client, world))
    assert answer.status_code == 503 and "could not send" in answer.text
    with Session(world.app.engine) as session:
        assert list(session.exec(select(Signup))) == []  # not sent: not counted as sent
    working = smtp_server()
    world.app.settings.smtp_url = working.url()
    assert signup(client, form(client, world)).status_code == 200
    assert len(working.messages) == 1


def test_every_chinese_page_and_email_of_a_sign_up_reads_as_chinese(world, client, smtp):
    """The pages (form, refusals, inbox, confirm, confirmed, expired, too many) and the
    three emails of a Chinese sign-up follow the Chinese typesetting rules and keep no
    English sentence of the tables."""
    from dataclasses import replace

    from test_i18n import HAN, visible, zh_faults

    from digest_mailer import i18n

    english = sorted({v for k, v in i18n.texts("en").items()
                      if k.startswith(("page.", "email.signup.", "profile."))
                      and "{" not in v and len(v) > 3 and v != i18n.texts("zh").get(k)})
    zh = {"Accept-Language": "zh-CN"}
    pages = {"form": client.get("/subscribe", headers=zh)}
    stamp = STAMP.search(pages["form"].text).group(1)
    world.now += timedelta(seconds=5)
    pages["refused"] = signup(client, stamp, email="x", timezone="Mars/Base", page_lang="zh",
                              language="zh", keywords="", categories=[])
    pages["inbox"] = signup(client, stamp, email="li@example.cn", language="zh",
                            page_lang="zh", timezone="Asia/Shanghai", name="李雷")
    link = confirm_link(mails(smtp)[0])
    pages["confirm"] = client.get(link)
    pages["confirmed"] = client.post(link)
    signup(client, stamp, email="wang@example.cn", language="zh", page_lang="zh")
    world.now += timedelta(days=2, hours=1)
    pages["expired"] = client.get(confirm_link(mails(smtp)[2]))
    world.app.signup.config = replace(world.app.signup.config, client_limit=0)
    pages["busy"] = signup(client, stamp, page_lang="zh")
    assert pages["busy"].status_code == 429

    texts = {name: visible(page.text) for name, page in pages.items()}
    for n, mail in enumerate(mails(smtp)):  # confirmation, welcome, confirmation
        texts.update({f"email {n}": body(mail), f"email {n} html": visible(body(mail, "html"))})
    assert len(texts) == 7 + 6
    for name, text in texts.items():
        assert re.search(HAN, text), name
        assert zh_faults(text) == [], name
        assert [e for e in english if e in text] == [], name


def test_requests_at_once_for_one_address_send_one_confirmation(tmp_path, feed_server, smtp,
                                                                database_url):
    """Eight requests for one address at the same moment, on SQLite and PostgreSQL: the
    address's count row is locked first, so they decide one after the other and exactly one
    confirmation goes out; confirming it works on both databases."""
    from concurrent.futures import ThreadPoolExecutor

    from digest_mailer.services.signup import SignupRequest

    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url)
    world.add_demo_sources()
    stamp = world.app.signup.stamp()
    world.now += timedelta(seconds=5)
    request = SignupRequest("ada@example.org", "Ada", "en", ["cs.CV"], "", "UTC", "7", "", stamp)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: world.app.signup.submit(request, f"10.0.0.{n}"),
                                range(8)))
    assert {a.kind for a in answers} == {"inbox"}
    assert len(smtp.messages) == 1
    done = world.app.signup.confirm(confirm_link(mails(smtp)[0]).removeprefix("/c/"))
    assert done is not None and done.kind == "done" and done.welcomed
    assert world.app.signup.history("ada@example.org")[-1] == ("pending", "active", CONFIRMED)


def test_the_admin_lists_a_pending_subscriber_and_the_log_hides_the_link(tmp_path, feed_server,
                                                                         smtp):
    from test_web import PASSWORD, login

    from digest_mailer.faces.web.security import redact

    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), admin_password=PASSWORD)
    world.add_demo_sources()
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as admin:
        signup(admin, form(admin, world))
        login(admin)
        listed = admin.get("/admin/subscribers", params={"status": "pending"})
        assert listed.status_code == 200 and "ada@example.org" in listed.text
        assert 'class="pill pending">pending<' in listed.text
    link = confirm_link(mails(smtp)[0])
    assert redact(link) == "/c/…" and redact(link + "/x") == "/c/…/x"
