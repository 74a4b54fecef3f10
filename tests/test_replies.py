"""Reply processing over a real IMAP server (Dovecot on loopback): each message once."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from imapserver import HOST, PASSWORD, Dovecot
from mailsamples import (
    RECEIVER,
    chinese_unsubscribe,
    crlf,
    dmarc_refusal,
    feedback_reply,
    forged_mailto_unsubscribe,
    forged_stop,
    hard_bounce,
    mailbox_full,
    mailto_unsubscribe,
    out_of_office,
    reply,
    sent_digest,
    stop_reply,
)
from sqlmodel import Session, delete
from world import World, at, make_settings, parse

from digest_mailer import db
from digest_mailer.app import App
from digest_mailer.db.models import ReaderMessage, Subscriber
from digest_mailer.errors import MailboxError
from digest_mailer.mail.links import LinkSigner
from digest_mailer.services.report import Report

pytestmark = pytest.mark.network  # every IMAP call has a socket timeout

MAILBOX = "replies@example.org"
READERS = {
    "ada@uni.example.edu": "out of office",
    "gone@example.net": "hard bounce",
    "full@example.net": "mailbox full",
    "dmarc@example.net": "DMARC refusal",
    "bob@lab.example.net": "STOP",
    "zhang@example.cn": "退订",
    "grace@example.net": "feedback",
}


def process_mailbox(settings: Any, engine: Any, **options: Any) -> Report:
    """One read of the mailbox by the reply service of an App on this engine."""
    return App(settings, engine=engine).replies.process_mailbox(**options)


def imap_settings(server: Dovecot, **extra: object) -> dict[str, object]:
    return {"imap_host": HOST, "imap_port": server.port, "imap_security": "none",
            "imap_user": MAILBOX, "imap_password": PASSWORD, "soft_bounce_threshold": 3,
            "imap_authserv_id": RECEIVER, **extra}


def statuses(world: World) -> dict[str, tuple[str, int, str | None]]:
    with Session(world.app.engine) as session:
        return {s.email: (s.status, s.soft_bounces, s.status_reason)
                for s in db.subscribers.every(session)}


def stored(world: World) -> list[tuple[str, str, bool, str]]:
    with Session(world.app.engine) as session:
        return sorted((m.kind, m.from_address, m.subscriber_id is not None, m.body)
                      for m in db.messages.recent(session, limit=1000))


def test_replies_are_sorted_and_acted_on_once(tmp_path: Path, imap_server, feed_server,
                                              smtp_server, database_url, caplog):
    server = imap_server()
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url,
                        **imap_settings(server))
    world.add_demo_sources()
    for address in READERS:  # each was sent the digest its report or reply names
        reader = world.subscribe(address, ["cs.LG", "cs.CV", "bioinformatics"])
        sent_digest(world.app.engine, reader.id or 0, address)
    settings, engine = world.app.settings, world.app.engine
    server.append(MAILBOX, out_of_office("ada@uni.example.edu"), hard_bounce("gone@example.net"),
                  mailbox_full("full@example.net", n=1), mailbox_full("full@example.net", n=2),
                  dmarc_refusal("dmarc@example.net"), stop_reply("bob@lab.example.net"),
                  chinese_unsubscribe("zhang@example.cn"), feedback_reply("grace@example.net"),
                  reply("stranger@example.com", "stop", n=7))

    with caplog.at_level(logging.ERROR, logger="digest_mailer.services.replies"):
        report = process_mailbox(settings, engine)
    assert report.errors == []
    assert report.counts == {
        "messages": 9, "auto": 1, "bounce_hard": 1, "bounce_soft": 2, "bounce_auth": 1,
        "unsubscribe": 3, "feedback": 1, "suppressed": 1, "counted": 2, "alerted": 1,
        "unsubscribed": 2}
    assert any("5.7.26" in r.getMessage() and "DMARC" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
    after = statuses(world)
    assert after["ada@uni.example.edu"] == ("active", 0, None)  # out of office: nothing
    assert after["gone@example.net"][0] == "bounced"
    assert (after["gone@example.net"][2] or "").startswith("5.1.1")
    assert after["full@example.net"] == ("active", 2, None)  # below the threshold of 3
    assert after["dmarc@example.net"] == ("active", 0, None)  # our DMARC: suppress nobody
    assert after["bob@lab.example.net"] == ("unsubscribed", 0, "reply: unsubscribe")
    assert after["zhang@example.cn"] == ("unsubscribed", 0, "reply: unsubscribe")
    assert after["grace@example.net"] == ("active", 0, None)
    assert "stranger@example.com" not in after

    messages = stored(world)
    assert len(messages) == 9
    assert ("bounce_auth", "mailer-daemon@mail.example.org", True) in {m[:3] for m in messages}
    feedback = [m for m in messages if m[0] == "feedback"]
    assert feedback == [("feedback", "grace@example.net", True,
                         "Thanks, the diffusion paper was exactly what I needed.\n"
                         "Could you add more robotics papers?")]
    assert ("unsubscribe", "stranger@example.com", False, "stop") in messages
    # Marked on the server: read, and our keyword.
    assert all({"\\Seen", "$DigestProcessed"} <= flags for flags in server.flags(MAILBOX))

    # Running again finds nothing new.
    assert process_mailbox(settings, engine).counts == {}
    # A crash after the database write but before the flags: the flags are gone, and
    # every message is seen again — and recognised, not handled twice.
    server.clear_flags(MAILBOX)
    again = process_mailbox(settings, engine)
    assert again.counts == {"messages": 9, "duplicate": 9}
    assert statuses(world) == after and len(stored(world)) == 9
    assert all({"\\Seen", "$DigestProcessed"} <= flags for flags in server.flags(MAILBOX))

    # The third soft bounce reaches the threshold and suppresses.
    server.append(MAILBOX, mailbox_full("full@example.net", n=3))
    assert process_mailbox(settings, engine).counts["suppressed"] == 1
    assert statuses(world)["full@example.net"] == ("bounced", 3, "soft bounces: 3")

    # The next digest run leaves out the bounced and the unsubscribed.
    world.app.ingest.refresh()
    sent = world.app.send.send()
    assert sent.counts["sent"] == 3, sent
    recipients = sorted(parse(m.content)["To"].addresses[0].addr_spec for m in smtp.messages)
    assert recipients == ["ada@uni.example.edu", "dmarc@example.net", "grace@example.net"]


def test_a_batch_is_bounded_and_an_unreadable_message_is_flagged_once(tmp_path, imap_server):
    server = imap_server()
    settings = make_settings(tmp_path, **imap_settings(server))
    engine = db.engine.make_engine(settings.effective_database_url)
    unreadable = b"From: =?utf-8?q?=ff?= <\r\nSubject: x\r\nMessage-ID: <u@x>\r\n\r\nhi\r\n"
    no_id = b"From: Eve <eve@example.com>\r\nSubject: hello\r\n\r\nNo Message-ID here.\r\n"
    server.append(MAILBOX, unreadable, no_id, out_of_office("ada@uni.example.edu"))

    first = process_mailbox(settings, engine, batch_size=2)
    assert first.counts == {"messages": 2, "unreadable": 1, "feedback": 1,
                            "left_for_next_run": 1}
    assert process_mailbox(settings, engine, batch_size=2).counts == {"messages": 1, "auto": 1}
    server.clear_flags(MAILBOX)
    assert process_mailbox(settings, engine).counts == {"messages": 3, "duplicate": 3}
    with Session(engine) as session:
        rows = {m.kind: m for m in db.messages.recent(session)}
    assert rows["unreadable"].detail.startswith("IndexError")
    assert rows["feedback"].message_id.startswith("sha256:")
    assert rows["feedback"].body == "No Message-ID here."


def test_tls_modes_and_errors_name_the_setting(tmp_path, imap_server):
    server = imap_server(tls=True)
    server.append(MAILBOX, out_of_office("ada@uni.example.edu"))
    base = imap_settings(server)

    def run(**extra: object):
        settings = make_settings(tmp_path, **{**base, **extra})
        engine = db.engine.make_engine(settings.effective_database_url)
        return process_mailbox(settings, engine, ssl_context=server.context, timeout=10)

    assert run(imap_security="starttls").counts == {"messages": 1, "auto": 1}
    server.clear_flags(MAILBOX)
    assert run(imap_security="ssl", imap_port=server.tls_port).counts == {
        "messages": 1, "duplicate": 1}

    cases = {
        "DIGEST_IMAP_USER/DIGEST_IMAP_PASSWORD": {"imap_password": "wrong"},
        "DIGEST_IMAP_FOLDER": {"imap_folder": "No Such Folder"},
        "DIGEST_IMAP_HOST": {"imap_port": _closed_port()},
        "DIGEST_IMAP_SECURITY": {"imap_host": "imap.example.org"},  # clear text off loopback
    }
    for setting, extra in cases.items():
        with pytest.raises(MailboxError) as caught:
            run(**extra)
        assert caught.value.setting == setting, caught.value
    # An untrusted certificate is a TLS error, not a login or connection one.
    settings = make_settings(tmp_path, **{**base, "imap_security": "starttls"})
    with pytest.raises(MailboxError, match="DIGEST_IMAP_SECURITY"):
        process_mailbox(settings, db.engine.make_engine(settings.effective_database_url),
                        timeout=10)
    with pytest.raises(MailboxError, match="DIGEST_IMAP_HOST: not set"):
        process_mailbox(make_settings(tmp_path), db.engine.make_engine("sqlite://"))


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def test_the_cli_reads_the_mailbox_once(tmp_path, imap_server, monkeypatch, capsys):
    from digest_mailer.faces.cli import main

    server = imap_server()
    server.append(MAILBOX, stop_reply("bob@lab.example.net"))
    monkeypatch.chdir(tmp_path)
    for key, value in imap_settings(server).items():
        monkeypatch.setenv(f"DIGEST_{key.upper()}", str(value))
    monkeypatch.setenv("DIGEST_VAR_DIR", str(tmp_path / "var"))
    assert main(["replies"]) == 0
    assert capsys.readouterr().out == "replies: messages 1, unsubscribe 1\n"
    assert main(["replies"]) == 0
    assert capsys.readouterr().out == "replies: nothing to do\n"
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "wrong")
    assert main(["replies"]) == 1
    assert "DIGEST_IMAP_USER/DIGEST_IMAP_PASSWORD: login" in capsys.readouterr().err


# --- acceptance: forged mail changes nobody, genuine mail still does -----------------------

VICTIMS = ("alice@example.net", "carol@example.net", "dave@example.net")
GENUINE = ("gone@example.net", "bob@lab.example.net", "erin@example.net", "zhang@example.cn")
ATTACKER = "mallory@attacker.example"


def sent_digests(world: World, smtp) -> dict[str, tuple[str, str]]:
    """Send today's digests over SMTP: each reader's Message-ID and List-Unsubscribe token,
    as the reader's mailbox received them."""
    world.app.ingest.refresh()
    assert world.app.send.send().counts["sent"] == len(smtp.messages)
    found = {}
    for received in smtp.messages:
        message = parse(received.content)
        mailto = re.search(r"<mailto:[^?>]+\?subject=([^>]+)>", str(message["List-Unsubscribe"]))
        assert mailto, message["List-Unsubscribe"]
        word, _, token = unquote(mailto[1]).partition(" ")
        assert word == "unsubscribe" and token
        found[message["To"].addresses[0].addr_spec] = (str(message["Message-ID"]), token)
    return found


