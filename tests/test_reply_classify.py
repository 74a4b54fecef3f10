"""classify() on raw messages (pure), and apply() on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from mailsamples import (
    chinese_unsubscribe,
    crlf,
    digest_id,
    dmarc_refusal,
    dsn,
    feedback_reply,
    forged_mailto_unsubscribe,
    hard_bounce,
    mailbox_full,
    mailto_unsubscribe,
    out_of_office,
    reply,
    sent_digest,
    stop_reply,
)
from sqlmodel import Session
from world import parse

from digest_mailer import db
from digest_mailer.db.models import Subscriber
from digest_mailer.mail.links import LinkSigner
from digest_mailer.replies.evidence import (
    authenticated_from,
    referenced_message_ids,
    returned_message_ids,
)
from digest_mailer.services.replies import Verdict, apply, classify

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
    engine = db.engine.make_engine(f"sqlite:///{tmp_path / 'd.db'}")
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
        statuses = {s.email: (s.status, s.soft_bounces) for s in db.subscribers.every(session)}
        assert statuses == {"reader@example.net": ("active", 0),
                            "left@example.net": ("unsubscribed", 0)}
        rows = db.messages.recent(session)
        assert [(m.kind, m.subscriber_id is None) for m in rows] == [
            ("bounce_hard", False), ("unsubscribe", True)]


# --- the evidence a bounce or an unsubscribe must bring ---------------------------------

OURS = "<20261124070000.abc123@example.org>"


def test_returned_message_ids_from_each_kind_of_report():
    assert returned_message_ids(parse(hard_bounce("r@example.net", returned=OURS))) == (OURS,)
    # A report returning the whole message (message/rfc822), as Exchange and Gmail do.
    whole = crlf(f"""\
From: postmaster@mx.example.net
To: digest@example.org
Subject: Undeliverable: Your research digest
Message-ID: <ndr.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Delivery has failed to these recipients: r@example.net
Message-ID: <not-this-one@example.net>

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; r@example.net
Action: failed
Status: 5.1.1

--b
Content-Type: message/rfc822

From: Research Digest <digest@example.org>
To: r@example.net
Subject: Your research digest
Message-ID: {OURS}

