"""Issue 12, the admin's subscribers: status history, one subscriber's page (preview, test
digest over a real SMTP sink, resubscribe with a reason), search by any field, the CSV
export, the browser import in two steps, and list cells split on "|", ";" or ",".

Real SQLite, real feeds over loopback HTTP, FastAPI's TestClient on the real app.
"""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import BadSignature
from sqlmodel import Session, select
from test_web import BASE, PASSWORD, TOKEN, confirm, csrf_of, links_of, local, login
from world import World, parts

from digest_mailer import db
from digest_mailer.db.models import Delivery, Entry, ImportDraft, ReaderMessage, StatusChange, Vote
from digest_mailer.domain.subscriber import split_cell
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.admin_subscribers import PREVIEW_CSP
from digest_mailer.mail.links import PURPOSES
from digest_mailer.services.exporter import join_items

HEADER = "email,name,categories,keywords,exclusions,timezone,send_hour,language\n"


@pytest.fixture
def world(tmp_path: Path, feed_server, smtp_server) -> World:
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD,
                        smtp_url=smtp.url(), admin_email="admin@example.org")
    world.smtp = smtp  # type: ignore[attr-defined]
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world



def history(world: World, subscriber_id: int) -> list[tuple[str | None, str, str, str]]:
    with Session(world.app.engine) as session:
        return [(h.previous, h.status, h.reason, h.by)
                for h in reversed(db.statuses.history(session, subscriber_id))]


def upload(client, text: str):
    page = client.get("/admin/import")
    return client.post("/admin/import", data={"csrf": csrf_of(page.text)},
                       files={"file": ("subs.csv", text.encode(), "text/csv")})


def emails(world: World) -> list[str]:
    return [s.email for s in world.app.subscribers.every()]


# --- list cells --------------------------------------------------------------------------

@pytest.mark.parametrize("cell, items", [
    ("cs.CV|cs.AI", ["cs.CV", "cs.AI"]), ("cs.CV;cs.AI", ["cs.CV", "cs.AI"]),
    ("cs.CV, cs.AI", ["cs.CV", "cs.AI"]), ("cs.CV ; cs.AI;", ["cs.CV", "cs.AI"]),
    ("graph, neural|diffusion", ["graph, neural", "diffusion"]),  # "|" wins
    ("", []), ("cs.CV", ["cs.CV"])])
def test_a_list_cell_splits_on_bars_or_else_semicolons_and_commas(cell, items):
    assert split_cell(cell) == items


def test_the_cli_import_reads_quoted_semicolon_and_comma_cells_and_exports_round_trip(world):
    text = (HEADER + 'a@example.org,A,"cs.CV;cs.LG","diffusion; graph neural",,UTC,7,en\n'
            'b@example.org,B,"cs.CV, cs.LG","x|y, z",,UTC,7,en\n')
    report = world.app.subscribers.import_csv(text.encode(), skip_invalid=False)
    assert report.written and report.added == ["a@example.org", "b@example.org"]
    a = world.app.subscribers.by_email("a@example.org")
    b = world.app.subscribers.by_email("b@example.org")
    assert a.categories == b.categories == ["cs.CV", "cs.LG"]
    assert (a.keywords, b.keywords) == (["diffusion", "graph neural"], ["x", "y, z"])
    assert join_items(["y, z"]) == "y, z|"  # a lone item with a comma stays one item
    # The export imports back unchanged, the keyword with a comma included.
    handle = io.StringIO()
    world.app.subscribers.export(handle)
    again = world.app.subscribers.import_csv(handle.getvalue().encode(), skip_invalid=False)
    assert again.unchanged == ["a@example.org", "b@example.org"] and not again.updated


# --- status history ------------------------------------------------------------------------

