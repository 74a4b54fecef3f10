"""Every admin route, found from the web package's routers rather than listed by hand (a
new route is covered the day it is added): a stranger gets the login page or a 403 and
none of the data; a logged-in admin's POST without the CSRF token, or with a forged one,
is a 403 and changes nothing.

Real SQLite, FastAPI's TestClient on the real app.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi.testclient import TestClient
from test_web import BASE, PASSWORD, csrf_of, login
from world import World

import digest_mailer.faces.web as web_package
from digest_mailer.faces.web import create_app

SECRET = "guarded-reader@example.org"
OPEN = {"/admin/login"}  # what a stranger must be able to reach


def admin_routes() -> list[tuple[str, str]]:
    routes = set()
    for info in pkgutil.iter_modules(web_package.__path__):
        module = importlib.import_module(f"{web_package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", ()):
            if route.path.startswith("/admin") and route.path not in OPEN:
                routes |= {(method, route.path) for method in route.methods - {"HEAD"}}
    return sorted(routes)


ROUTES = admin_routes()


@pytest.fixture
def world(tmp_path, feed_server) -> World:
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD)
    world.add_demo_sources()  # registered, not fetched: the routes need one source
    world.subscribe(SECRET, ["cs.CV"], status="unsubscribed")
    return world


def concrete(path: str, world: World) -> str:
    subscriber = world.app.subscribers.by_email(SECRET)
    source = world.app.sources.every()[0]
    return (path.replace("{subscriber_id}", str(subscriber.id))
            .replace("{source_id}", str(source.id)))


FORM = {"reason": "guard", "to": "admin@example.org", "token": "x", "mode": "all",
        "url": "http://example.org/feed", "label": "L", "category": "cs.XX"}


def test_the_guard_covers_every_admin_post():
    posts = {path for method, path in ROUTES if method == "POST"}
    # the routes this test was written against: if one goes, the finder broke
    assert {"/admin/subscribers/{subscriber_id}/resubscribe", "/admin/import/confirm",
            "/admin/sources"} <= posts, posts


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_stranger_gets_no_admin_page_and_no_data(world, method, path):
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as stranger:
        answer = stranger.request(method, concrete(path, world), data=FORM)
    assert answer.status_code in (200, 303, 401, 403, 404, 405), answer.status_code
    if answer.status_code == 200:  # the login page, nothing else
        assert 'id="password"' in answer.text
    assert SECRET not in answer.text
    assert world.app.subscribers.by_email(SECRET).status == "unsubscribed"


@pytest.mark.parametrize("path", [p for m, p in ROUTES if m == "POST"])
@pytest.mark.parametrize("token", [None, "forged"])
def test_an_admin_post_without_its_csrf_token_is_refused(world, path, token):
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as admin:
        login(admin)
        csrf_of(admin.get("/admin").text)  # the session has a real token; it is not sent
        form = FORM if token is None else {**FORM, "csrf": token}
        answer = admin.post(concrete(path, world), data=form)
    assert answer.status_code == 403, (path, answer.status_code)
    assert world.app.subscribers.by_email(SECRET).status == "unsubscribed"
    assert [s.label for s in world.app.sources.every()].count("L") == 0
