"""Acceptance: no input makes the web app answer 5xx.

schemathesis generates requests from the app's OpenAPI schema (every route, with random
tokens, query strings and form bodies); hypothesis then sends random form bodies with a
valid token and CSRF token to the preferences page, and random paths and methods.
Bounded: a fixed number of examples each, well under a minute in all.
"""

from __future__ import annotations

import re
import string
import time

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session
from world import World

from digest_mailer import db
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.login import ADMIN_COOKIE

PASSWORD = "fuzz-admin-password"
BASE = "https://digest.example.org"
FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture
def fuzz_world(tmp_path, feed_server) -> World:
    world = World.build(tmp_path, feed_server, admin_password=PASSWORD)
    world.add_demo_sources()
    world.app.ingest.refresh()
    world.subscribe("r@example.org", ["cs.CV"])
    return world


def test_no_request_generated_from_the_openapi_schema_gets_a_5xx(fuzz_world):
    app = create_app(fuzz_world.app)
    schema = schemathesis.openapi.from_dict(app.openapi())  # the app serves no schema itself
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    # Half the requests come with a valid admin session, so the admin pages are reached.
    cookie = app.state.admin.issue("127.0.0.1")
    started = time.monotonic()
    for operation in operations:

        @FAST
        @given(case=operation.as_strategy(), admin=st.booleans())
        def call(case, admin: bool) -> None:
            response = case.call(cookies={ADMIN_COOKIE: cookie} if admin else None)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            assert "Traceback" not in response.text

        call()
    assert time.monotonic() - started < 60


def test_random_preferences_forms_never_get_a_5xx(fuzz_world):
    with TestClient(create_app(fuzz_world.app), base_url=BASE) as client:
        with Session(fuzz_world.app.engine) as session:
            reader = db.subscribers.by_email(session, "r@example.org")
            assert reader is not None
            path = "/p/" + fuzz_world.app.signer.token("preferences", reader.public_id)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)
        text = st.text(max_size=300) | st.sampled_from(["", "7", "UTC", "en", "zh", "100"])
        form = st.fixed_dictionaries({}, optional={
            name: text for name in ("keywords", "exclusions", "send_hour", "timezone",
                                    "language", "max_papers")})
        categories = st.lists(st.sampled_from(["cs.CV", "cs.CL", "x", ""]) | st.text(max_size=20),
                              max_size=5)
        started = time.monotonic()

        @FAST
        @given(form=form, categories=categories)
        def post(form: dict[str, str], categories: list[str]) -> None:
            data = {**form, "csrf": csrf, "categories": categories}
            response = client.post(path, data=data)
            assert response.status_code in (200, 400), response.text[:300]

        post()
        assert time.monotonic() - started < 60


def test_random_paths_and_methods_never_get_a_5xx(fuzz_world):
    segment = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%!$&'()*+,;=:@",
                      max_size=40)
    prefix = st.sampled_from(["", "u", "p", "f", "v", "admin", "admin/import", "healthz"])
    with TestClient(create_app(fuzz_world.app), base_url=BASE) as client:

        @FAST
        @given(prefix=prefix, tail=st.lists(segment, max_size=3),
               method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
               body=st.binary(max_size=200),
               content_type=st.sampled_from(["application/x-www-form-urlencoded",
                                             "multipart/form-data; boundary=x",
                                             "multipart/form-data", "text/plain"]))
        def request(prefix, tail, method, body, content_type) -> None:
            path = "/" + "/".join([prefix, *tail]).lstrip("/")
            response = client.request(method, path, content=body,
                                      headers={"Content-Type": content_type})
            assert response.status_code < 500, (method, path, response.text[:300])

        request()