def test_every_status_change_is_in_the_history_with_what_made_it(world, client):
    ada = world.subscribe("ada@example.org", ["cs.CV"])
    client.post(local(links_of(world, ada).unsubscribe), data={"List-Unsubscribe": "One-Click"})
    world.app.subscribers.undo_unsubscribe(ada.public_id)
    world.app.subscribers.unsubscribe(ada.public_id, "one-click")
    report = world.app.subscribers.import_csv(
        (HEADER + "ada@example.org,Ada,cs.CV,,,UTC,7,en\nnew@example.org,N,cs.CV,,,UTC,7,en\n"
         ).encode(), resubscribe=True)
    assert report.resubscribed == ["ada@example.org"]
    assert history(world, ada.id) == [
        ("active", "unsubscribed", "one-click", "one-click"),
        ("unsubscribed", "active", "undo", "one-click"),
        ("active", "unsubscribed", "one-click", "one-click"),
        ("unsubscribed", "active", "resubscribed by import", "import")]
    new = world.app.subscribers.by_email("new@example.org")
    assert history(world, new.id) == [(None, "active", "added by import", "import")]
    # A dry run writes no history.
    world.app.subscribers.import_csv((HEADER + "dry@example.org,D,cs.CV,,,UTC,7,en\n").encode(),
                                     dry_run=True)
    with Session(world.app.engine) as session:
        assert len(session.exec(select(StatusChange)).all()) == 5


# --- one subscriber's page ---------------------------------------------------------------

def test_the_page_shows_profile_history_votes_and_replies_escaped(world, client):
    ada = world.subscribe("ada@example.org", ["cs.CV"], name="<b>Ada</b>",
                          keywords=["diffusion"])
    world.app.subscribers.unsubscribe(ada.public_id, "one-click")
    with Session(world.app.engine) as session:
        entry = session.exec(select(Entry)).first()
        title = entry.title
        session.add(Vote(subscriber_id=ada.id, entry_key=entry.key, vote="more"))
        db.messages.record(session, ReaderMessage(
            message_id="<r1@example.org>", kind="feedback", from_address="ada@example.org",
            subscriber_id=ada.id, subject="Re: digest", body="More <i>diffusion</i> please"))
        session.commit()
    login(client)
    html = client.get(f"/admin/subscribers/{ada.id}").text
    assert "&lt;b&gt;Ada&lt;/b&gt;" in html and "<b>Ada</b>" not in html
    assert re.search(r'id="history".*active → unsubscribed</td><td>one-click</td>'
                     r'<td>one-click', html, re.S)
    assert htmllib.escape(title, quote=False)[:30] in html and "more like this" in html
    assert "More &lt;i&gt;diffusion&lt;/i&gt; please" in html
    assert client.get("/admin/subscribers/999999").status_code == 404
    assert client.get("/admin/subscribers/abc").status_code == 400


def test_resubscribe_needs_a_reason_and_logs_it(world, client):
    ada = world.subscribe("ada@example.org", ["cs.CV"], status="bounced", soft_bounces=3)
    login(client)
    page = client.get(f"/admin/subscribers/{ada.id}").text
    path = f"/admin/subscribers/{ada.id}/resubscribe"
    refused = client.post(path, data={"csrf": csrf_of(page), "reason": "   "})
    assert refused.status_code == 400 and "Say why" in refused.text
    assert client.post(path, data={"reason": "asked by phone"}).status_code == 403  # no CSRF
    assert world.app.subscribers.by_email("ada@example.org").status == "bounced"
    done = client.post(path, data={"csrf": csrf_of(page), "reason": "asked by phone, 2 Dec"})
    assert done.status_code == 200 and "active again" in done.text
    row = world.app.subscribers.by_email("ada@example.org")
    assert (row.status, row.status_reason, row.soft_bounces) == (
        "active", "asked by phone, 2 Dec", 0)
    assert history(world, ada.id) == [("bounced", "active", "asked by phone, 2 Dec", "admin")]


