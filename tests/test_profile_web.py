"""One validator for every way a profile arrives (issue 8): the preferences page on a real
uvicorn server and the CSV importer refuse and accept the same things.
"""

from __future__ import annotations

import re

import httpx
import pytest
import webserver
from sqlmodel import Session
from world import World

from digest_mailer.db.models import Subscriber
from digest_mailer.domain.subscriber import MAX_ITEM_CHARS, MAX_ITEMS
from digest_mailer.faces.web import create_app
from digest_mailer.services.importer import ImportReport, import_csv

live_server = webserver.live_server
pytestmark = pytest.mark.network

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMEOUT = 10.0
GOOD = {"categories": ["cs.CV"], "keywords": "diffusion", "exclusions": "", "send_hour": "6",
        "timezone": "Europe/Berlin", "language": "en", "max_papers": "12"}


@pytest.fixture
def site(tmp_path, feed_server, live_server):
    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url)
    world.add_demo_sources()
    server.start(create_app(world.app))
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client:
        yield world, client


def _save(world: World, client: httpx.Client, reader: Subscriber,
          **fields: object) -> tuple[httpx.Response, Subscriber]:
    path = world.app.signer.links(reader.public_id, "none").preferences
    page = client.get(path)
    match = CSRF.search(page.text)
    assert page.status_code == 200 and match
    response = client.post(path, data={**GOOD, **fields, "csrf": match.group(1)})
    with Session(world.app.engine) as session:
        stored = session.get(Subscriber, reader.id)
        assert stored is not None
        return response, stored


def _import(world: World, text: str) -> ImportReport:
    """The importer as the faces call it: the settings' defaults for empty cells."""
    settings = world.app.settings
    return import_csv(world.app.engine, text, default_timezone=settings.default_timezone,
                      default_send_hour=settings.default_send_hour)


def test_the_page_takes_the_time_zone_spellings_the_importer_takes(site):
    world, client = site
    reader = world.subscribe("r@example.org", ["cs.CV"])
    response, stored = _save(world, client, reader, timezone="asia/shanghai")
    assert response.status_code == 200 and "Saved." in response.text
    assert stored.timezone == "Asia/Shanghai"
    imported = _import(world, "email,categories,timezone\n"
                       "r@example.org,cs.CV,asia/shanghai\n")
    assert imported.rejected == [] and imported.updated == ["r@example.org"]
    assert "timezone" not in imported.changes["r@example.org"]  # the same canonical name


def test_the_page_strips_bidi_and_control_characters_from_keywords(site):
    world, client = site
    reader = world.subscribe("r@example.org", ["cs.CV"])
    response, stored = _save(world, client, reader,
                             keywords="\u202ediffusion\u200b\nflow\x07 matching",
                             exclusions="sur\u2066vey\u2069")
    assert response.status_code == 200
    assert (stored.keywords, stored.excluded_keywords) == (
        ["diffusion", "flow matching"], ["survey"])


TOO_MUCH = [
    ("keywords", "\n".join(f"k{i}" for i in range(MAX_ITEMS + 1)),
     f"at most {MAX_ITEMS} keywords"),
    ("keywords", "q" * (MAX_ITEM_CHARS + 1), f"at most {MAX_ITEM_CHARS} characters"),
    ("exclusions", "\n".join(f"e{i}" for i in range(MAX_ITEMS + 1)),
     f"at most {MAX_ITEMS} exclusions"),
]


def test_the_page_and_the_importer_refuse_the_same_profiles(site):
    world, client = site
    reader = world.subscribe("r@example.org", ["cs.CV"], keywords=["kept"])
    for field, value, reason in TOO_MUCH:
        response, stored = _save(world, client, reader, **{field: value})
        assert response.status_code == 400, field
        error = re.search(rf'id="{field}-error">([^<]*)</p>', response.text)
        assert error and reason in error.group(1).lower(), (field, response.text[-2000:])
        assert stored.keywords == ["kept"] and stored.excluded_keywords == []

        cell = value.replace("\n", "|")
        imported = _import(world, f"email,categories,{field}\n"
                           f"r@example.org,cs.CV,{cell}\n")
        assert [(e.line, e.column) for e in imported.rejected] == [(2, field)]
        assert reason in imported.rejected[0].reason and not imported.written


def test_the_page_and_the_importer_accept_the_caps_themselves(site):
    world, client = site
    reader = world.subscribe("r@example.org", ["cs.CV"])
    words = [f"{i:02d}" + "w" * (MAX_ITEM_CHARS - 2) for i in range(MAX_ITEMS)]
    response, stored = _save(world, client, reader, keywords="\n".join(words))
    assert response.status_code == 200 and stored.keywords == words
    imported = _import(world, "email,categories,keywords\n"
                       "r@example.org,cs.CV," + "|".join(reversed(words)) + "\n")
    assert imported.rejected == [] and imported.updated == ["r@example.org"]
