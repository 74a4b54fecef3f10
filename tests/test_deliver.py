"""Delivery: one contract suite run against both transports, then each transport's own cases.

No mocks: the SMTP transport talks to a real aiosmtpd server on 127.0.0.1 and the outbox
writes real files; both are read back with ``email.policy.default``.
"""

from __future__ import annotations

import email
import email.policy
import re
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from digest_mailer.domain.digest import Links, RenderedDigest
from digest_mailer.errors import DeliveryError
from digest_mailer.mail.message import (
    MAIL_POLICY,
    UTF8_MAIL_POLICY,
    build_message,
    clean_header_value,
    make_message_id,
    message_bytes,
)
from digest_mailer.mail.outbox import OutboxTransport
from digest_mailer.mail.smtp import SmtpTransport
from digest_mailer.mail.transport import Transport, transport_from_settings

if TYPE_CHECKING:  # imported for real by pytest_plugins, so its asserts get rewritten
    from smtpserver import LoopbackSmtp, TlsFiles


TIME_LIMIT = 30  # seconds per test; the client's own socket timeout is far shorter
TIMEOUT = 5.0
DATE = datetime(2025, 3, 14, 6, 30, tzinfo=UTC)
SENDER = "Research Digest <digest@example.org>"
# What a quoted-printable encoder can get wrong: a line past SMTP's 998 octets, trailing
# white space, "=" signs, a lone dot (SMTP's end of data) and tabs.
TRICKY_BODY = ("<p style=\"a:b\">" + "é=x " * 600 + "</p>\n"
               "trailing spaces   \n.\n..dots\n\tTab\there\t\nFrom the start\n")
LIST_ID = "Research Digest <digest.example.org>"
HOSTILE_NAME = "Eve\r\nBcc: attacker@example.com"
# A raw CR/LF, plus an RFC 2047 word that decodes to one: the CVE-2024-6923 vector.
HOSTILE_SUBJECT = ("Digest\r\nBcc: attacker@example.com "
                   "=?utf-8?q?=0D=0ABcc=3A_attacker=40example=2Ecom?=")


@dataclass(frozen=True)
class Spec:
    email: str
    name: str
    subject: str

    @property
    def links(self) -> Links:
        token = "t" * 100  # signed tokens make the URL longer than a header line
        return Links(
            unsubscribe=f"https://digest.example.org/unsubscribe/{self.email}/{token}",
            unsubscribe_mailto=f"mailto:unsubscribe@example.org?subject=unsubscribe%20{token}",
            preferences="https://digest.example.org/preferences",
            view_online="https://digest.example.org/view",
        )

    @property
    def message_id(self) -> str:
        return f"<digest.{self.email.partition('@')[0]}.20250314@example.org>"

    @property
    def rendered(self) -> RenderedDigest:
        return RenderedDigest(
            subject=self.subject,
            preheader="3 new papers",
            html=f"<html><body><p>Hello {self.name}, 你好</p>{TRICKY_BODY}</body></html>\n",
            text=f"Hello {self.name}, 你好\n\n1. A paper\n{TRICKY_BODY}",
        )

    def build(self) -> EmailMessage:
        return build_message(self.rendered, to_email=self.email, to_name=self.name,
                             sender=SENDER, reply_to="help@example.org", list_id=LIST_ID,
                             links=self.links, message_id=self.message_id, date=DATE)