def test_a_pending_sign_up_cannot_be_resubscribed_by_the_admin(world, client):
    """Anyone can type an address into /subscribe: only its owner's confirm makes it active."""
    pending = world.subscribe("typed@example.org", ["cs.CV"], status="pending")
    login(client)
    page = client.get(f"/admin/subscribers/{pending.id}").text
    assert 'id="resubscribe"' not in page
    answer = client.post(f"/admin/subscribers/{pending.id}/resubscribe",
                         data={"csrf": csrf_of(page), "reason": "they asked"})
    assert answer.status_code == 409 and "has not confirmed" in answer.text
    assert world.app.subscribers.by_email("typed@example.org").status == "pending"
    assert history(world, pending.id) == []


def test_preview_is_todays_digest_sandboxed_and_writes_nothing(world, client):
    ada = world.subscribe("ada@example.org", ["cs.CV"])
    login(client)
    response = client.get(f"/admin/subscribers/{ada.id}/preview")
    assert response.status_code == 200 and "arxiv.org/abs/" in response.text
    assert response.headers["content-security-policy"] == PREVIEW_CSP
    assert "sandbox" in PREVIEW_CSP and "script-src" not in PREVIEW_CSP
    own = links_of(world, ada)
    assert own.unsubscribe not in response.text and own.preferences not in response.text
    assert f"{BASE}/test-digest/en" in response.text and "/f/" not in response.text
    with Session(world.app.engine) as session:
        assert session.exec(select(Delivery)).all() == []


def test_a_test_digest_goes_to_the_admin_over_smtp_and_is_no_delivery(world, client):
    ada = world.subscribe("ada@example.org", ["cs.CV"])
    login(client)
    page = client.get(f"/admin/subscribers/{ada.id}").text
    assert 'value="admin@example.org"' in page  # DIGEST_ADMIN_EMAIL is the default
    assert "Today&#39;s digest</h2>" in page and "its links disabled" in page
    weekly = world.subscribe("wes@example.org", ["cs.CV"], cadence="weekly", weekday=3)
    weekly_page = client.get(f"/admin/subscribers/{weekly.id}").text
    assert "This week&#39;s digest</h2>" in weekly_page and "today" not in weekly_page.lower()
    path = f"/admin/subscribers/{ada.id}/test"
    bad = client.post(path, data={"csrf": csrf_of(page), "to": "not an address\r\nBcc: x@y"})
    assert bad.status_code == 400 and world.smtp.messages == []
    sent = client.post(path, data={"csrf": csrf_of(page), "to": "Other@Example.org"})
    assert sent.status_code == 200 and "Test digest sent to other@example.org" in sent.text
    (received,) = world.smtp.messages
    assert received.rcpt_tos == ["other@example.org"]
    message = message_from_bytes(received.content, policy=policy.default)
    assert message["To"] == "other@example.org" and message["Subject"].startswith("[test] ")
    assert message["List-Unsubscribe"] is None and "ada@example.org" not in str(message["To"])
    assert message["List-Unsubscribe-Post"] is None
    # Not one token in the copy verifies, for any purpose: a click acts for no reader.
    text, html = parts(message)
    everything = "\n".join([text, html, *(f"{k}: {v}" for k, v in message.items())])
    urls = set(re.findall(r"(?:https?|mailto):[^\s\"'<>]+", htmllib.unescape(everything)))
    pieces = {p for url in urls for p in re.split(r"[/?&=:]", url) if len(p) > 8}
    assert urls and pieces
    for piece in pieces:
        for purpose in PURPOSES:
            with pytest.raises(BadSignature):
                world.app.signer.load(purpose, piece)
    own = links_of(world, ada)
    assert own.unsubscribe not in everything and own.preferences not in everything
    assert ada.public_id not in everything
    # Each of the digest's links is the page that says so, in the reader's language.
    inert = {u for u in urls if u.startswith(BASE)}
    assert inert == {f"{BASE}/test-digest/en"}, urls
    shown = client.get(local(inert.pop()))
    assert shown.status_code == 200 and "This was a test digest" in shown.text
    assert "测试摘要" in client.get("/test-digest/zh").text
    assert client.get("/test-digest/xx").status_code == 200  # unknown language: English
    assert world.app.subscribers.by_email("ada@example.org").status == "active"
    with Session(world.app.engine) as session:
        assert session.exec(select(Delivery)).all() == []  # not recorded as a delivery
    # The real send later still sends Ada her digest.
    assert world.app.send.send().counts["sent"] == 1


