"""Raw messages as they arrive in a digest's Reply-To mailbox (RFC 5322, CRLF line ends).

Modelled on what Outlook/Exchange, Postfix and Gmail send: an out-of-office, delivery
status notifications (RFC 3464) for a dead mailbox, a full one and a DMARC refusal, and
readers' replies with the digest quoted below. Each digest has its own Message-ID
(:func:`digest_id`), as ours do: a genuine report or reply names the one sent to that
reader, and a test proves it by writing that Delivery row (:func:`sent_digest`).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer.db.models import Delivery, DeliveryStatus

RECEIVER = "mx.example.org"  # the authserv-id of our mailbox's receiving server


def digest_id(address: str) -> str:
    """The Message-ID of the digest sent to ``address`` on 24 November."""
    tag = hashlib.sha256(address.lower().encode()).hexdigest()[:12]
    return f"<20261124070000.{tag}@example.org>"


def sent_digest(engine: Engine, subscriber_id: int, address: str) -> None:
    """The ledger row of that digest: what makes a report or reply about it verifiable."""
    with Session(engine) as session:
        session.add(Delivery(subscriber_id=subscriber_id, digest_date=date(2026, 11, 24),
                             status=DeliveryStatus.SENT, message_id=digest_id(address),
                             cutoff=datetime(2026, 11, 24, 7, tzinfo=UTC)))
        session.commit()


def digest_headers(address: str, message_id: str | None = None) -> str:
    return f"""\
Return-Path: <digest@example.org>
From: Research Digest <digest@example.org>
Subject: Your research digest: 12 new papers
Message-ID: {message_id or digest_id(address)}
Auto-Submitted: auto-generated
List-Id: Research Digest <digest.example.org>
To: Reader <{address}>"""


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def out_of_office(address: str, n: int = 1) -> bytes:
    return crlf(f"""\
Received: from EXCH01.uni.example.edu (192.0.2.20) by mx.example.org;
 Tue, 24 Nov 2026 07:00:31 +0000
From: Ada Lovelace <{address}>
To: Research Digest <replies@example.org>
Subject: Automatic reply: Your research digest: 12 new papers
Thread-Topic: Your research digest: 12 new papers
Date: Tue, 24 Nov 2026 07:00:30 +0000
Message-ID: <ooo{n}.6f1c@EXCH01.uni.example.edu>
In-Reply-To: {digest_id(address)}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {address}
Content-Language: en-GB
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="_000_ooo_"

--_000_ooo_
Content-Type: text/plain; charset="us-ascii"

I am out of the office until 1 December with limited access to email.
For urgent matters please contact the lab office.

--_000_ooo_
Content-Type: text/html; charset="us-ascii"

<html><body><p>I am out of the office until 1 December with limited access to email.</p>
<p>For urgent matters please contact the lab office.</p></body></html>

--_000_ooo_--
""")


def dsn(address: str, *, status: str, action: str, diagnostic: str, n: int = 1,
        subject: str = "Undelivered Mail Returned to Sender",
        returned: str | None = None) -> bytes:
    """A Postfix delivery status notification about one digest (``returned``: the
    Message-ID its returned headers carry; default the one sent to ``address``)."""
    boundary = f"3F2A81C0A{n}.1795590012/mail.example.org"
    return crlf(f"""\
Return-Path: <>
Received: by mail.example.org (Postfix) id 3F2A81C0A{n}; Tue, 24 Nov 2026 07:00:12 +0000 (UTC)
Date: Tue, 24 Nov 2026 07:00:12 +0000 (UTC)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: {subject}
To: digest@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261124070012.3F2A81C0A{n}.{status}@mail.example.org>

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

                   The mail system

<{address}>: host mx.example.net[192.0.2.10] said: {diagnostic}
    (in reply to RCPT TO command)

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 3F2A81C0A{n}
X-Postfix-Sender: rfc822; digest@example.org
Arrival-Date: Tue, 24 Nov 2026 07:00:10 +0000 (UTC)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{digest_headers(address, returned)}

--{boundary}--
""")


def hard_bounce(address: str, n: int = 1, returned: str | None = None) -> bytes:
    return dsn(address, status="5.1.1", action="failed", n=n, returned=returned, diagnostic=(
        f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual\n"
        "    mailbox table"))


def mailbox_full(address: str, n: int = 1) -> bytes:
    return dsn(address, status="4.2.2", action="delayed", n=n,
               subject="Delayed Mail (still being retried)",
               diagnostic=f"452 4.2.2 <{address}>: Mailbox full, quota exceeded")


def dmarc_refusal(address: str, n: int = 1) -> bytes:
    return dsn(address, status="5.7.26", action="failed", n=n, diagnostic=(
        "550-5.7.26 Unauthenticated email from example.org is not accepted due to\n"
        "    domain's DMARC policy. Please contact the administrator of example.org"))


def reply(address: str, body: str, *, n: int = 1, subject: str = "Re: Your research digest",
          extra: str = "", answers: str | None = None, received: str = "") -> bytes:
    """A reader's plain-text reply with the digest quoted below, as Thunderbird writes it
    (``answers``: the Message-ID it replies to, default the digest sent to ``address``;
    ``received``: header lines the receiving server put on top)."""
    answered = answers or digest_id(address)
    return crlf(f"""\
{received}Return-Path: <{address}>
From: Reader {n} <{address}>
To: Research Digest <replies@example.org>
Subject: {subject}
Date: Tue, 24 Nov 2026 08:1{n % 10}:00 +0100
Message-ID: <reply{n}.{address.replace("@", ".")}@mail.example.net>
In-Reply-To: {answered}
References: {answered}
{extra}MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

