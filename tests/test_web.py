"""The web app through FastAPI's TestClient (real SQLite, real feeds over loopback HTTP)."""

from __future__ import annotations

import html as htmllib
import logging
import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_i18n import HAN, visible, zh_faults
from world import World, at

from digest_mailer import db, i18n
from digest_mailer.app import App
from digest_mailer.db.models import ReaderMessage, Subscriber, Vote
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.security import VIEW_CSP, Csrf
from digest_mailer.mail.links import LinkSigner

BASE = "https://digest.example.org"
PASSWORD = "correct horse battery staple"
INVALID = "This link is not valid"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def world(tmp_path: Path, feed_server) -> World:
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD)
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world



def local(url: str) -> str:
    assert url.startswith(BASE), url
    return url.removeprefix(BASE)


def links_of(world: World, subscriber: Subscriber, delivery_public_id: str = "none"):
    return world.app.signer.links(subscriber.public_id, delivery_public_id)


def reload(world: World, subscriber: Subscriber) -> Subscriber:
    with Session(world.app.engine) as session:
        row = session.get(Subscriber, subscriber.id)
        assert row is not None
        return row


def votes(world: World) -> list[tuple[int, str, str]]:
    with Session(world.app.engine) as session:
        return [(v.subscriber_id, v.entry_key, v.vote) for v in session.exec(select(Vote))]


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


# --- unsubscribe -----------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_at_once_and_again_changes_nothing(world, client, encoding):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    path = local(links_of(world, reader).unsubscribe)
    body = ({"data": {"List-Unsubscribe": "One-Click"}} if encoding == "urlencoded"
            else {"files": {"List-Unsubscribe": (None, "One-Click")}})
    first = client.post(path, **body)
    assert first.status_code == 200
    assert "location" not in first.headers and "set-cookie" not in first.headers
    assert "You are unsubscribed" in first.text
    after = reload(world, reader)
    assert (after.status, after.status_reason) == ("unsubscribed", "one-click")

    again = client.post(path, **body)
    assert again.status_code == 200 and "set-cookie" not in again.headers
    assert reload(world, reader).status_changed_at == after.status_changed_at
    assert world.app.send.due(at(1, 9)) == []  # the next run leaves them out