# --- search and export ---------------------------------------------------------------------

def test_search_by_any_field_or_one(world, client):
    world.subscribe("ada@example.org", ["cs.CV"], name="Ada", keywords=["diffusion"])
    world.subscribe("bo@example.org", ["cs.LG"], name="Bo", language="zh", keywords=["扩散模型"])
    world.subscribe("cy@example.org", ["cs.CV"], name="Cy", status="unsubscribed")
    login(client)

    def found(query: str) -> list[str]:
        html = client.get("/admin/subscribers?" + query).text
        return re.findall(r'<a href="/admin/subscribers/\d+">([^<]+)</a>', html)

    assert found("q=cs.LG") == ["bo@example.org"]
    assert found("q=diffusion") == ["ada@example.org"]
    assert found("q=扩散") == ["bo@example.org"]  # stored \\u-escaped in the JSON
    assert found("q=zh&field=language") == ["bo@example.org"]
    assert found("q=unsub&field=status") == ["cy@example.org"]
    assert found("q=cs.CV&field=name") == []
    assert found("q=cs.CV&status=active") == ["ada@example.org"]
    assert found("q=cs.CV&field=nonsense") == ["ada@example.org", "cy@example.org"]


def test_the_csv_export_is_the_clis_as_an_attachment_formulas_neutralised(world, client):
    world.subscribe("ada@example.org", ["cs.CV"], name="=HYPERLINK(\"http://x\")")
    login(client)
    response = client.get("/admin/subscribers/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="subscribers-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["content-disposition"])
    handle = io.StringIO()
    world.app.subscribers.export(handle)
    assert response.text == handle.getvalue()
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1][1] == "'=HYPERLINK(\"http://x\")"
    client.cookies.clear()
    assert client.get("/admin/subscribers/export.csv").status_code == 403


# --- the browser import in two steps -----------------------------------------------------

BAD_CSV = (HEADER + "new@example.org,New,\"cs.CV;cs.LG\",,,UTC,7,en\n"
           "ada@example.org,Ada L,cs.CV,,,UTC,7,en\n"
           "gone@example.org,Gone,cs.CV,,,UTC,7,en\n"
           "bad-address,Bad,cs.CV,,,UTC,7,en\n")


def test_upload_previews_then_all_or_nothing_refuses_and_good_rows_apply(world, client):
    world.subscribe("ada@example.org", ["cs.CV"], name="Ada")
    world.subscribe("gone@example.org", ["cs.CV"], name="Gone", status="unsubscribed")
    login(client)
    preview = upload(client, BAD_CSV)
    html = preview.text
    assert "Dry run, nothing written yet: 1 to add, 1 to update, 0 unchanged, 1 left" in html
    assert "ada@example.org <span class=\"muted\">(fields: name)</span>" in html
    assert re.search(r"gone@example.org <span class=\"muted\">\(unsubscribed\)", html)
    assert re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td>", html) == [("5", "email")]
    assert emails(world) == ["ada@example.org", "gone@example.org"]  # nothing written

    refused = confirm(client, html, "all")
    assert "Refused, nothing written: 1 rows rejected" in refused.text
    assert emails(world) == ["ada@example.org", "gone@example.org"]
    assert TOKEN.search(refused.text)  # the upload is kept: the good rows can still go in

    imported = confirm(client, refused.text, "good")
    assert "Imported: 1 added, 1 updated, 0 unchanged, 1 left unsubscribed, 1 rejected" in (
        imported.text)
    assert emails(world) == ["ada@example.org", "gone@example.org", "new@example.org"]
    assert world.app.subscribers.by_email("new@example.org").categories == ["cs.CV", "cs.LG"]
    assert world.app.subscribers.by_email("gone@example.org").status == "unsubscribed"
    # Used once: the same token again is refused, and the draft is gone.
    again = confirm(client, refused.text, "good")
    assert again.status_code == 410 and "expired" in again.text
    with Session(world.app.engine) as session:
        assert session.exec(select(ImportDraft)).all() == []