{body}

On 24.11.26 07:00, Research Digest wrote:
> Your research digest: 12 new papers
>
> cs.LG
> 1. Diffusion models for protein design
> Unsubscribe: https://digest.example.org/u/abc
""")


def stop_reply(address: str) -> bytes:
    return reply(address, "STOP", n=2)


def feedback_reply(address: str) -> bytes:
    """A Gmail reply: multipart/alternative, the quote header wrapped over two lines."""
    return crlf(f"""\
From: Grace Hopper <{address}>
To: Research Digest <replies@example.org>
Subject: Re: Your research digest: 12 new papers
Date: Tue, 24 Nov 2026 09:02:11 +0100
Message-ID: <CAJ8x0=feedback@mail.gmail.com>
In-Reply-To: {digest_id(address)}
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000abcdef"

--000000000000abcdef
Content-Type: text/plain; charset="UTF-8"

Thanks, the diffusion paper was exactly what I needed.
Could you add more robotics papers?

On Tue, Nov 24, 2026 at 8:00 AM Research Digest <
digest@example.org> wrote:

> Your research digest: 12 new papers
> 1. Diffusion models for protein design
>

--000000000000abcdef
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Thanks, the diffusion paper was exactly what I needed.<br>Could you add
more robotics papers?</div><br><div class="gmail_quote"><div dir="ltr"
class="gmail_attr">On Tue, Nov 24, 2026 at 8:00 AM Research Digest &lt;<a
href="mailto:digest@example.org">digest@example.org</a>&gt; wrote:<br></div><blockquote
class="gmail_quote">Your research digest: 12 new papers</blockquote></div>

--000000000000abcdef--
""")


def chinese_unsubscribe(address: str) -> bytes:
    """A new message (no In-Reply-To), vouched for by our receiving server's DMARC check."""
    domain = address.rpartition("@")[2]
    body = ("退订\n\n在 2026年11月24日 07:00，Research Digest <digest@example.org> 写道：\n"
            "> 您的研究摘要\n")
    encoded = base64.encodebytes(body.replace("\n", "\r\n").encode("utf-8")).decode()
    return crlf(f"""\
Authentication-Results: {RECEIVER};
 dkim=pass header.i=@{domain} header.s=s2048 header.b=kT3x9Q1a;
 spf=pass (domain of {address} designates 203.0.113.7 as permitted sender)
 smtp.mailfrom={address};
 dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from={domain}
Received: from mail.{domain} (mail.{domain} [203.0.113.7]) by {RECEIVER};
 Tue, 24 Nov 2026 07:00:02 +0000
From: =?UTF-8?B?5byg5LiJ?= <{address}>
To: replies@example.org
Subject: =?UTF-8?B?5Zue5aSN77yaWW91ciByZXNlYXJjaCBkaWdlc3Q=?=
Date: Tue, 24 Nov 2026 15:00:00 +0800
Message-ID: <tuiding.1@mail.example.cn>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

{encoded}""")


# --- forgeries: what a stranger can send, knowing an address but not what we sent it ------

def forged_stop(address: str, *, answers: str) -> bytes:
    """"STOP" with a forged From: it answers ``answers`` (a digest not sent to ``address``,
    or made up) and carries a forged Authentication-Results of its own, below the one our
    receiving server put on top, which found DMARC failing."""
    domain = address.rpartition("@")[2]
    return reply(address, "STOP", n=5, answers=answers, received=(
        f"Authentication-Results: {RECEIVER}; spf=pass smtp.mailfrom=attacker.example;\n"
        f" dkim=none; dmarc=fail (p=none dis=none) header.from={domain}\n"
        f"Received: from relay.attacker.example (relay.attacker.example [198.51.100.66])\n"
        f" by {RECEIVER}; Tue, 24 Nov 2026 07:40:00 +0000\n"), extra=(
        f"Authentication-Results: {RECEIVER}; dmarc=pass header.from={domain};\n"
        f" dkim=pass header.d={domain}\n"))


def forged_mailto_unsubscribe(address: str, *, token: str = "") -> bytes:
    """The List-Unsubscribe mailto as a stranger writes it: subject "unsubscribe", a
    forged From, no reply to anything, and maybe a made-up token; SPF passes for the
    stranger's own envelope domain."""
    domain = address.rpartition("@")[2]
    return crlf(f"""\
Authentication-Results: {RECEIVER}; spf=pass smtp.mailfrom=attacker.example;
 dkim=pass header.d=attacker.example; dmarc=fail header.from={domain}
Return-Path: <bounce@attacker.example>
From: <{address}>
To: replies@example.org
Subject: unsubscribe{" " + token if token else ""}
Date: Tue, 24 Nov 2026 07:41:00 +0000
Message-ID: <mailto.{domain}.{hashlib.sha256(token.encode()).hexdigest()[:8]}@attacker.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

unsubscribe
""")


def mailto_unsubscribe(address: str, token: str) -> bytes:
    """The List-Unsubscribe mailto as a mail client sends it for the reader: the subject
    of our mailto: URL, with its signed token."""
    return crlf(f"""\
Return-Path: <{address}>
From: <{address}>
To: replies@example.org
Subject: unsubscribe {token}
Date: Tue, 24 Nov 2026 07:42:00 +0000
Message-ID: <mailto.{address.replace("@", ".")}@mail.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

This message was automatically generated by Gmail.
""")
