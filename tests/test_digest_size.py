"""The HTML part stays under Gmail's clip (~102 KB) whatever is stored (issue 8).

Past the clip Gmail hides the rest of the message, the unsubscribe footer included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from markupsafe import escape
from smtpserver import LoopbackSmtp
from sqlmodel import Session
from test_render import TEMPLATES, make_digest
from world import World, parse, parts

from digest_mailer import db
from digest_mailer.db.models import Entry
from digest_mailer.mail.render import DigestRenderer

LIMIT = 100_000  # bytes: the bound, under Gmail's ~102 KB


@pytest.fixture(scope="module")
def renderer() -> DigestRenderer:
    return DigestRenderer(TEMPLATES)


@pytest.mark.parametrize("n", [40, 60, 100, 200, 1000])
def test_realistic_digests_of_any_size_fit_with_the_footer(renderer: DigestRenderer,
                                                           n: int) -> None:
    digest = make_digest(n)
    rendered = renderer.render(digest)
    size = len(rendered.html.encode("utf-8"))
    print(f"\n{n} papers: {size} bytes of HTML")
    assert size < LIMIT
    for url in (digest.links.unsubscribe, digest.links.preferences, digest.links.view_online):
        assert str(escape(url)) in rendered.html and url in rendered.text
    if n <= 100:  # the web form's largest digest: every paper shown, abstracts shortened
        for paper in digest.papers:
            assert str(escape(paper.title)) in rendered.html
        assert "did not fit" not in rendered.html
    else:
        assert "more papers did not fit in this email" in rendered.html


def test_digest_of_hostile_stored_rows_fits_under_the_clip(
        tmp_path: Path, feed_server: FeedServer,
        smtp_server: Callable[..., LoopbackSmtp]) -> None:
    """Rows stored before the ingest caps, a reader with a 5,000-character name and 20
    keywords, the largest digest the settings allow: sent through a real SMTP server."""
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), max_papers=200,
                        max_per_category=200, briefing_max_chars=20_000)
    feed_server.add_bytes("/j.xml", b"<rss version='2.0'><channel><title>J</title>"
                                    b"</channel></rss>")
    world.add_source("/j.xml", "Journal (cs.CV)", "cs.CV")
    with Session(world.app.engine) as session:
        (source,) = db.sources.every(session)
        assert source.id is not None
        for i in range(250):
            session.add(Entry(
                key=f"huge-{i}", source_id=source.id,
                # 100,000 characters; the rest 5,000 (the extractive briefer is slow on more)
                title=f"Paper {i} " + "diffusion " * (10_000 if i < 20 else 500),
                abstract="Long abstract sentence about diffusion models. " * 200,  # 9,600
                authors=[f"Author {j} " + "von " * 500 for j in range(300)],
                link="https://journal.example.org/" + "a" * 10_000,
                categories=["cs.CV", "Category " * 600],
                first_seen=world.now - timedelta(hours=1)))
        session.commit()
    world.subscribe("big@example.org", ["cs.CV"], name="Reader " * 700,
                    keywords=[f"keyword{k} " + "x" * 90 for k in range(20)])

    assert world.app.send.send().counts["sent"] == 1
    (received,) = smtp.messages
    message = parse(received.content)
    text, html = parts(message)
    size = len(html.encode("utf-8"))
    print(f"\nlargest digest (200 hostile papers): {size} bytes of HTML, "
          f"{len(received.content)} bytes of message")
    assert size < LIMIT
    unsubscribe = str(message["List-Unsubscribe"]).split(">")[0].lstrip("<")
    assert str(escape(unsubscribe)) in html and unsubscribe in text
    assert "Manage preferences" in html and "View in browser" in html
    assert "Paper 0 diffusion" in html  # papers are shown, cut
