"""Reply processing over a real IMAP server (Dovecot on loopback): each message once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from imapserver import HOST, PASSWORD, Dovecot
from mailsamples import (
    RECEIVER,
    chinese_unsubscribe,
    dmarc_refusal,
    feedback_reply,
    hard_bounce,
    mailbox_full,
    out_of_office,
    reply,
    sent_digest,
    stop_reply,
)
from sqlmodel import Session
from world import World, make_settings, parse

from digest_mailer import store
from digest_mailer.errors import MailboxError
from digest_mailer.replies import process_mailbox

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


def imap_settings(server: Dovecot, **extra: object) -> dict[str, object]:
    return {"imap_host": HOST, "imap_port": server.port, "imap_security": "none",
            "imap_user": MAILBOX, "imap_password": PASSWORD, "soft_bounce_threshold": 3,
            "imap_authserv_id": RECEIVER, **extra}


def statuses(world: World) -> dict[str, tuple[str, int, str | None]]:
    with Session(world.pipeline.engine) as session:
        return {s.email: (s.status, s.soft_bounces, s.status_reason)
                for s in store.all_subscribers(session)}


def stored(world: World) -> list[tuple[str, str, bool, str]]:
    with Session(world.pipeline.engine) as session:
        return sorted((m.kind, m.from_address, m.subscriber_id is not None, m.body)
                      for m in store.reader_messages(session, limit=1000))


def test_replies_are_sorted_and_acted_on_once(tmp_path: Path, imap_server, feed_server,
                                              smtp_server, database_url, caplog):
    server = imap_server()
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), database_url=database_url,
                        **imap_settings(server))
    world.add_demo_sources()
    for address in READERS:  # each was sent the digest its report or reply names
        reader = world.subscribe(address, ["cs.LG", "cs.CV", "bioinformatics"])
        sent_digest(world.pipeline.engine, reader.id or 0, address)
    settings, engine = world.pipeline.settings, world.pipeline.engine
    server.append(MAILBOX, out_of_office("ada@uni.example.edu"), hard_bounce("gone@example.net"),
                  mailbox_full("full@example.net", n=1), mailbox_full("full@example.net", n=2),
                  dmarc_refusal("dmarc@example.net"), stop_reply("bob@lab.example.net"),
                  chinese_unsubscribe("zhang@example.cn"), feedback_reply("grace@example.net"),
                  reply("stranger@example.com", "stop", n=7))

    with caplog.at_level(logging.ERROR, logger="digest_mailer.replies"):
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
    world.pipeline.refresh_feeds()
    sent = world.pipeline.send_digests()
    assert sent.counts["sent"] == 3, sent
    recipients = sorted(parse(m.content)["To"].addresses[0].addr_spec for m in smtp.messages)
    assert recipients == ["ada@uni.example.edu", "dmarc@example.net", "grace@example.net"]


def test_a_batch_is_bounded_and_an_unreadable_message_is_flagged_once(tmp_path, imap_server):
    server = imap_server()
    settings = make_settings(tmp_path, **imap_settings(server))
    engine = store.make_engine(settings.effective_database_url)
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
        rows = {m.kind: m for m in store.reader_messages(session)}
    assert rows["unreadable"].detail.startswith("IndexError")
    assert rows["feedback"].message_id.startswith("sha256:")
    assert rows["feedback"].body == "No Message-ID here."


def test_tls_modes_and_errors_name_the_setting(tmp_path, imap_server):
    server = imap_server(tls=True)
    server.append(MAILBOX, out_of_office("ada@uni.example.edu"))
    base = imap_settings(server)

    def run(**extra: object):
        settings = make_settings(tmp_path, **{**base, **extra})
        engine = store.make_engine(settings.effective_database_url)
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
        process_mailbox(settings, store.make_engine(settings.effective_database_url),
                        timeout=10)
    with pytest.raises(MailboxError, match="DIGEST_IMAP_HOST: not set"):
        process_mailbox(make_settings(tmp_path), store.make_engine("sqlite://"))


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def test_the_cli_reads_the_mailbox_once(tmp_path, imap_server, monkeypatch, capsys):
    from digest_mailer.cli import main

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