def test_forged_bounces_and_unsubscribes_change_nobody(tmp_path: Path, imap_server, feed_server,
                                                        smtp_server, database_url, caplog):
    server, smtp = imap_server(), smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url,
                        send_empty=True, **imap_settings(server))  # day 2 has no new papers
    world.add_demo_sources()
    for address in (*VICTIMS, *GENUINE, ATTACKER):
        world.subscribe(address, ["cs.LG", "cs.CV", "bioinformatics"])
    digests = sent_digests(world, smtp)
    assert set(digests) == {*VICTIMS, *GENUINE, ATTACKER}
    alice, carol, dave = VICTIMS
    own_id, own_token = digests[ATTACKER]  # what the stranger does know: their own digest
    other = LinkSigner("https://digest.example.org", ["not-our-key"], "")
    made_up = "<20261124070000.deadbeef0000@example.org>"
    exim = crlf(f"From: Mail Delivery System <Mailer-Daemon@mx.attacker.example>\n"
                f"To: replies@example.org\nSubject: Mail delivery failed\n"
                f"X-Failed-Recipients: {alice}\nMessage-ID: <exim.1@mx.attacker.example>\n\n"
                f"  {alice}\n    host mx.example.net said: 550 5.1.1 No such user\n")
    server.append(
        MAILBOX,
        # Delivery reports naming a victim: a made-up Message-ID, the stranger's own
        # digest, soft ones to reach the threshold, and a legacy one quoting nothing.
        hard_bounce(alice, n=1, returned=made_up),
        hard_bounce(alice, n=2, returned=own_id),
        *(mailbox_full(alice, n=n) for n in (3, 4, 5)),  # returns the default sample id
        exim,
        # Unsubscribes with a forged From: answering the stranger's own digest, with a
        # forged Authentication-Results below the receiving server's; the mailto with no
        # token, with the stranger's own token … under the victim's From, and a forged one.
        forged_stop(carol, answers=own_id),
        forged_mailto_unsubscribe(dave),
        forged_mailto_unsubscribe(dave, token=other.token("unsubscribe", "x")),
        forged_mailto_unsubscribe(dave, token=own_token),  # unsubscribes its owner only
        reply(carol, "unsubscribe", n=6, answers=made_up),
        # Genuine ones: a report quoting gone@'s digest, a reply to bob@'s, erin@'s mail
        # client following her List-Unsubscribe mailto, and zhang@'s fresh mail that our
        # receiving server found DMARC-aligned.
        hard_bounce("gone@example.net", n=6, returned=digests["gone@example.net"][0]),
        reply("bob@lab.example.net", "STOP", n=2, answers=digests["bob@lab.example.net"][0]),
        mailto_unsubscribe("erin@example.net", digests["erin@example.net"][1]),
        chinese_unsubscribe("zhang@example.cn"),
    )

    with caplog.at_level(logging.WARNING, logger="digest_mailer.services.replies"):
        report = process_mailbox(world.app.settings, world.app.engine)
    assert report.errors == []
    assert report.counts == {
        "messages": 15, "unverified_bounce": 6, "unverified_unsubscribe": 4, "unverified": 10,
        "bounce_hard": 1, "suppressed": 1, "unsubscribe": 4, "unsubscribed": 4}
    after = statuses(world)
    for victim in VICTIMS:
        assert after[victim] == ("active", 0, None), victim
    assert after[ATTACKER] == ("unsubscribed", 0, "reply: unsubscribe")  # their token
    assert after["gone@example.net"][0] == "bounced"
    for address in ("bob@lab.example.net", "erin@example.net", "zhang@example.cn"):
        assert after[address] == ("unsubscribed", 0, "reply: unsubscribe"), address
    # Kept for the admin, linked to the subscriber they name, saying why nothing was done.
    with Session(world.app.engine) as session:
        unverified = [m for m in db.messages.recent(session)
                      if m.kind.startswith("unverified_")]
        names = {s.id: s.email for s in db.subscribers.every(session)}
    assert sorted({names[m.subscriber_id] for m in unverified if m.subscriber_id}) == [
        alice, carol, dave]
    assert all("unverified:" in m.detail for m in unverified)
    assert sum("changed nobody" in r.getMessage() for r in caplog.records) == 10

    # A victim's own later unsubscribe still works, and the next digests leave out only
    # those who really left or bounced.
    server.append(MAILBOX, mailto_unsubscribe(dave, digests[dave][1]))
    assert process_mailbox(world.app.settings, world.app.engine).counts[
        "unsubscribed"] == 1
    smtp.messages.clear()
    world.now = at(2)
    recipients = set(sent_digests(world, smtp))
    assert recipients == {alice, carol}