SPECS = (
    Spec("alice@example.org", "Alice Example", "Your research digest — 3 new papers"),
    Spec("zhang.san@example.org", "张三", "今日论文：计算机视觉与机器学习 3 篇新论文"),
    Spec("eve@example.org", HOSTILE_NAME, HOSTILE_SUBJECT),
)


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    """Fail a test that hangs; pytest.fail raises a BaseException no transport swallows."""

    def expired(signum: int, frame: Any) -> None:
        pytest.fail(f"test took longer than {TIME_LIMIT}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TIME_LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def raw_header(raw: bytes, name: str) -> str:
    """A header as written on the wire, unfolded but not decoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.search(rf"^{name}: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head,
                      re.MULTILINE | re.IGNORECASE)
    assert match, f"no {name} header"
    return re.sub(r"\r\n[ \t]", " ", match.group(1))


@dataclass
class Arrival:
    raw: bytes
    envelope_to: list[str] | None  # None: the outbox has no envelope


@dataclass
class Channel:
    transport: Transport
    arrivals: Callable[[], list[Arrival]]


@pytest.fixture(params=["outbox", "smtp"])
def channel(request: pytest.FixtureRequest, tmp_path: Path,
            smtp_server: Callable[..., LoopbackSmtp]) -> Channel:
    if request.param == "outbox":
        outbox = OutboxTransport(tmp_path / "outbox")
        return Channel(outbox, lambda: [Arrival(p.read_bytes(), None) for p in outbox.sent])
    server = smtp_server()
    return Channel(SmtpTransport.from_url(server.url(), timeout=TIMEOUT),
                   lambda: [Arrival(m.content, m.rcpt_tos) for m in server.messages])


class TestTransportContract:
    """What any transport must deliver, read back from where it arrived."""

    @pytest.fixture
    def arrived(self, channel: Channel) -> list[tuple[Spec, Arrival, EmailMessage]]:
        with channel.transport as transport:
            for spec in SPECS:
                transport.send(spec.build())
        arrivals = channel.arrivals()
        assert len(arrivals) == len(SPECS)
        return [(spec, a, parse(a.raw)) for spec, a in zip(SPECS, arrivals, strict=True)]

    def test_headers_present_and_well_formed(self, arrived: list[Any]) -> None:
        for spec, _, msg in arrived:
            assert msg["Date"].datetime == DATE
            assert msg["Message-ID"] == spec.message_id
            assert msg["From"].addresses[0].display_name == "Research Digest"
            assert msg["From"].addresses[0].addr_spec == "digest@example.org"
            assert [a.addr_spec for a in msg["To"].addresses] == [spec.email]
            assert msg["Reply-To"].addresses[0].addr_spec == "help@example.org"
            assert msg["List-Id"] == LIST_ID
            assert msg["List-Unsubscribe"] == (f"<{spec.links.unsubscribe}>, "
                                               f"<{spec.links.unsubscribe_mailto}>")
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert msg["Auto-Submitted"] == "auto-generated"
            assert msg["X-Auto-Response-Suppress"] == "OOF, AutoReply"
            assert msg["MIME-Version"] == "1.0"
            assert not msg.defects

    def test_list_unsubscribe_is_not_encoded_on_the_wire(self, arrived: list[Any]) -> None:
        # Providers read this header raw: an RFC 2047 word here hides the unsubscribe button.
        for spec, arrival, _ in arrived:
            assert re.fullmatch(r"<https://[^<>\s]+>, <mailto:[^<>\s]+>",
                                raw_header(arrival.raw, "List-Unsubscribe"))
            assert spec.links.unsubscribe.encode() in arrival.raw

    def test_wire_bytes_are_the_email_generators(self, arrived: list[Any]) -> None:
        for spec, _, _ in arrived:
            message = spec.build()
            assert message_bytes(message) == message.as_bytes(policy=MAIL_POLICY)

    def test_wire_format(self, arrived: list[Any]) -> None:
        for _, arrival, _ in arrived:
            assert arrival.raw.isascii()  # 7-bit: headers RFC 2047, bodies QP or base64
            assert b"\n" not in arrival.raw.replace(b"\r\n", b"")
            assert max(len(line) for line in arrival.raw.split(b"\r\n")) <= 998

    def test_multipart_alternative_text_then_html(self, arrived: list[Any]) -> None:
        for spec, _, msg in arrived:
            assert msg.get_content_type() == "multipart/alternative"
            parts = list(msg.iter_parts())
            assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
            assert all(p.get_content_charset() == "utf-8" for p in parts)
            assert all("MIME-Version" not in p for p in parts)
            text, html = (p.get_content().replace("\r\n", "\n") for p in parts)
            assert text == spec.rendered.text.replace("\r\n", "\n")
            assert html == spec.rendered.html.replace("\r\n", "\n")

    def test_chinese_name_and_subject_round_trip(self, arrived: list[Any]) -> None:
        spec, arrival, msg = arrived[1]
        assert msg["Subject"] == spec.subject
        assert msg["To"].addresses[0].display_name == "张三"
        assert b"=?utf-8?" in arrival.raw  # encoded, not raw UTF-8

    def test_hostile_name_and_subject_add_no_header_or_recipient(self,
                                                                 arrived: list[Any]) -> None:
        spec, arrival, msg = arrived[2]
        head = arrival.raw.split(b"\r\n\r\n", 1)[0]
        assert b"\r\nBcc:" not in head and "Bcc" not in msg
        assert [k for k in msg if k.lower() in ("cc", "bcc", "to")] == ["To"]
        assert [a.addr_spec for a in msg["To"].addresses] == [spec.email]
        assert msg["To"].addresses[0].display_name == "Eve Bcc: attacker@example.com"
        assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
        if arrival.envelope_to is not None:
            assert arrival.envelope_to == [spec.email]
        for other_spec, other, _ in arrived:
            if other.envelope_to is not None:
                assert other.envelope_to == [other_spec.email]


class TestSmtpTransport:
    def send_all(self, transport: SmtpTransport, specs: tuple[Spec, ...] = SPECS) -> None:
        with transport:
            for spec in specs:
                transport.send(spec.build())

    def test_one_connection_serves_the_whole_batch(self, smtp_server: Any) -> None:
        server = smtp_server()
        transport = SmtpTransport.from_url(server.url(), timeout=TIMEOUT)
        self.send_all(transport)
        assert server.connections == 1
        assert transport.sent == 3
        assert [m.mail_from for m in server.messages] == ["digest@example.org"] * 3

    def test_starttls_and_auth_with_percent_encoded_password(
            self, smtp_server: Any, tls_files: TlsFiles) -> None:
        password = "p@ss:w/rd%20#?"
        server = smtp_server(tls=tls_files, credentials=("digest", password))
        url = server.url(user="digest", password=password)
        assert "%40" in url and "%25" in url
        self.send_all(SmtpTransport.from_url(url, timeout=TIMEOUT,
                                             ssl_context=tls_files.client_context()))
        assert server.logins == [("digest", password)]
        assert len(server.messages) == 3 and all(m.tls for m in server.messages)

    def test_wrong_password_is_permanent(self, smtp_server: Any,
                                         tls_files: TlsFiles) -> None:
        server = smtp_server(tls=tls_files, credentials=("digest", "right"))
        transport = SmtpTransport.from_url(server.url(user="digest", password="wrong"),
                                           timeout=TIMEOUT, ssl_context=tls_files.client_context())
        with pytest.raises(DeliveryError) as info:
            self.send_all(transport)
        assert info.value.permanent

    @pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
    def test_credentials_without_starttls_never_log_in(self, smtp_server: Any) -> None:
        # The server offers AUTH in plain text: the tempting fallback this transport refuses.
        server = smtp_server(credentials=("digest", "secret"), auth_over_plaintext=True)
        transport = SmtpTransport.from_url(server.url(user="digest", password="secret"),
                                           timeout=TIMEOUT)
        with pytest.raises(DeliveryError) as info:
            self.send_all(transport)
        assert info.value.permanent and "STARTTLS" in info.value.reason
        assert server.auth_attempts == [] and server.logins == [] and server.messages == []

    def test_implicit_tls(self, smtp_server: Any, tls_files: TlsFiles) -> None:
        server = smtp_server(tls=tls_files, implicit_tls=True)
        transport = SmtpTransport.from_url(server.url("smtps"), timeout=TIMEOUT,
                                           ssl_context=tls_files.client_context())
        self.send_all(transport)
        assert len(server.messages) == 3 and all(m.tls for m in server.messages)

    def test_untrusted_certificate_is_refused(self, smtp_server: Any,
                                              tls_files: TlsFiles) -> None:
        server = smtp_server(tls=tls_files, implicit_tls=True)
        with pytest.raises(DeliveryError) as info:  # the default context does not trust it
            self.send_all(SmtpTransport.from_url(server.url("smtps"), timeout=TIMEOUT))
        assert info.value.permanent and server.messages == []

    def test_550_is_permanent_and_the_batch_goes_on(self, smtp_server: Any) -> None:
        server = smtp_server(refuse=(SPECS[0].email,))
        transport = SmtpTransport.from_url(server.url(), timeout=TIMEOUT)
        with transport:
            with pytest.raises(DeliveryError) as info:
                transport.send(SPECS[0].build())
            transport.send(SPECS[1].build())
        assert info.value.permanent and info.value.recipient == SPECS[0].email
        assert "550" in info.value.reason
        assert [m.rcpt_tos for m in server.messages] == [[SPECS[1].email]]
        assert server.connections == 1

    def test_451_is_temporary(self, smtp_server: Any) -> None:
        server = smtp_server(defer=(SPECS[0].email,))
        with pytest.raises(DeliveryError) as info:
            self.send_all(SmtpTransport.from_url(server.url(), timeout=TIMEOUT), SPECS[:1])
        assert not info.value.permanent and "451" in info.value.reason

    def test_dropped_connection_reconnects_once(self, smtp_server: Any) -> None:
        server = smtp_server(drop_after=1)
        transport = SmtpTransport.from_url(server.url(), timeout=TIMEOUT)
        self.send_all(transport)
        assert len(server.messages) == 3 and transport.sent == 3
        assert server.connections == 3

    def test_drop_after_the_retry_is_temporary(self, smtp_server: Any) -> None:
        server = smtp_server(hang_up_on_mail=True)
        with pytest.raises(DeliveryError) as info:
            self.send_all(SmtpTransport.from_url(server.url(), timeout=TIMEOUT), SPECS[:1])
        assert not info.value.permanent
        assert server.connections == 2  # the batch's connection and exactly one retry

    def test_closed_port_is_temporary(self) -> None:
        with socket.socket() as bound:  # bound, never listening: connections are refused
            bound.bind(("127.0.0.1", 0))
            port = bound.getsockname()[1]
            with pytest.raises(DeliveryError) as info:
                self.send_all(SmtpTransport.from_url(f"smtp://127.0.0.1:{port}", timeout=TIMEOUT))
        assert not info.value.permanent

    def test_silent_server_times_out_temporarily(self) -> None:
        with socket.socket() as silent:  # accepts by backlog, never greets
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            url = f"smtp://127.0.0.1:{silent.getsockname()[1]}"
            with pytest.raises(DeliveryError) as info:
                self.send_all(SmtpTransport.from_url(url, timeout=0.5))
        assert not info.value.permanent and "timed out" in info.value.reason

    def test_from_url(self) -> None:
        t = SmtpTransport.from_url("smtps://me%40lab:p%3Ass@mail.example.org", timeout=3)
        assert (t.host, t.port, t.implicit_tls, t.username) == ("mail.example.org", 465, True,
                                                                "me@lab")
        assert "p:ss" not in repr(t) and "p:ss" not in t.name
        assert SmtpTransport.from_url("smtp://relay", timeout=3).port == 25
        with pytest.raises(ValueError, match="smtp://") as info:
            SmtpTransport.from_url("http://user:hunter2@host", timeout=3)
        assert "hunter2" not in str(info.value)


class TestOutboxTransport:
    def test_writes_eml_and_html_preview(self, tmp_path: Path) -> None:
        directory = tmp_path / "var" / "outbox"  # created on demand
        with OutboxTransport(directory) as outbox:
            for spec in SPECS:
                outbox.send(spec.build())
        assert len(outbox.sent) == 3
        for spec, path in zip(SPECS, outbox.sent, strict=True):
            assert re.fullmatch(rf"20250314-{re.escape(spec.email)}-[0-9a-f]{{8}}\.eml", path.name)
            preview = path.with_suffix(".html").read_bytes().decode("utf-8")
            assert preview.replace("\r\n", "\n") == spec.rendered.html.replace("\r\n", "\n")
            assert parse(path.read_bytes())["Message-ID"] == spec.message_id
        assert sorted(p.suffix for p in directory.iterdir()) == [".eml"] * 3 + [".html"] * 3

    def test_header_split_by_a_newline_is_never_written(self, tmp_path: Path) -> None:
        # Set directly, bypassing the builder: the policy itself refuses (CVE-2024-6923).
        msg = SPECS[0].build()
        msg.replace_header("Subject", "=?utf-8?q?Hi=0ABcc=3A_attacker=40example=2Ecom?=")
        with OutboxTransport(tmp_path) as outbox, pytest.raises(DeliveryError) as info:
            outbox.send(msg)
        assert info.value.permanent and list(tmp_path.iterdir()) == []

    def test_sending_again_overwrites(self, tmp_path: Path) -> None:
        with OutboxTransport(tmp_path) as outbox:
            outbox.send(SPECS[0].build())
            outbox.send(SPECS[0].build())
        assert len({*outbox.sent}) == 1 and len(list(tmp_path.iterdir())) == 2


class TestBuilder:
    def test_clean_header_value(self) -> None:
        assert clean_header_value(" a\r\n\tb\x00c\u2028 d ") == "a b c d"
        assert clean_header_value("=?utf-8?q?x=0D=0ABcc=3A_a=40e=2Ecom?=") == "x Bcc: a@e.com"
        assert "=?" not in clean_header_value("=?bogus?q?=0A?= and P =? NP ?=")

    def test_encoded_word_in_name_cannot_inject(self) -> None:
        spec = Spec("eve@example.org", "=?utf-8?q?Eve=0D=0ABcc=3A_attacker=40example=2Ecom?=",
                    "=?utf-8?q?Hi=0ABcc=3A_attacker=40example=2Ecom?=")
        msg = parse(spec.build().as_bytes())
        assert "Bcc" not in msg and [a.addr_spec for a in msg["To"].addresses] == [spec.email]

    def test_rejects_unusable_input(self) -> None:
        spec = SPECS[0]
        with pytest.raises(ValueError):
            build_message(spec.rendered, to_email="not an address", to_name="", sender=SENDER,
                          reply_to="", list_id=LIST_ID, links=spec.links,
                          message_id=spec.message_id, date=DATE)
        with pytest.raises(ValueError, match="timezone"):
            build_message(spec.rendered, to_email=spec.email, to_name="", sender=SENDER,
                          reply_to="", list_id=LIST_ID, links=spec.links,
                          message_id=spec.message_id, date=datetime(2025, 1, 1))

    def test_non_ascii_local_part_needs_smtputf8(self) -> None:
        spec = SPECS[0]
        with pytest.raises(ValueError, match="not a usable email address"):
            build_message(spec.rendered, to_email="üser@example.org", to_name="", sender=SENDER,
                          reply_to="", list_id=LIST_ID, links=spec.links,
                          message_id=spec.message_id, date=DATE)

    def test_make_message_id(self) -> None:
        assert re.fullmatch(r"<[^<>@\s]+@example\.org>", make_message_id("example.org"))

    def test_transport_from_settings(self, tmp_path: Path) -> None:
        assert isinstance(transport_from_settings("", tmp_path, 5), OutboxTransport)
        assert isinstance(transport_from_settings("smtp://h:25", tmp_path, 5), SmtpTransport)


UTF8_SPECS = (*(Spec(f"üser{n}@bücher.example", spec.name, spec.subject)
                 for n, spec in enumerate(SPECS)),
              Spec("jürgen@example.org", 'Müller, "Jürgen" <x@example.com>', "Digest"))


def utf8_build(spec: Spec, *, smtputf8: bool = True) -> EmailMessage:
    return build_message(spec.rendered, to_email=spec.email, to_name=spec.name,
                         sender=SENDER, reply_to="help@example.org", list_id=LIST_ID,
                         links=spec.links, message_id="<digest.20250314@example.org>",
                         date=DATE, smtputf8=smtputf8)


def parse_utf8(raw: bytes) -> EmailMessage:
    """RFC 6532: headers are UTF-8 (the bytes parser would read them as ASCII escapes)."""
    message = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


class TestSmtpUtf8:
    """A non-ASCII local part: raw UTF-8 headers (RFC 6532), sent with SMTPUTF8 (RFC 6531)."""

    def test_to_is_raw_utf8_and_reads_back(self) -> None:
        for spec in UTF8_SPECS:
            raw = message_bytes(utf8_build(spec))
            msg = parse_utf8(raw)
            local, _, domain = spec.email.partition("@")
            expected = f"{local}@{domain.encode('idna').decode()}"
            assert [a.addr_spec for a in msg["To"].addresses] == [expected]
            to = raw_header_bytes(raw, b"To")
            assert expected.encode() in to and b"=?" not in to  # raw UTF-8, no encoded word
            assert "Bcc" not in msg
            body = raw.partition(b"\r\n\r\n")[2]
            assert body.isascii()  # the parts stay quoted-printable
            assert b"\n" not in raw.replace(b"\r\n", b"")
            assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        assert parse_utf8(message_bytes(utf8_build(UTF8_SPECS[-1])))["To"].addresses[
            0].display_name == 'Müller, "Jürgen" <x@example.com>'

    def test_wire_bytes_are_the_email_generators(self) -> None:
        for spec in UTF8_SPECS:
            message = utf8_build(spec)
            assert message_bytes(message) == message.as_bytes(policy=UTF8_MAIL_POLICY)

    def test_an_ascii_address_gets_the_same_7bit_message(self) -> None:
        for spec in SPECS:
            plain, asked = utf8_build(spec, smtputf8=False), utf8_build(spec)
            plain.set_boundary("=_same")
            asked.set_boundary("=_same")
            assert message_bytes(asked) == message_bytes(plain)
            assert message_bytes(asked).isascii()

    def test_smtp_sends_with_smtputf8(self, smtp_server: Any) -> None:
        server = smtp_server(smtputf8=True)
        with SmtpTransport.from_url(server.url(), timeout=TIMEOUT) as transport:
            transport.send(utf8_build(UTF8_SPECS[1]))
            transport.send(SPECS[0].build())  # the same connection, 7-bit as ever
        utf8, ascii_mail = server.messages
        assert utf8.rcpt_tos == ["üser1@xn--bcher-kva.example"] and utf8.smtp_utf8
        assert parse_utf8(utf8.content)["To"].addresses[0].display_name == "张三"
        assert ascii_mail.rcpt_tos == [SPECS[0].email] and not ascii_mail.smtp_utf8
        assert ascii_mail.content.isascii()

    def test_server_without_smtputf8_is_permanent(self, smtp_server: Any) -> None:
        server = smtp_server()
        with SmtpTransport.from_url(server.url(), timeout=TIMEOUT) as transport:
            with pytest.raises(DeliveryError, match="SMTPUTF8") as info:
                transport.send(utf8_build(UTF8_SPECS[0]))
            transport.send(SPECS[0].build())
        assert info.value.permanent
        assert [m.rcpt_tos for m in server.messages] == [[SPECS[0].email]]


def raw_header_bytes(raw: bytes, name: bytes) -> bytes:
    """One header's unfolded value, as bytes."""
    head = raw.partition(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(name.lower() + b":"):
            return line.partition(b":")[2].strip()
    raise AssertionError(f"no {name!r} header")