def test_get_shows_a_confirm_page_and_changes_nothing(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    page = client.get(local(links_of(world, reader).unsubscribe))
    assert page.status_code == 200
    assert "Unsubscribe from the research digest?" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert re.search(r'<form method="post" action="/u/[^"]+">', page.text)
    assert reload(world, reader).status == "active"


def test_a_post_without_the_one_click_body_changes_nothing(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    response = client.post(local(links_of(world, reader).unsubscribe), data={"x": "y"})
    assert response.status_code == 400
    assert reload(world, reader).status == "active"


def test_undo_resubscribes_only_an_unsubscribed_reader(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    path = local(links_of(world, reader).unsubscribe)
    page = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert f'action="{path}/undo"' in page.text
    assert client.post(f"{path}/undo").status_code == 403  # no CSRF token
    done = client.post(f"{path}/undo", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "subscribed again" in done.text
    after = reload(world, reader)
    assert (after.status, after.status_reason) == ("active", "undo")

    bounced = world.subscribe("b@example.org", ["cs.CV"], status="bounced")
    bpath = local(links_of(world, bounced).unsubscribe)
    page = client.get(bpath)  # the page of a bounced reader offers no undo
    assert "could not be delivered" in page.text and "/undo" not in page.text
    # A valid form token (as an older page would carry): the undo is still refused.
    token = Csrf(world.app.settings.effective_secret_keys()).make(f"undo:{bounced.public_id}")
    refused = client.post(f"{bpath}/undo", data={"csrf": token})
    assert refused.status_code == 409
    assert client.post(bpath, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert reload(world, bounced).status == "bounced"  # never turned into "unsubscribed"


# --- bad tokens ------------------------------------------------------------------------

PURPOSE = {"u": "unsubscribe", "p": "preferences", "f": "feedback", "v": "view"}


def _bad_token(world: World, reader: Subscriber, prefix: str, kind: str) -> str:
    """A token for the link ``/{prefix}/…`` that is wrong in the way ``kind`` says."""
    signer = world.app.signer

    def payload(purpose: str) -> object:
        return ([reader.public_id, "2606.19460", "more"] if purpose == "feedback"
                else reader.public_id)

    purpose = PURPOSE[prefix]
    good = signer.token(purpose, payload(purpose))
    other = PURPOSE["p" if prefix == "u" else "u"]  # a real token, made for another link
    retired = LinkSigner(BASE, ["retired-key"], "mailto:x@example.org")
    return {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "truncated": good[:-6],
        "cross-purpose": signer.token(other, payload(other)),
        "retired-key": retired.token(purpose, payload(purpose)),
        "garbage": "%00<script>..--",
        "huge": "x" * 5000,
    }[kind]


@pytest.mark.parametrize("kind", ["forged", "truncated", "cross-purpose", "retired-key",
                                  "garbage", "huge"])
def test_bad_tokens_get_a_plain_400_page_on_every_link(world, client, kind):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    for prefix in ("u", "p", "f", "v"):
        token = _bad_token(world, reader, prefix, kind)
        for method in ("GET", "POST"):
            if prefix == "v" and method == "POST":
                continue
            response = client.request(method, f"/{prefix}/{token}",
                                      data={"List-Unsubscribe": "One-Click"}
                                      if method == "POST" else None)
            assert response.status_code == 400, (prefix, method, response.status_code)
            assert INVALID in response.text
            assert "Traceback" not in response.text and "itsdangerous" not in response.text
    assert reload(world, reader).status == "active" and votes(world) == []


def test_a_link_signed_with_an_older_key_still_works_after_rotation(world, tmp_path):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    old_link = links_of(world, reader).unsubscribe
    rotated = App(world.app.settings.model_copy(
        update={"secret_key": "brand-new-key,test-key"}))
    with TestClient(create_app(rotated), base_url=BASE) as client:
        assert client.get(local(old_link)).status_code == 200
        assert "brand-new" not in rotated.signer.token("unsubscribe", "x")  # sanity
        new_link = rotated.signer.links(reader.public_id, "d").unsubscribe
        assert new_link != old_link and client.get(local(new_link)).status_code == 200


def test_unknown_paths_get_a_404_page_and_every_page_has_the_security_headers(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    for path, status in (("/nope", 404), ("/u/", 404), ("/healthz", 200), ("/", 200),
                         ("/u/bad", 400), (local(links_of(world, reader).preferences), 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script" not in csp
        if status == 404:
            assert "There is no page at this address" in response.text
    assert client.get("/healthz").json()["status"] == "ok"


def test_tokens_never_reach_the_log(world, client, caplog):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    links = links_of(world, reader)
    with caplog.at_level(logging.INFO, logger="digest_mailer.faces.web.access"):
        client.get(local(links.preferences))
        client.post(local(links.unsubscribe), data={"List-Unsubscribe": "One-Click"})
    token = links.unsubscribe.rsplit("/", 1)[1]
    assert "/u/…" in caplog.text and "/p/…" in caplog.text
    assert token not in caplog.text and links.preferences.rsplit("/", 1)[1] not in caplog.text


# --- preferences -----------------------------------------------------------------------

def _prefs(client, world, reader):
    path = local(links_of(world, reader).preferences)
    page = client.get(path)
    assert page.status_code == 200
    return path, page


GOOD = {"categories": ["cs.CL"], "keywords": "transformer\nlanguage model | retrieval",
        "exclusions": "survey", "send_hour": "6", "timezone": "Europe/Berlin",
        "language": "zh", "max_papers": "12"}


def test_preferences_page_lists_the_configured_categories(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"], keywords=["diffusion"])
    _, page = _prefs(client, world, reader)
    with Session(world.app.engine) as session:
        categories = {s.category for s in db.sources.every(session)}
    for category in categories:
        assert f'name="categories" value="{category}"' in page.text
    assert 'value="cs.CV" checked' in page.text and ">diffusion</textarea>" in page.text
    assert '<meta name="viewport"' in page.text


def test_preferences_errors_are_shown_next_to_their_fields_and_nothing_is_saved(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    path, page = _prefs(client, world, reader)
    bad = {**GOOD, "timezone": "Mars/Olympus", "send_hour": "25", "max_papers": "3",
           "categories": ["cs.XX"], "csrf": csrf_of(page.text)}
    response = client.post(path, data=bad)
    assert response.status_code == 400 and "Nothing was saved" in response.text
    html = response.text
    for field, text in (("timezone", "Unknown time zone"), ("send_hour", "hour from 0 to 23"),
                        ("max_papers", "from 5 to 100"), ("categories", "Unknown category")):
        block = re.search(rf'<div class="field invalid">(?:(?!<div class="field).)*?'
                          rf'id="{field}-error">([^<]*)</p>', html, re.DOTALL)
        assert block and text in block.group(1), field
    assert 'value="Mars/Olympus"' in html  # what the reader typed is kept
    after = reload(world, reader)
    assert (after.categories, after.timezone, after.send_hour) == (["cs.CV"], "UTC", 7)


@pytest.mark.parametrize("csrf", ["missing", "forged", "other-reader"])
def test_preferences_need_a_valid_csrf_token(world, client, csrf):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    other = world.subscribe("o@example.org", ["cs.CV"])
    path, page = _prefs(client, world, reader)
    token = {"missing": None, "forged": csrf_of(page.text)[:-2] + "xx",
             "other-reader": csrf_of(_prefs(client, world, other)[1].text)}[csrf]
    data = dict(GOOD) | ({"csrf": token} if token else {})
    response = client.post(path, data=data)
    assert response.status_code == 403 and "Form expired" in response.text
    assert reload(world, reader).categories == ["cs.CV"]


def test_a_good_save_persists_and_changes_the_next_selection(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    before = world.selection(reader)
    assert [c for c, _ in before.groups] == ["cs.CV"]
    path, page = _prefs(client, world, reader)
    response = client.post(path, data={**GOOD, "keywords": "", "exclusions": "",
                                       "csrf": csrf_of(page.text)})
    # The reader chose Chinese: the confirmation already speaks it.
    assert response.status_code == 200 and "已保存。下一期简报将使用这些偏好。" in response.text
    after = reload(world, reader)
    assert (after.categories, after.send_hour, after.timezone, after.language,
            after.max_papers) == (["cs.CL"], 6, "Europe/Berlin", "zh", 12)
    selection = world.selection(after)
    assert [c for c, _ in selection.groups] == ["cs.CL"] and 0 < len(selection) <= 12


def test_keywords_split_on_lines_and_bars():
    from digest_mailer.faces.web.preferences import split_words

    assert split_words(" graph  neural network |diffusion\r\n\nGAN|diffusion ") == [
        "graph neural network", "diffusion", "GAN"]


# --- feedback and ranking --------------------------------------------------------------

def test_feedback_get_confirms_and_post_votes(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    entry = world.selection(reader).groups[0][1][0]
    url = world.app.signer.feedback_url(reader.public_id, entry.key, "more")
    page = client.get(local(url))
    assert page.status_code == 200 and "Show me more papers like" in page.text
    assert votes(world) == []
    done = client.post(local(url))
    assert done.status_code == 200 and "placed higher" in done.text
    assert votes(world) == [(reader.id, entry.key, "more")]
    less = world.app.signer.feedback_url(reader.public_id, entry.key, "less")
    assert "placed lower" in client.post(local(less)).text
    assert votes(world) == [(reader.id, entry.key, "less")]  # the latest vote counts


def test_a_more_vote_moves_papers_with_similar_titles_up_in_the_next_digest(tmp_path,
                                                                            feed_server):
    """Two readers with the same profile get digests over the same entries; one of them
    voted "more like this" on a paper first: papers sharing its title words rank higher."""
    from digest_mailer.domain.taste import title_words

    # No caps: both digests hold every cs.CV paper of the day, only the order differs.
    world = World.build(tmp_path, feed_server, max_per_category=100, max_papers=100)
    world.add_demo_sources()
    world.app.ingest.refresh()
    client = TestClient(create_app(world.app), base_url=BASE)
    voter = world.subscribe("voter@example.org", ["cs.CV"])
    twin = world.subscribe("twin@example.org", ["cs.CV"])
    ranked = list(world.selection(twin).groups[0][1])
    # The vote goes to an early paper whose title shares a word with a paper further down.
    target = similar = None
    for i, paper in enumerate(ranked):
        later = [p for p in ranked[i + 2:] if title_words(p.title) & title_words(paper.title)]
        if later:
            target, similar = paper, later[-1]
            break
    assert target is not None and similar is not None
    url = world.app.signer.feedback_url(voter.public_id, target.key, "more")
    assert client.post(local(url)).status_code == 200

    world.app.send.send()
    with Session(world.app.engine) as session:
        keys = {s.email: db.deliveries.of_day(session, s.id, date(2026, 11, 1)).entry_keys
                for s in (voter, twin)}
    assert sorted(keys["voter@example.org"]) == sorted(keys["twin@example.org"])
    assert (keys["voter@example.org"].index(similar.key)
            < keys["twin@example.org"].index(similar.key))


# --- view in browser -------------------------------------------------------------------

def test_view_page_is_the_digest_as_sent(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV", "cs.LG"])
    world.app.send.send()
    (eml,) = sorted(world.app.settings.effective_outbox_dir.glob("*.eml"))
    sent = message_from_bytes(eml.read_bytes(), policy=policy.default)
    sent_html = sent.get_body(("html",)).get_content()
    # The footer's view link, not a "N more" link to /v/…/all.
    view = re.search(r'href="([^"]+/v/[^"/]+)"', sent_html).group(1).replace("&amp;", "&")
    response = client.get(local(view))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == VIEW_CSP
    papers = re.compile(r'href="(https://arxiv\.org/abs/[^"]+)"')
    assert papers.findall(response.text) == papers.findall(sent_html) != []
    assert reload(world, reader).status == "active"


def test_view_of_an_unsent_digest_is_refused(world, client):
    reader = world.subscribe("r@example.org", ["cs.CV"])
    public_id = world.unsent_delivery(reader)
    response = client.get(local(links_of(world, reader, public_id).view_online))
    assert response.status_code == 404 and "not been sent" in response.text



@pytest.mark.parametrize("status", ["resend", "unknown"])
def test_view_of_a_maybe_delivered_digest_works(world, client, status):
    """The server took the message but its answer was lost: the reader may hold it."""
    reader = world.subscribe("r@example.org", ["cs.CV", "cs.LG"])
    world.app.send.send()
    with Session(world.app.engine) as session:
        delivery = db.deliveries.of_day(session, reader.id, date(2026, 11, 1))
        delivery.status = status
        session.add(delivery)
        session.commit()
        public_id = delivery.public_id
    response = client.get(local(links_of(world, reader, public_id).view_online))
    assert response.status_code == 200 and "arxiv.org/abs/" in response.text


# --- admin -----------------------------------------------------------------------------

def login(client) -> str:
    page = client.get("/admin")
    response = client.post("/admin/login", data={"password": PASSWORD,
                                                 "csrf": csrf_of(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    return response.headers["set-cookie"]


TOKEN = re.compile(r'name="token" value="([^"]+)"')


def confirm(client, preview_html: str, mode: str):
    """Press a confirm button of an import preview: "all" (all or nothing) or "good"."""
    token = TOKEN.search(preview_html)
    assert token, preview_html
    return client.post("/admin/import/confirm", data={
        "csrf": csrf_of(preview_html), "token": token.group(1), "mode": mode})


def test_admin_is_closed_without_a_password(tmp_path, feed_server):
    world = World.build(tmp_path, feed_server)
    with TestClient(create_app(world.app), base_url=BASE) as client:
        for method, path in (("GET", "/admin"), ("GET", "/admin/login"),
                             ("POST", "/admin/login"), ("GET", "/admin/subscribers"),
                             ("POST", "/admin/import")):
            response = client.request(method, path, data={"password": ""})
            assert response.status_code == 404, path
            assert "set-cookie" not in response.headers


def test_admin_login_wrong_and_right(world, client):
    page = client.get("/admin")
    assert "Admin login" in page.text
    wrong = client.post("/admin/login", data={"password": "guess", "csrf": csrf_of(page.text)})
    assert wrong.status_code == 403 and "Wrong password" in wrong.text
    assert "set-cookie" not in wrong.headers
    no_csrf = client.post("/admin/login", data={"password": PASSWORD})
    assert no_csrf.status_code == 403 and "set-cookie" not in no_csrf.headers

    cookie = login(client).lower()
    for flag in ("httponly", "samesite=strict", "secure", "max-age=", "path=/admin"):
        assert flag in cookie
    overview = client.get("/admin")
    assert "Recent runs" in overview.text and "Log out" in overview.text

    logout = client.post("/admin/logout", data={"csrf": csrf_of(overview.text)})
    assert logout.status_code == 303
    assert "Admin login" in client.get("/admin").text


def test_a_forged_admin_cookie_is_a_login_page(world, client):
    client.cookies.set("digest_admin", "eyJzaWQiOiJ4In0.forged.sig", domain="digest.example.org",
                       path="/admin")
    assert "Admin login" in client.get("/admin/subscribers").text


def test_admin_pages_show_runs_source_errors_and_reader_messages(world, client, feed_server):
    feed_server.add_status("/down.xml", 500)
    world.add_source("/down.xml", "Journal (Down)", "journal")
    world.subscribe("r@example.org", ["cs.CV"])
    world.now = at(1, 10)
    world.app.ingest.refresh(force=True)
    world.app.send.send()
    with Session(world.app.engine) as session:
        db.messages.record(session, ReaderMessage(
            message_id="<m1@example.org>", kind="feedback", from_address="r@example.org",
            subject="Re: digest", body="Great <b>digest</b>, thanks!"))
        session.commit()
    login(client)
    html = client.get("/admin").text
    assert "Journal (Down)" in html and "HTTP 500" in html
    assert "ingest" in html and "send" in html and "sent 1" in html
    assert "Great &lt;b&gt;digest&lt;/b&gt;, thanks!" in html  # escaped, never markup


def test_admin_subscriber_search_filter_and_pages(world, client):
    for i in range(60):
        world.subscribe(f"reader{i:02d}@example.org", ["cs.CV"], name=f"Reader {i}",
                        status="bounced" if i % 10 == 0 else "active")
    world.subscribe("ada@lab.example.org", ["cs.CV"], name="Ada Lovelace")
    login(client)
    page1 = client.get("/admin/subscribers").text
    assert "61 subscribers" in page1 and "page 1 of 2" in page1 and "next →" in page1
    page2 = client.get("/admin/subscribers?page=2").text
    assert "ada@lab.example.org" in page2 and "reader00@" not in page2
    assert "1 subscriber " in client.get("/admin/subscribers?q=LOVELACE").text
    bounced = client.get("/admin/subscribers?status=bounced").text
    assert "6 subscribers" in bounced and "reader10@example.org" in bounced
    assert "0 subscribers" in client.get("/admin/subscribers?q=100%25").text  # % is literal
    assert client.get("/admin/subscribers?page=abc").status_code == 400


def test_admin_csv_upload_runs_the_cli_importer_and_shows_its_report(world, client):
    login(client)
    page = client.get("/admin/import")
    csv_text = ("email,name,categories,keywords,exclusions,timezone,send_hour,language\n"
                "new@example.org,New,cs.CV|cs.LG,,,Europe/Berlin,7,en\n"
                "bad-address,Bad,cs.CV,,,UTC,7,en\n"
                "zone@example.org,Zone,cs.CV,,,Mars/Base,7,en\n")
    response = client.post("/admin/import", data={"csrf": csrf_of(page.text)},
                           files={"file": ("subs.csv", csv_text.encode(), "text/csv")})
    assert response.status_code == 200
    assert "Dry run, nothing written yet: 1 to add" in response.text
    with Session(world.app.engine) as session:
        assert db.subscribers.by_email(session, "new@example.org") is None
    response = confirm(client, response.text, "good")
    html = response.text
    assert "1 added" in html and "2 rejected" in html
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td><td>([^<]*)</td></tr>", html)
    assert [(line, column) for line, column, _ in rows] == [("3", "email"), ("4", "timezone")]
    with Session(world.app.engine) as session:
        assert db.subscribers.by_email(session, "new@example.org") is not None
    refused = client.post("/admin/import", files={"file": ("s.csv", b"email\n", "text/csv")})
    assert refused.status_code == 403  # no CSRF token


def test_admin_upload_with_a_cell_past_the_csv_field_limit_reports_its_line(world, client):
    """A cell over csv's 131,072-character field limit was an admin 500 (issue 8.6)."""
    login(client)
    page = client.get("/admin/import")
    csv_text = ("email,name,categories,keywords,exclusions,timezone,send_hour,language\n"
                "ok@example.org,Ok,cs.CV,,,UTC,7,en\n"
                f"huge@example.org,{'x' * 131_073},cs.CV,,,UTC,7,en\n"
                "after@example.org,After,cs.LG,,,UTC,7,en\n")
    response = client.post("/admin/import", data={"csrf": csrf_of(page.text)},
                           files={"file": ("subs.csv", csv_text.encode(), "text/csv")})
    assert response.status_code == 200
    response = confirm(client, response.text, "good")
    assert "2 added" in response.text and "1 rejected" in response.text
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.text)
    assert [line for line, _, _ in rows] == ["3"] and "longer than" in rows[0][2]
    with Session(world.app.engine) as session:
        assert db.subscribers.by_email(session, "huge@example.org") is None
        assert db.subscribers.by_email(session, "after@example.org") is not None


# --- the admin pages' language ----------------------------------------------------------

EN_TEXTS, ZH_TEXTS = i18n.texts("en"), i18n.texts("zh")
# Every English admin text with no placeholder that Chinese words differently.
ADMIN_ENGLISH = sorted({v for k, v in EN_TEXTS.items() if k.startswith("page.admin.")
                        and "{" not in v and len(v) > 3 and v != ZH_TEXTS[k]})
ADMIN_HEADINGS = ["Admin login", "Overview", "Subscribers", "Import subscribers", "Recent runs",
                  "Reader messages", "Log out"]
CSV_HEADER = "email,name,categories,keywords,exclusions,timezone,send_hour,language\n"


@pytest.fixture
def zh_admin(tmp_path: Path, feed_server):
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD, admin_language="zh")
    world.add_demo_sources()
    world.app.ingest.refresh()
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as c:
        yield world, c


def chinese(html: str) -> str:
    """The visible text of a zh admin page, checked: Chinese typesetting, no English UI."""
    assert '<html lang="zh-Hans">' in html and "｜科研简报</title>" in html
    text = visible(html)
    assert [w for w in ADMIN_ENGLISH + ADMIN_HEADINGS if w in text] == []
    assert zh_faults(text) == []
    return text


def test_admin_login_and_its_refusals_speak_the_admin_language(zh_admin):
    world, client = zh_admin
    page = client.get("/admin")
    assert "<h1>管理员登录</h1>" in page.text and ">登录</button>" in page.text
    chinese(page.text)
    expired = client.post("/admin/login", data={"password": PASSWORD})
    assert expired.status_code == 403 and "<h1>表单已过期</h1>" in expired.text
    chinese(expired.text)
    for _ in range(5):  # the throttle's free tries
        wrong = client.post("/admin/login", data={"password": "guess", "csrf": csrf_of(page.text)})
    assert wrong.status_code == 403 and "密码错误。" in chinese(wrong.text)
    waiting = client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf_of(page.text)})
    assert waiting.status_code == 429
    assert "密码错误次数过多。请在1秒后重试。" in chinese(waiting.text)
    world.now += timedelta(seconds=5)
    login(client)
    assert "<h1>概览</h1>" in client.get("/admin").text


def test_admin_overview_subscribers_and_import_speak_the_admin_language(zh_admin):
    world, client = zh_admin
    world.subscribe("ada@lab.example.org", ["cs.CV"], name="Ada Lovelace")
    world.subscribe("bob@example.org", ["cs.CV"], status="bounced")
    world.app.send.send()
    with Session(world.app.engine) as session:
        db.messages.record(session, ReaderMessage(
            message_id="<m2@example.org>", kind="unverified_unsubscribe",
            from_address="x@elsewhere.org", subject="unsubscribe", body="unsubscribe"))
        session.commit()
    login(client)
    overview = client.get("/admin").text
    text = chinese(overview)
    assert "共2位订阅者，其中1位在订" in text and "最近的运行" in text and "退出登录" in text
    assert '<a href="/admin/subscribers">订阅者列表</a>中手动更改该订阅者。' in overview
    assert "未更改任何人" in text and "unverified_unsubscribe" in text  # kinds stay codes

    listing = client.get("/admin/subscribers").text
    text = chinese(listing)
    assert "<h1>订阅者</h1>" in listing and "2位订阅者 · 第1页，共1页" in text
    assert '<option value="bounced">退信</option>' in listing and ">退信</span>" in listing
    assert "07点 UTC · en" in text
    assert "1位订阅者 · " in chinese(client.get("/admin/subscribers?q=LOVELACE").text)

    form = client.get("/admin/import")
    assert "列：email, name, categories" in chinese(form.text)
    csrf = csrf_of(form.text)
    none = client.post("/admin/import", data={"csrf": csrf}, files={"other": ("x", b"x")})
    assert "请选择要上传的 CSV 文件。" in chinese(none.text)
    latin1 = client.post("/admin/import", data={"csrf": csrf},
                         files={"file": ("s.csv", CSV_HEADER.encode() + b"\xe9\n", "text/csv")})
    assert "此文件的编码不是 UTF-8" in chinese(latin1.text)
    csv_text = (CSV_HEADER + "new@example.org,New,cs.CV,,,Europe/Berlin,7,zh\n"
                "zone@example.org,Zone,cs.CV,,,Mars/Base,7,en\n"
                "new@example.org,Again,cs.CV,,,Europe/Berlin,7,zh\n"
                "nul@example.org,N\0L,cs.CV,,,UTC,7,en\n")
    report = client.post("/admin/import", data={"csrf": csrf},
                         files={"file": ("subs.csv", csv_text.encode(), "text/csv")})
    text = chinese(report.text)
    assert "试运行，尚未写入：将新增1位，更新0位，未变0位，保持退订0位，拒绝3行" in text
    assert "只导入正确的行" in text
    report = confirm(client, report.text, "good")
    text = chinese(report.text)
    assert "已导入：新增1位，更新0位，未变0位，保持退订0位，拒绝3行" in text
    assert "新增：" in text and "被拒绝的行" in text
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td><td>([^<]*)</td></tr>", report.text)
    # The validator's refusals and the importer's own reasons alike, in the admin's language.
    assert [(line, column, htmllib.unescape(reason)) for line, column, reason in rows] == [
        ("3", "timezone", "未知的时区 'Mars/Base'（请填写 IANA 时区名，例如 Europe/Berlin）"),
        ("4", "email", "与第2行重复"), ("5", "name", "第2个字符是 NUL 字符（文件已损坏？）")]


def test_admin_pages_are_english_by_default(world, client):
    assert world.app.settings.admin_language == "en"
    world.subscribe("ada@lab.example.org", ["cs.CV"], name="Ada Lovelace")
    login_page = client.get("/admin").text
    assert "<h1>Admin login</h1>" in login_page and not re.search(HAN, visible(login_page))
    login(client)
    for path, heading in (("/admin", "Overview"), ("/admin/subscribers", "Subscribers"),
                          ("/admin/import", "Import subscribers")):
        html = client.get(path).text
        assert '<html lang="en">' in html and f"<h1>{heading}</h1>" in html and "Log out" in html
        assert not re.search(HAN, visible(html)), path
    assert "1 subscriber · page 1 of 1" in client.get("/admin/subscribers").text
