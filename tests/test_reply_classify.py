"""classify() on raw messages (pure), and apply() on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mailsamples import (
    chinese_unsubscribe,
    crlf,
    dmarc_refusal,
    dsn,
    feedback_reply,
    hard_bounce,
    mailbox_full,
    out_of_office,
    reply,
    sent_digest,
    stop_reply,
)
from sqlmodel import Session
from world import parse

from digest_mailer import store
from digest_mailer.models import Subscriber
from digest_mailer.replies import Verdict, apply, classify

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def verdict(raw: bytes) -> Verdict:
    return classify(parse(raw))


def test_the_samples():
    assert verdict(out_of_office("Ada@Uni.example.edu")).kind == "auto"
    hard = verdict(hard_bounce("Gone@Example.net"))  # addresses are compared lower-case
    assert (hard.kind, hard.address) == ("bounce_hard", "gone@example.net")
    assert hard.detail.startswith("5.1.1 failed: smtp; 550 5.1.1 <Gone@Example.net>")
    assert hard.sender == "mailer-daemon@mail.example.org"
    soft = verdict(mailbox_full("full@example.net"))
    assert (soft.kind, soft.address, soft.detail[:5]) == ("bounce_soft", "full@example.net",
                                                           "4.2.2")
    assert verdict(dmarc_refusal("d@example.net")).kind == "bounce_auth"
    stop = verdict(stop_reply("bob@example.net"))
    assert (stop.kind, stop.address, stop.text) == ("unsubscribe", "bob@example.net", "STOP")
    assert verdict(chinese_unsubscribe("z@example.cn")).kind == "unsubscribe"
    feedback = verdict(feedback_reply("grace@example.net"))
    assert feedback.kind == "feedback" and "wrote" not in feedback.text
    assert feedback.text.endswith("more robotics papers?")


@pytest.mark.parametrize(("status", "action", "diagnostic", "kind"), [
    ("5.2.2", "failed", "552 5.2.2 mailbox over quota", "bounce_soft"),  # full: soft
    ("4.7.0", "delayed", "421 4.7.0 rate limited, unusual rate of mail", "bounce_auth"),
    ("5.0.0", "failed", "550 5.7.1 Message rejected by SPF policy", "bounce_auth"),
    ("5.1.1", "delayed", "550 5.1.1 user unknown", "bounce_soft"),  # still retried
    ("5.4.4", "failed", "Host not found: example.invalid", "bounce_hard"),
    ("", "failed", "550 user unknown", "bounce_hard"),
    ("2.0.0", "delivered", "250 OK", "auto"),
])
def test_delivery_status_codes(status, action, diagnostic, kind):
    raw = dsn("r@example.net", status=status, action=action, diagnostic=diagnostic)
    assert verdict(raw).kind == kind


def message(headers: str, body: str = "Hello, thanks for the digest.") -> bytes:
    return crlf(f"From: Reader <r@example.net>\nTo: replies@example.org\n"
                f"Message-ID: <x@example.net>\n{headers}\n\n{body}\n")


@pytest.mark.parametrize(("headers", "kind"), [
    ("Auto-Submitted: no\nSubject: Re: digest", "feedback"),  # RFC 3834: a person
    ("Auto-Submitted: auto-generated\nSubject: Re: digest", "auto"),
    ("Precedence: list\nSubject: Re: digest", "auto"),
    ("Precedence: bulk\nSubject: Re: digest", "auto"),
    ("X-Autoreply: yes\nSubject: Re: digest", "auto"),
    ("Return-Path: <>\nSubject: Re: digest", "auto"),
    ("Subject: Out of Office: Re: digest", "auto"),
    ("Subject: =?UTF-8?B?6Ieq5Yqo5Zue5aSN77yaZGlnZXN0?=", "auto"),  # 自动回复：digest
    ("Subject: Autosvar: digest", "auto"),
    ("Subject: unsubscribe", "unsubscribe"),  # the List-Unsubscribe mailto
    ("Subject: Unsubscribe ", "unsubscribe"),
    ("Subject: please unsubscribe me from the other list", "feedback"),
])
def test_automatic_and_unsubscribe_headers(headers, kind):
    assert verdict(message(headers)).kind == kind


@pytest.mark.parametrize(("body", "kind"), [
    ("Stop!", "unsubscribe"),
    ("  \n\nunsubscribe.\n\nSent from my phone", "unsubscribe"),
    ("退订。", "unsubscribe"),
    ("stop sending cs.CV papers, keep the rest", "feedback"),
    ("Great digest!\n\n> unsubscribe\n> stop", "feedback"),  # quoted text does not count
])
def test_unsubscribe_is_the_first_line_only(body, kind):
    headers = "Subject: Re: digest\nContent-Type: text/plain; charset=utf-8"
    assert verdict(message(headers, body)).kind == kind


def test_an_empty_return_path_with_a_report_is_still_a_bounce():
    assert verdict(hard_bounce("gone@example.net")).kind == "bounce_hard"  # has Return-Path <>


def test_html_only_feedback_is_safe_text_without_quotes():
    html = ("<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
            "<p>Loved &amp; shared the <b>second</b> paper.</p><p>More please.</p>"
            "<blockquote type=cite>unsubscribe</blockquote>"
            "<div id=divRplyFwdMsg>From: Research Digest</div><div>old digest</div></body></html>")
    raw = message("Subject: Re: digest\nContent-Type: text/html; charset=utf-8", html)
    result = verdict(raw)
    assert result.kind == "feedback"
    assert result.text == "Loved & shared the second paper.\n\nMore please."


def test_non_standard_bounces_are_read_conservatively():
    exim = crlf("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
                "To: digest@example.org\nSubject: Mail delivery failed\n"
                "X-Failed-Recipients: gone@example.net\nMessage-ID: <e@mx>\n\n"
                "This message was created automatically by mail delivery software.\n\n"
                "  gone@example.net\n    host mx.example.net said: 550 5.1.1 No such user\n")
    result = verdict(exim)
    assert (result.kind, result.address) == ("bounce_hard", "gone@example.net")
    vague = crlf("From: postmaster@example.net\nSubject: Undeliverable\nMessage-ID: <v@x>\n\n"
                 "Your message could not be delivered.\n")
    assert verdict(vague).kind == "auto"  # no code, no recipient: store, act on nobody


def test_a_stop_from_a_non_subscriber_changes_nothing(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    with Session(engine) as session:
        session.add(Subscriber(email="reader@example.net", categories=["cs.LG"]))
        left = Subscriber(email="left@example.net", status="unsubscribed")
        session.add(left)
        session.commit()
        assert left.id is not None
        sent_digest(engine, left.id, "left@example.net")  # the late bounce is genuine
        stranger = verdict(reply("someone@example.com", "STOP"))
        assert apply(session, stranger, "<s@x>", NOW, soft_bounce_threshold=1) == "stored"
        assert apply(session, stranger, "<s@x>", NOW, soft_bounce_threshold=1) == "duplicate"
        # A late bounce for someone who left does not overwrite why they left.
        late = verdict(hard_bounce("left@example.net"))
        assert apply(session, late, "<b@x>", NOW, soft_bounce_threshold=1) == "stored"
        statuses = {s.email: (s.status, s.soft_bounces) for s in store.all_subscribers(session)}
        assert statuses == {"reader@example.net": ("active", 0),
                            "left@example.net": ("unsubscribed", 0)}
        rows = store.reader_messages(session)
        assert [(m.kind, m.subscriber_id is None) for m in rows] == [
            ("bounce_hard", False), ("unsubscribe", True)]
