"""Issue 8: the arXiv categories that stored papers carry are subscribable, free tags are not.

Through the installed command (``feeds add`` / ``feeds fetch`` / ``subscribers import``, as
subprocesses against a loopback feed server) and through the preferences page on a real
uvicorn server.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import webserver
from feedserver import FeedServer
from sqlmodel import Session
from test_cli import clean_env, cli
from world import World

from digest_mailer.db.models import Subscriber
from digest_mailer.faces.web import create_app

pytestmark = pytest.mark.network
live_server = webserver.live_server

FEEDS = Path(__file__).parent / "feeds"
COMBINED = FEEDS / "arxiv_rss_hep-ph+hep-ex_affiliations_tex.xml"  # hep-ph, hep-ex, math-ph
JOURNAL = FEEDS / "journal_rss_msc_categories.xml"  # tags "53D10, 53D15", "hep-ex", "57K33"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def test_import_accepts_arxiv_categories_of_fetched_papers(tmp_path: Path,
                                                           feed_server: FeedServer) -> None:
    env = clean_env(DIGEST_VAR_DIR=str(tmp_path / "var"))
    cli(tmp_path, "feeds", "add", feed_server.add_file("/rss/hep-ph+hep-ex", COMBINED),
        "--label", "arXiv (hep-ph)", "--category", "hep-ph", env=env)
    cli(tmp_path, "feeds", "add", feed_server.add_file("/jsg.xml", JOURNAL),
        "--label", "Journal (symplectic)", "--category", "symplectic", env=env)
    people = tmp_path / "people.csv"
    people.write_text("email,name,categories,timezone,send_hour,language\n"
                      "ex@example.org,Ex,hep-ex|math-ph,UTC,7,en\n", encoding="utf-8")

    # Before any paper is stored, only the sources' own categories are known.
    early = cli(tmp_path, "subscribers", "import", str(people), "--dry-run", env=env, expect=1)
    assert "unknown category 'hep-ex'" in early.stdout, early.stdout

    fetched = cli(tmp_path, "feeds", "fetch", env=env)
    assert "Traceback" not in fetched.stderr
    done = cli(tmp_path, "subscribers", "import", str(people), env=env)
    assert done.stdout.splitlines()[0].startswith("imported: 1 added"), done.stdout

    # A journal's MSC codes (and the "hep-ex" tag it carries) make no category.
    msc = tmp_path / "msc.csv"
    msc.write_text("email,name,categories,timezone,send_hour,language\n"
                   "msc@example.org,M,53D10,UTC,7,en\n"
                   "tag@example.org,T,57K33,UTC,7,en\n", encoding="utf-8")
    refused = cli(tmp_path, "subscribers", "import", str(msc), env=env, expect=1)
    assert "unknown category '53D10'" in refused.stdout
    assert "unknown category '57K33'" in refused.stdout


def test_preferences_page_offers_and_saves_an_arxiv_category(tmp_path: Path,
                                                             feed_server: FeedServer,
                                                             live_server) -> None:
    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url)
    feed_server.add_file("/rss/hep-ph+hep-ex", COMBINED)
    world.add_source("/rss/hep-ph+hep-ex", "arXiv (hep-ph)", "hep-ph")
    feed_server.add_file("/jsg.xml", JOURNAL)
    world.add_source("/jsg.xml", "Journal (symplectic)", "symplectic")
    world.app.ingest.refresh()
    reader = world.subscribe("r@example.org", ["hep-ph"])
    server.start(create_app(world.app))

    url = world.app.signer.links(reader.public_id, "none").preferences
    assert url.startswith(server.base_url)
    with httpx.Client(timeout=10, trust_env=False) as client:
        page = client.get(url)
        assert page.status_code == 200
        offered = re.findall(r'name="categories" value="([^"]+)"', page.text)
        assert offered == ["hep-ph", "symplectic", "hep-ex", "math-ph"]
        match = CSRF.search(page.text)
        assert match, page.text
        saved = client.post(url, data={
            "categories": ["hep-ex"], "keywords": "", "exclusions": "", "send_hour": "7",
            "timezone": "UTC", "language": "en", "max_papers": "20", "csrf": match.group(1)})
        assert saved.status_code in (200, 303), saved.text
        forged = client.post(url, data={
            "categories": ["53D10"], "keywords": "", "exclusions": "", "send_hour": "7",
            "timezone": "UTC", "language": "en", "max_papers": "20", "csrf": match.group(1)})
        assert forged.status_code == 400 and "Unknown category" in forged.text
    with Session(world.app.engine) as session:
        row = session.get(Subscriber, reader.id)
        assert row is not None and row.categories == ["hep-ex"]