def test_authentication_results_are_believed_only_from_a_trusted_server(
        tmp_path: Path, imap_server, database_url):
    """zhang@'s DMARC-aligned mail unsubscribes only when its receiving server is trusted."""
    server = imap_server()
    server.append(MAILBOX, chinese_unsubscribe("zhang@example.cn"))
    for trusted, expected in (("", "unverified_unsubscribe"), ("mx.other.example", None),
                              (f"mx.other.example, {RECEIVER.upper()}", "unsubscribe")):
        settings = make_settings(tmp_path, database_url=database_url,
                                 **imap_settings(server, imap_authserv_id=trusted))
        engine = db.engine.make_engine(settings.effective_database_url, auto_migrate=True)
        with Session(engine) as session:
            session.exec(delete(ReaderMessage))  # type: ignore[call-overload]
            session.exec(delete(Subscriber))  # type: ignore[call-overload]
            session.add(Subscriber(email="zhang@example.cn", categories=["cs.LG"]))
            session.commit()
        server.clear_flags(MAILBOX)
        counts = process_mailbox(settings, engine).counts
        assert counts[expected or "unverified_unsubscribe"] == 1, (trusted, counts)
        with Session(engine) as session:
            status = db.subscribers.by_email(session, "zhang@example.cn").status
        assert status == ("unsubscribed" if expected == "unsubscribe" else "active")