def test_a_clean_upload_imports_with_all_or_nothing(world, client):
    login(client)
    preview = upload(client, HEADER + "a@example.org,A,cs.CV,,,UTC,7,en\n")
    assert 'id="confirm-good"' not in preview.text  # nothing rejected: one button
    done = confirm(client, preview.text, "all")
    assert "Imported: 1 added" in done.text and emails(world) == ["a@example.org"]


def test_a_draft_opens_only_for_its_session_and_its_token(world, client):
    login(client)
    preview = upload(client, HEADER + "a@example.org,A,cs.CV,,,UTC,7,en\n")
    token = TOKEN.search(preview.text).group(1)
    csrf = csrf_of(preview.text)
    for forged in ("", "x" * 500, token[:-1] + ("A" if token[-1] != "A" else "B"),
                   "../../etc/passwd"):
        answer = client.post("/admin/import/confirm",
                             data={"csrf": csrf, "token": forged, "mode": "all"})
        assert answer.status_code == 410, forged
    # Another admin session cannot confirm it, even with the token.
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as other:
        login(other)
        page = other.get("/admin/import").text
        stolen = other.post("/admin/import/confirm",
                            data={"csrf": csrf_of(page), "token": token, "mode": "all"})
        assert stolen.status_code == 410
    assert emails(world) == []
    assert client.post("/admin/import/confirm", data={"csrf": csrf, "token": token,
                                                      "mode": "all"}).status_code == 200
    assert emails(world) == ["a@example.org"]


def test_an_unusable_file_keeps_no_draft(world, client):
    login(client)
    preview = upload(client, "name,categories\nA,cs.CV\n")  # no email column
    assert not TOKEN.search(preview.text) and "email" in preview.text
    with Session(world.app.engine) as session:
        assert session.exec(select(ImportDraft)).all() == []


@pytest.mark.parametrize("attempts", [2, 4])
def test_concurrent_confirms_of_one_draft_import_it_once(tmp_path, feed_server, database_url,
                                                         attempts):
    """A double click or a replayed confirm, at the same instant: one import is written,
    the others find the draft gone (None: the page's 410), and nothing raises."""
    from conftest import at_once

    world = World.build(tmp_path, feed_server, database_url=database_url)
    world.add_demo_sources()
    drafts = world.app.import_drafts
    token, plan = drafts.preview("admin-1", (HEADER + "a@example.org,A,cs.CV,,,UTC,7,en\n"
                                             "b@example.org,B,cs.CV,,,UTC,7,en\n").encode())
    assert token and plan.added == ["a@example.org", "b@example.org"]
    outcomes = at_once(lambda: drafts.confirm("admin-1", token, good_rows=False), attempts)
    written = [o for o in outcomes if getattr(o, "written", False)]
    assert len(outcomes) == attempts and len(written) == 1, outcomes
    assert outcomes.count(None) == attempts - 1, outcomes
    assert written[0].added == ["a@example.org", "b@example.org"]
    assert sorted(emails(world)) == ["a@example.org", "b@example.org"]
    with Session(world.app.engine) as session:
        assert session.exec(select(ImportDraft)).all() == []
        assert len(session.exec(select(StatusChange)).all()) == 2  # one "added" each


def test_a_refused_confirm_keeps_the_draft_for_the_good_rows(world):
    drafts = world.app.import_drafts
    token, _ = drafts.preview("admin-1", (HEADER + "a@example.org,A,cs.CV,,,UTC,7,en\n"
                                          "not-an-address,B,cs.CV,,,UTC,7,en\n").encode())
    refused = drafts.confirm("admin-1", token, good_rows=False)
    assert refused is not None and refused.refused and not refused.written
    assert emails(world) == []
    good = drafts.confirm("admin-1", token, good_rows=True)
    assert good is not None and good.written and good.added == ["a@example.org"]
    assert drafts.confirm("admin-1", token, good_rows=True) is None  # used up