Body quoting Message-ID: <inside-the-body@example.org>
--b--
""")
    assert returned_message_ids(parse(whole)) == ("<not-this-one@example.net>", OURS)
    # Exim's legacy bounce quotes the headers in its text, indented.
    exim = crlf(f"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
                f"Subject: Mail delivery failed\nX-Failed-Recipients: r@example.net\n"
                f"Message-ID: <e@mx>\n\n"
                f"  r@example.net\n    host mx said: 550 5.1.1 No such user\n\n"
                f"------ This is a copy of the message's headers. ------\n\n"
                f"From: Research Digest <digest@example.org>\n   Message-Id: {OURS}\n")
    assert returned_message_ids(parse(exim)) == (OURS,)
    assert verdict(exim).refers_to == (OURS,)
    # A report's own Message-ID proves nothing.
    own = crlf(f"From: MAILER-DAEMON@x.example\nMessage-ID: {OURS}\n\n"
               f"550 5.1.1 r@example.net\nMessage-ID: {OURS}\n")
    assert returned_message_ids(parse(own)) == ()


def test_a_reply_refers_to_what_it_answers():
    raw = reply("r@example.net", "STOP", answers=OURS)
    assert referenced_message_ids(parse(raw)) == (OURS,)
    assert verdict(raw).refers_to == (OURS,)
    assert referenced_message_ids(parse(message("Subject: unsubscribe"))) == ()


def results(*headers: str, sender: str = "r@example.net") -> EmailMessage:
    lines = "".join(f"Authentication-Results: {h}\n" for h in headers)
    return parse(crlf(f"{lines}From: <{sender}>\nSubject: unsubscribe\nMessage-ID: <a@b>\n\nx\n"))


@pytest.mark.parametrize(("headers", "proof"), [
    (["mx.example.org; dmarc=pass (p=reject) header.from=example.net"],
     "dmarc=pass header.from=example.net (mx.example.org)"),
    (["MX.Example.org 1; dkim=pass (2048-bit key) header.d=Example.NET header.s=s1"],
     "dkim=pass header.d=example.net (mx.example.org)"),
    (['mx.example.org; dkim=pass header.i="@example.net"'],
     "dkim=pass header.d=example.net (mx.example.org)"),
    (["mx.example.org; spf=pass smtp.mailfrom=example.net"], ""),  # envelope, not From
    (["mx.example.org; dkim=pass header.d=attacker.example; dmarc=fail header.from=example.net"],
     ""),  # signed, but by someone else
    (["mx.example.org; dkim=pass header.d=sub.example.net"], ""),  # not the From domain
    (["mx.example.org; dmarc=pass header.from=attacker.example"], ""),
    (["mx.example.org; none"], ""),
    (["mx.example.org; dmarc=fail header.from=example.net",  # the server's, on top …
      "mx.example.org; dmarc=pass header.from=example.net"], ""),  # … the sender's below
    (["mx.other.example; dmarc=pass header.from=example.net"], ""),  # not trusted
    (["mx.other.example; dmarc=pass header.from=example.net",  # an untrusted hop on top
      "mx.example.org; dkim=pass header.d=example.net"],
     "dkim=pass header.d=example.net (mx.example.org)"),
    (["(mx.example.org) mx.other.example; dmarc=pass header.from=example.net"], ""),
    (["mx.example.org; dkim=pass (header.d=attacker.example) header.d=example.net"],
     "dkim=pass header.d=example.net (mx.example.org)"),  # comments are not values
])
def test_authentication_results(headers: list[str], proof: str):
    assert authenticated_from(results(*headers), ["mx.example.org"]) == proof
    assert authenticated_from(results(*headers), []) == ""  # trust none by default


def test_authentication_results_need_one_from():
    header = "mx.example.org; dmarc=pass header.from=example.net"
    two = crlf(f"Authentication-Results: {header}\nFrom: <r@example.net>, <x@attacker.example>\n"
               f"Subject: unsubscribe\nMessage-ID: <a@b>\n\nx\n")
    assert authenticated_from(parse(two), ["mx.example.org"]) == ""
    raw = chinese_unsubscribe("z@example.cn")
    assert verdict(raw).authenticated == ""  # classify believes no server unless told
    assert classify(parse(raw), trusted_authserv_ids=["mx.example.org"]).authenticated == (
        "dkim=pass header.d=example.cn (mx.example.org)")  # its first proof


def test_forged_mail_changes_nobody_and_genuine_mail_does(tmp_path):
    engine = db.engine.make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    signer = LinkSigner("https://digest.example.org", ["k"], "")
    with Session(engine) as session:
        victim = Subscriber(email="victim@example.net", categories=["cs.LG"])
        other = Subscriber(email="other@example.net", categories=["cs.LG"])
        session.add_all([victim, other])
        session.commit()
        assert victim.id is not None and other.id is not None
        sent_digest(engine, victim.id, victim.email)
        sent_digest(engine, other.id, other.email)

        def act(raw: bytes, message_id: str) -> str:
            return apply(session, verdict(raw), message_id, NOW, soft_bounce_threshold=1,
                         signer=signer)

        # The other reader's digest, quoted in a report naming the victim: not theirs.
        assert act(hard_bounce(victim.email, returned=digest_id(other.email)), "<1@x>") == (
            "unverified")
        assert act(mailbox_full(victim.email).replace(
            digest_id(victim.email).encode(), OURS.encode()), "<2@x>") == "unverified"
        assert act(reply(victim.email, "STOP", answers=digest_id(other.email)), "<3@x>") == (
            "unverified")
        forged = LinkSigner("https://digest.example.org", ["forged"], "")
        assert act(forged_mailto_unsubscribe(
            victim.email, token=forged.token("unsubscribe", victim.public_id)), "<4@x>") == (
            "unverified")
        session.refresh(victim)
        assert (victim.status, victim.soft_bounces) == ("active", 0)
        kinds = [m.kind for m in db.messages.recent(session)]
        assert kinds == ["unverified_unsubscribe"] * 2 + ["unverified_bounce"] * 2

        # Genuine: the token of the victim's own mailto unsubscribes them …
        token = signer.token("unsubscribe", victim.public_id)
        assert act(mailto_unsubscribe(victim.email, token), "<5@x>") == "unsubscribed"
        session.refresh(victim)
        assert victim.status == "unsubscribed"
        # … and a report quoting the other reader's own digest suppresses them.
        assert act(hard_bounce(other.email), "<6@x>") == "suppressed"
        session.refresh(other)
        assert other.status == "bounced"


def test_the_admin_overview_flags_unverified_messages():
    from digest_mailer.db.models import ReaderMessage
    from digest_mailer.faces.web.pages import Pages
    from digest_mailer.settings import _bundled

    forged = ReaderMessage(message_id="<1@x>", kind="unverified_unsubscribe",
                           from_address="victim@example.net", subject="unsubscribe",
                           body="unsubscribe", processed_at=NOW,
                           detail="unverified: answers no digest sent to this address")
    genuine = ReaderMessage(message_id="<2@x>", kind="feedback", from_address="r@example.net",
                            body="Thanks!", processed_at=NOW)
    pages = Pages(_bundled("templates") / "web")

    def overview(messages: list[ReaderMessage]) -> str:
        return pages.env.get_template("admin/overview.html").render(
            sources=[], runs=[], messages=messages, active=1, everyone=1, csrf="t",
            charts=[])

    html = overview([forged, genuine])
    assert 'id="unverified">1 bounce or unsubscribe message could not be traced' in html
    assert html.count("nobody changed") == 1
    assert "unverified: answers no digest sent to this address" in html
    assert 'id="unverified"' not in overview([genuine])


def test_the_trusted_servers_setting_is_checked_at_start(tmp_path):
    from digest_mailer.errors import SettingsError
    from digest_mailer.settings import load_settings

    settings = load_settings(env_file=None, var_dir=tmp_path,
                             imap_authserv_id=" mx.example.org, MX2.example.org ,")
    assert settings.trusted_authserv_ids == ("mx.example.org", "mx2.example.org")
    assert load_settings(env_file=None, var_dir=tmp_path).trusted_authserv_ids == ()
    with pytest.raises(SettingsError, match="DIGEST_IMAP_AUTHSERV_ID"):
        load_settings(env_file=None, var_dir=tmp_path, imap_authserv_id="mx.example.org; x")
