"""The admin's view of one subscriber: profile, status history, votes and replies, a
preview and a test send of today's digest, and resubscribing with a reason.

A test digest is today's digest as the subscriber would get it, composed from a draft that
is never saved (or the stored Delivery, read only), sent through the App's transport to the
admin: no Delivery is written or marked, and its Message-ID is fresh, so a bounce of it is
never taken for the subscriber's. Its links carry no token of the reader (mail.links
InertLinks: each opens a page saying it is a test), so the admin's clicks act for no one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import ReaderMessage, StatusChange, Subscriber, SubscriberStatus
from digest_mailer.domain.subscriber import check_address
from digest_mailer.mail.message import make_message_id
from digest_mailer.mail.render import RenderedDigest
from digest_mailer.mail.transport import Transport
from digest_mailer.services.compose import Composer

MAX_REASON_CHARS = 500
# A test copy must not unsubscribe the reader when the admin's mail client offers the button.
_NOT_IN_A_TEST = ("List-Unsubscribe", "List-Unsubscribe-Post")


@dataclass(frozen=True)
class SubscriberFile:
    """Everything the admin page of one subscriber shows."""

    subscriber: Subscriber
    history: list[StatusChange]
    votes: list[tuple[str, str, str, datetime]]  # entry key, title, vote, when
    messages: list[ReaderMessage]


class ReasonMissing(ValueError):
    """A resubscribe without a reason: the history must say why."""


class NotResubscribable(ValueError):
    """A resubscribe of a sign-up never confirmed: only its owner's confirm makes it
    active (anyone can type an address into /subscribe)."""


RESUBSCRIBABLE = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)


class SubscriberAdmin:
    """One subscriber as the admin sees and changes them."""

    def __init__(self, engine: Engine, composer: Composer, transport: Callable[[], Transport],
                 clock: Callable[[], datetime], *, smtputf8: bool = False) -> None:
        self.engine = engine
        self.composer = composer
        self.transport = transport
        self.clock = clock
        self.smtputf8 = smtputf8

    def file(self, subscriber_id: int) -> SubscriberFile | None:
        with Session(self.engine, expire_on_commit=False) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None:
                return None
            return SubscriberFile(subscriber, db.statuses.history(session, subscriber_id),
                                  db.votes.of_subscriber(session, subscriber_id),
                                  db.messages.of_subscriber(session, subscriber_id))

    def resubscribe(self, subscriber_id: int, reason: str) -> Subscriber | None:
        """Make an unsubscribed or bounced subscriber active again, the reason (required)
        kept in the status history; None for an unknown one. Active stays active; a
        pending sign-up raises NotResubscribable."""
        reason = " ".join(reason.split())[:MAX_REASON_CHARS]
        if not reason:
            raise ReasonMissing("a resubscribe needs a reason")
        with Session(self.engine, expire_on_commit=False) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None:
                return None
            if subscriber.status not in (SubscriberStatus.ACTIVE, *RESUBSCRIBABLE):
                raise NotResubscribable(f"{subscriber.status} cannot be resubscribed")
            if db.subscribers.set_status(session, subscriber, SubscriberStatus.ACTIVE, reason,
                                         "admin", self.clock()):
                subscriber.soft_bounces = 0  # a fresh start: old 4.x.x reports are forgotten
                session.commit()
            return subscriber

    def preview(self, subscriber_id: int) -> RenderedDigest | None:
        """Today's digest of the subscriber as HTML, as `digest-mailer preview` renders it
        but with a test copy's inert links: the admin's clicks in it act for no one."""
        email = self._email(subscriber_id)
        return self.composer.preview(email, test=True) if email is not None else None

    def send_test(self, subscriber_id: int, to: str) -> str | None:
        """Mail today's digest of the subscriber, its links inert, to ``to`` (checked as any
        address); the address it went to, None for an unknown subscriber. Raises
        ProfileError for a bad address and DeliveryError when the server refuses."""
        address = check_address(to, smtputf8=self.smtputf8)
        email = self._email(subscriber_id)
        if email is None:
            return None
        message = self.composer.today(email, test=True).message
        with self.transport() as transport:
            transport.send(test_copy(message, address, self.composer.sender_domain))
        return address

    def _email(self, subscriber_id: int) -> str | None:
        with Session(self.engine) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            return subscriber.email if subscriber is not None else None


def test_copy(message: EmailMessage, to: str, domain: str) -> EmailMessage:
    """The digest readdressed to ``to`` as a marked test: a fresh Message-ID, no
    one-click unsubscribe header."""
    for name in _NOT_IN_A_TEST:
        del message[name]
    message.replace_header("To", to)
    message.replace_header("Subject", f"[test] {message['Subject']}")
    message.replace_header("Message-ID", make_message_id(domain))
    return message


__all__ = ["RESUBSCRIBABLE", "NotResubscribable", "ReasonMissing", "SubscriberAdmin",
           "SubscriberFile", "test_copy"]
