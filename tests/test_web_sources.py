"""The admin's source pages through FastAPI's TestClient (real SQLite, feeds on loopback):
CSRF, refusals shown per field and never reflected unescaped, 404s, the admin's language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_i18n import visible, zh_faults
from test_web import BASE, PASSWORD, csrf_of, login
from world import DEMO, World

from digest_mailer.faces.web import create_app

CV = DEMO / "feeds" / "arxiv_cs.CV.xml"


@pytest.fixture
def admin(tmp_path: Path, feed_server):
    # The feeds are on loopback (test_source_guard.py: refused by default).
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD,
                        sources_allow_private=True)
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as client:
        login(client)
        yield world, client


def _form(client: TestClient, path: str = "/admin/sources") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def test_add_refused_per_field_then_added_fetched_disabled_removed(admin):
    world, client = admin
    csrf = _form(client)
    hostile = '"><script>alert(1)</script>'
    refused = client.post("/admin/sources", data={
        "csrf": csrf, "url": "javascript:alert(1)", "label": hostile, "category": "a b"})
    assert refused.status_code == 400
    assert "<script>alert(1)</script>" not in refused.text  # the label is only escaped
    assert 'value="&#34;&gt;&lt;script&gt;' in refused.text
    errors = dict(re.findall(r'<p class="error" id="(\w+)-error">([^<]+)</p>', refused.text))
    assert errors == {"url": "a feed URL must use http, https, not javascript",
                      "category": "a category code has no spaces (e.g. cs.CV)"}
    assert world.app.sources.every() == []

    page = world.feeds.add_bytes("/page", b"<html>hi</html>", content_type="text/html")
    refused = client.post("/admin/sources", data={"csrf": csrf, "url": page,
                                                  "label": "News", "category": "news"})
    assert refused.status_code == 400 and "Nothing was stored." in refused.text
    assert "the test fetch failed: not an RSS or Atom feed" in refused.text

    url = world.feeds.add_file("/cs.CV", CV)
    added = client.post("/admin/sources", data={"csrf": csrf, "url": url,
                                                "label": "arXiv (cs.CV)", "category": "cs.CV"})
    assert added.status_code == 200 and "Added. The test fetch found" in added.text
    (source,) = world.app.sources.every()
    assert re.search(r"<td>test fetch</td>\s*<td>200</td>", added.text)

    fetched = client.post(f"/admin/sources/{source.id}/fetch", data={"csrf": csrf})
    counted = re.search(r"Fetched: (\d+) items, (\d+) of them new.", fetched.text)
    assert counted and counted.group(1) == counted.group(2) != "0", fetched.text
    assert re.search(r"<td>fetch now</td>\s*<td>200</td>", fetched.text)
    again = client.post(f"/admin/sources/{source.id}/fetch", data={"csrf": csrf})
    assert "Fetched: not modified since the last fetch." in again.text
    world.feeds.add_status("/cs.CV", 503)
    failed = client.post(f"/admin/sources/{source.id}/fetch", data={"csrf": csrf})
    assert "The fetch failed: HTTP 503" in failed.text

    off = client.post(f"/admin/sources/{source.id}/active", data={"csrf": csrf, "active": "0"})
    assert "Disabled:" in off.text and not world.app.sources.every()[0].active
    assert 'name="active" value="1"' in off.text  # the button now enables

    world.subscribe("ada@example.org", ["cs.CV"])
    bare = client.post(f"/admin/sources/{source.id}/remove", data={"csrf": csrf})
    assert bare.status_code == 400 and world.app.sources.every() != []
    removed = client.post(f"/admin/sources/{source.id}/remove",
                          data={"csrf": csrf, "confirm": "yes"})
    assert removed.status_code == 200 and "Removed: arXiv (cs.CV)." in removed.text
    assert "1 subscriber lost the category cs.CV:" in removed.text
    assert '<ul id="lost"><li>ada@example.org</li></ul>' in removed.text
    assert client.get(f"/admin/sources/{source.id}").status_code == 404


def test_every_source_form_needs_the_session_and_its_csrf_token(admin, tmp_path):
    world, client = admin
    url = world.feeds.add_file("/cs.CV", CV)
    (source_id,) = [s.id for s in [world.app.sources.add(url, "A", "cs.CV").source] if s]
    for path, data in (("/admin/sources", {"url": url, "label": "B", "category": "cs.CV"}),
                       (f"/admin/sources/{source_id}/edit", {"label": "B", "category": "x"}),
                       (f"/admin/sources/{source_id}/active", {"active": "0"}),
                       (f"/admin/sources/{source_id}/fetch", {}),
                       (f"/admin/sources/{source_id}/remove", {"confirm": "yes"})):
        assert client.post(path, data={**data, "csrf": "forged"}).status_code == 403, path
        with TestClient(client.app, base_url=BASE, follow_redirects=False) as stranger:
            assert stranger.post(path, data=data).status_code == 403, path
    (source,) = world.app.sources.every()
    assert (source.label, source.category, source.active) == ("A", "cs.CV", True)
    assert client.get("/admin/sources/999").status_code == 404
    assert client.get("/admin/sources/abc").status_code in (400, 404, 422)


def test_edit_shows_refusals_and_who_followed_a_renamed_category(admin):
    world, client = admin
    added = world.app.sources.add(world.feeds.add_file("/bio", CV), "bio", "bio")
    assert added.source is not None
    world.subscribe("ada@example.org", ["bio"])
    path = f"/admin/sources/{added.source.id}"
    csrf = _form(client, path)
    bad = client.post(path + "/edit", data={"csrf": csrf, "label": "", "category": "x|y",
                                            "kind": "rss"})
    assert bad.status_code == 400 and 'id="label-error"' in bad.text
    assert 'id="category-error"' in bad.text and 'value="x|y"' in bad.text
    good = client.post(path + "/edit", data={"csrf": csrf, "label": "bioRxiv",
                                             "category": "q-bio.BM", "kind": "rss"})
    assert "Saved." in good.text and '<span id="moved">ada@example.org</span>' in good.text


def test_the_source_pages_speak_the_admin_language(tmp_path, feed_server):
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD, admin_language="zh",
                        sources_allow_private=True)
    url = world.feeds.add_file("/cs.CV", CV)
    added = world.app.sources.add(url, "arXiv (cs.CV)", "cs.CV")
    assert added.source is not None
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as client:
        login(client)
        for path in ("/admin/sources", f"/admin/sources/{added.source.id}"):
            html = client.get(path).text
            assert '<html lang="zh-Hans">' in html and "来源" in html
            assert zh_faults(visible(html)) == []
        refused = client.post("/admin/sources", data={"csrf": _form(client), "url": "x",
                                                      "label": "L", "category": "c"})
        assert "订阅源网址必须使用 http, https，而不是 none" in refused.text
