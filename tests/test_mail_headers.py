"""What a hostile name, feed or setting can do to the headers of a sent digest (issue 8).

Real processes: the CLI as a subprocess for the settings, the pipeline sending through a
loopback aiosmtpd server for names and subjects, each message read back as it arrived.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Callable
from email.header import decode_header, make_header
from itertools import takewhile
from pathlib import Path

import pytest
from feedserver import FeedServer
from smtpserver import LoopbackSmtp
from test_cli import clean_env, cli
from world import World, parse, parts

pytestmark = pytest.mark.network
# Bidi overrides and isolates, zero-width characters, C0 and C1 controls.
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff"
                       "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@pytest.mark.parametrize(("variable", "value"), [
    ("DIGEST_MAIL_FROM", "Research Digest <digest@example.org>\r\nBcc: all@victim.example"),
    ("DIGEST_MAIL_FROM", "digest@example.org\nReply-To: thief@evil.example"),
    ("DIGEST_MAIL_FROM", "Research Digest \u202e <digest@example.org>"),
    ("DIGEST_REPLY_TO", "replies@example.org\r\nBcc: all@victim.example"),
    ("DIGEST_LIST_ID", "Research Digest <digest.example.org>\nX-Spam: no"),
    ("DIGEST_USER_AGENT", "digest-mailer/0.1\r\nX-Injected: 1"),
    ("DIGEST_BASE_URL", "https://digest.example.org/\r\nX-Injected: 1"),
])
def test_a_header_setting_with_a_line_break_stops_the_start(tmp_path: Path, variable: str,
                                                            value: str) -> None:
    done = cli(tmp_path, "runs", env=clean_env(**{variable: value}), expect=2)
    assert f"{variable}:" in done.stderr and "control character" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("variable", "value", "wanted"), [
    ("DIGEST_MAIL_FROM", "Research Digest", "not an address"),
    ("DIGEST_REPLY_TO", "replies at example.org", "not an address"),
    ("DIGEST_LIST_ID", "Research Digest <digest>", "dotted id"),
])
def test_an_unusable_sender_is_refused_at_start_not_at_the_first_send(
        tmp_path: Path, variable: str, value: str, wanted: str) -> None:
    done = cli(tmp_path, "runs", env=clean_env(**{variable: value}), expect=2)
    assert f"{variable}:" in done.stderr and wanted in done.stderr, done.stderr


def _header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def _digest_for(name: str, tmp_path: Path, feed_server: FeedServer, smtp: LoopbackSmtp,
                demo_feeds: Path) -> bytes:
    """The one digest a cs.CV reader called ``name`` gets, as it reached the SMTP server."""
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url())
    feed_server.add_file("/cv.xml", demo_feeds / "arxiv_cs.CV.xml")
    world.add_source("/cv.xml", "arXiv (cs.CV)", "cs.CV")
    # Stored as is: rows written before the input caps, or by any other door.
    world.subscribe("ada@example.org", ["cs.CV"], name=name)
    world.app.ingest.refresh()
    assert world.app.send.send().counts["sent"] == 1
    (received,) = smtp.messages
    return received.content


def test_a_5000_character_name_is_cut_before_the_to_line_is_folded(
        tmp_path: Path, feed_server: FeedServer,
        smtp_server: Callable[..., LoopbackSmtp], demo_feeds: Path) -> None:
    raw = _digest_for("Ada Lovelace " + "Augusta " * 625, tmp_path, feed_server,
                      smtp_server(), demo_feeds)
    lines = _header_lines(raw)
    assert max(len(line) for line in lines) <= 998  # RFC 5322's hard limit
    to_at = next(i for i, line in enumerate(lines) if line.startswith(b"To:"))
    to_lines = [lines[to_at], *takewhile(lambda ln: ln[:1] in (b" ", b"\t"), lines[to_at + 1:])]
    # Folded (a URL list aside, every header is), and short: the name was cut first.
    assert all(len(line) <= 78 for line in to_lines) and len(b"".join(to_lines)) < 400
    message = parse(raw)
    shown = message["To"].addresses[0].display_name
    assert shown.startswith("Ada Lovelace Augusta") and shown.endswith("…")
    assert len(shown) <= 64  # deliver.DISPLAY_NAME_CHARS
    text, html = parts(message)
    assert "Prepared for Ada Lovelace Augusta" in text
    assert "Augusta " * 20 not in text and "Augusta " * 20 not in html


def test_bidi_and_zero_width_characters_in_a_name_reach_no_header_and_no_page(
        tmp_path: Path, feed_server: FeedServer,
        smtp_server: Callable[..., LoopbackSmtp], demo_feeds: Path) -> None:
    # "Ada Lovelace" that a mail client would show reversed or with hidden joins.
    raw = _digest_for("\u202eAda\u2066 Love\u200blace\u2069\u2067", tmp_path, feed_server,
                      smtp_server(), demo_feeds)
    message = parse(raw)
    assert message["To"].addresses[0].display_name == "Ada Lovelace"
    for header, value in message.items():
        decoded = str(make_header(decode_header(str(value))))
        assert not INVISIBLE.search(decoded), (header, decoded[:80])
    text, html = parts(message)
    assert "Prepared for Ada Lovelace" in text and "Ada Lovelace" in html
    assert not INVISIBLE.search(text) and not INVISIBLE.search(html)


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Journal of Diffusion</title><link>https://j.example.org/</link>
<description>x</description>
<item><title>Score-based diffusion for weather nowcasting</title>
<link>https://j.example.org/a/1</link><guid>https://j.example.org/a/1</guid>
<category>URGENT: your account is suspended, verify at evil.example/login</category>
<description>We apply diffusion models to radar nowcasting and beat optical flow.</description>
<pubDate>Sun, 01 Nov 2026 06:00:00 GMT</pubDate></item>
</channel></rss>
"""


def test_a_feeds_category_text_never_reaches_the_subject(
        tmp_path: Path, feed_server: FeedServer,
        smtp_server: Callable[..., LoopbackSmtp]) -> None:
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url())
    feed_server.add_bytes("/j.xml", RSS.encode())
    world.add_source("/j.xml", "Journal of Diffusion", "journal")
    # A keyword reader: the paper is not in their category, their keyword brings it in.
    world.subscribe("kw@example.org", ["cs.CV"], keywords=["diffusion"])
    world.app.ingest.refresh()
    assert world.app.send.send().counts["sent"] == 1

    (received,) = smtp.messages
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    subject = str(message["Subject"])
    assert "URGENT" not in subject and "evil" not in subject and "verify" not in subject
    assert subject == "Research digest, 1 Nov 2026: 1 new paper in journal", subject
