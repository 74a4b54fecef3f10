"""Composing a digest: brief, render and build the message; preview; "view in browser";
the reader's full ranked list of a digest's day.

Reads only, writes nothing: the send service stores what went out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.briefing.protocol import Briefer
from digest_mailer.briefing.sentences import tldr
from digest_mailer.db.models import Delivery, DeliveryStatus, Entry, Subscriber
from digest_mailer.domain.compose import (
    build_digest,
    cadence_of,
    category_label,
    cuts_of,
    groups_of,
    profile_of,
    reasons_of,
)
from digest_mailer.domain.digest import (
    Briefing,
    CategoryGroup,
    DayList,
    Digest,
    Paper,
    RenderedDigest,
)
from digest_mailer.domain.grouping import regroup
from digest_mailer.ingest.tex import tex_to_unicode
from digest_mailer.mail.links import DigestLinkMaker, InertLinks
from digest_mailer.mail.message import build_message, make_message_id
from digest_mailer.mail.render import DigestRenderer
from digest_mailer.services.batch import SelectionConfig, SendBatch
from digest_mailer.services.listing import DigestListing, listing_of
from digest_mailer.services.ranking import ReaderModels


@dataclass(frozen=True)
class MailConfig:
    """The headers every digest carries."""

    mail_from: str
    reply_to: str
    list_id: str

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.mail_from)[1].rpartition("@")[2] or "localhost"


@dataclass
class Composed:
    """One digest ready to send: its Delivery row, the Digest, its rendering and the message."""

    delivery: Delivery
    digest: Digest
    rendered: RenderedDigest
    message: EmailMessage


class NotMailed(LookupError):
    """A "view in browser" link to a digest that has not gone out (yet); ``language`` is
    its reader's, for the page that says so."""

    def __init__(self, delivery_public_id: str, language: str) -> None:
        super().__init__(delivery_public_id)
        self.language = language


@dataclass
class Composer:
    """Builds a digest's email from its Delivery row: for a send, a preview, or the browser view."""

    engine: Engine
    briefer: Briefer
    renderer: DigestRenderer
    signer: DigestLinkMaker  # the LinkSigner; an InertLinks for a test copy (:meth:`today`)
    mail: MailConfig
    selection: SelectionConfig
    clock: Callable[[], datetime]
    models: ReaderModels | None = None  # None: no reader models, today's order for everyone

    @property
    def sender_domain(self) -> str:
        return self.mail.sender_domain

    def groups(self, subscriber: Subscriber, entries: Sequence[Entry],
               labels: dict[int, tuple[str, str]],
               notes: dict[str, Any] | None = None) -> tuple[CategoryGroup, ...]:
        # The stored keys are in reading order and the reasons and cuts come from the
        # stored notes (None on rows older than them): a retry sends the same email.
        groups = groups_of(regroup(profile_of(subscriber), entries), labels,
                           self._vote_links(subscriber.public_id), notes)
        return tuple(replace(g, papers=tuple(_card(p) for p in g.papers)) for g in groups)

    def _vote_links(self, subscriber_public_id: str) -> Callable[[str, str], str]:
        """(entry key, "more"|"less") → the reader's signed feedback link."""
        return lambda key, vote: self.signer.feedback_url(subscriber_public_id, key, vote)

    def compose(self, session: Session, subscriber: Subscriber, delivery: Delivery, *,
                groups: tuple[CategoryGroup, ...] | None = None,
                briefing: Briefing | None = None, smtputf8: bool = True) -> Composed:
        """Brief, render and build the message for a Delivery; reads only, writes nothing.

        ``smtputf8``: the message may go to a non-ASCII local part (RFC 6531). True for
        previews and "view in browser", which send nothing; a send passes whether its
        server announced SMTPUTF8.
        """
        if groups is None:
            entries = db.entries.by_keys(session, delivery.entry_keys)
            groups = self.groups(subscriber, entries, db.sources.labels(session),
                                 delivery.notes)
        if briefing is None:
            briefing = stored_briefing(delivery)
        if briefing is None:
            briefing = self.briefer.brief(groups, subscriber.language,
                                          cadence=cadence_of(delivery.notes))
        links = self.signer.links(subscriber.public_id, delivery.public_id)
        digest = build_digest(subscriber, delivery.digest_date, groups, briefing, links,
                              cuts_of(delivery.notes), cadence_of(delivery.notes))
        rendered = self.renderer.render(digest)
        message = build_message(
            rendered, to_email=subscriber.email, to_name=subscriber.name,
            sender=self.mail.mail_from, reply_to=self.mail.reply_to,
            list_id=self.mail.list_id, links=links,
            message_id=delivery.message_id or make_message_id(self.sender_domain),
            date=self.clock(), smtputf8=smtputf8)
        return Composed(delivery, digest, rendered, message)

    def load_batch(self, session: Session, subscribers: Sequence[Subscriber],
                   days: dict[int, date], now: datetime) -> SendBatch:
        """What a batch of digests reads once, their readers' models scored on it."""
        return SendBatch.load(session, subscribers, days, now, self.selection, self.models)

    def draft(self, session: Session, subscriber: Subscriber, day: date,
              now: datetime) -> Delivery:
        """An unsaved Delivery of the papers first seen since this subscriber's previous
        digest window closed, with their scores and reasons."""
        assert subscriber.id is not None
        batch = self.load_batch(session, [subscriber], {subscriber.id: day}, now)
        selection = batch.select(subscriber, self.selection)
        return Delivery(subscriber_id=subscriber.id, digest_date=day,
                        entry_keys=selection.keys, cutoff=now,
                        notes=batch.notes(subscriber, selection))

    def _todays(self, session: Session, email: str,
                digest_date: date | None) -> tuple[Subscriber, Delivery]:
        """The subscriber and their digest of the day: the stored one, else a draft."""
        now = self.clock()
        subscriber = db.subscribers.by_email(session, email)
        if subscriber is None or subscriber.id is None:
            raise LookupError(f"no subscriber {email}")
        day = digest_date or now.date()
        delivery = db.deliveries.of_day(session, subscriber.id, day)
        if delivery is None:
            delivery = self.draft(session, subscriber, day, now)
        return subscriber, delivery

    def preview(self, email: str, digest_date: date | None = None, *,
                test: bool = False) -> RenderedDigest:
        """Render what the subscriber would get now, writing nothing (``test``: as
        :meth:`today`)."""
        with Session(self.engine) as session:
            subscriber, delivery = self._todays(session, email, digest_date)
            return self._for(subscriber, test).compose(session, subscriber, delivery).rendered

    def today(self, email: str, *, test: bool = False) -> Composed:
        """Today's digest of a subscriber, composed (the stored one, else a draft that is
        never saved): what a test send mails. LookupError for no such reader.

        ``test``: every link of the copy (unsubscribe, preferences, votes, view online, the
        full list) is :class:`InertLinks`' page: the copy is for someone else, whose
        clicks must not act for the reader."""
        with Session(self.engine) as session:
            subscriber, delivery = self._todays(session, email, None)
            return self._for(subscriber, test).compose(session, subscriber, delivery)

    def _for(self, subscriber: Subscriber, test: bool) -> Composer:
        """This composer, or for a test copy one whose links are inert."""
        if not test:
            return self
        return replace(self, signer=InertLinks(self.signer.base_url, subscriber.language))

    def listing(self, email: str, digest_date: date | None = None) -> DigestListing:
        """What the subscriber would get now as data (papers in reading order with score
        and reason, what was cut), writing no Delivery; LookupError for no such reader."""
        with Session(self.engine) as session:
            subscriber, delivery = self._todays(session, email, digest_date)
            entries = db.entries.by_keys(session, delivery.entry_keys)
            return listing_of(subscriber, delivery, entries,
                              briefing=briefing_kind(self.briefer))

    def view(self, delivery_public_id: str) -> str:
        """The HTML of a digest as it was sent. LookupError for an unknown one,
        :class:`NotMailed` for one not sent yet."""
        with Session(self.engine) as session:
            delivery, subscriber = _mailed(session, delivery_public_id)
            return self.compose(session, subscriber, delivery).rendered.html

    def day_list(self, delivery_public_id: str) -> DayList:
        """The reader's full ranked list of a mailed digest's window (their previous cutoff
        to this digest's): every paper, ranked as the send path ranks them with the
        reader's model of today, each with its reason and vote links; the email's papers
        keep the reasons stored with them. Errors as :meth:`view`."""
        # expire_on_commit=False: fitting a changed reader model commits mid-way.
        with Session(self.engine, expire_on_commit=False) as session:
            delivery, subscriber = _mailed(session, delivery_public_id)
            assert subscriber.id is not None
            batch = self.load_batch(session, [subscriber], {subscriber.id: delivery.digest_date},
                                    delivery.cutoff)
            selection = batch.select(subscriber, self.selection, uncapped=True)
            notes = batch.notes(subscriber, selection)
            sent = set(delivery.entry_keys)
            for key, why in reasons_of(delivery.notes).items():
                if key in notes["papers"]:
                    notes["papers"][key]["why"] = list(why)
            lang = subscriber.language
            groups = groups_of(selection, batch.labels, self._vote_links(subscriber.public_id),
                               notes)
            view = self.signer.links(subscriber.public_id, delivery.public_id).view_online
        return DayList(lang, delivery.digest_date,
                       tuple(replace(g, label=category_label(g.category, lang)) for g in groups),
                       frozenset(sent), view, cadence_of(delivery.notes))


def _mailed(session: Session, delivery_public_id: str) -> tuple[Delivery, Subscriber]:
    """A mailed digest's Delivery and its reader; LookupError for an unknown one,
    :class:`NotMailed` for one not sent yet."""
    delivery = db.deliveries.by_public_id(session, delivery_public_id)
    subscriber = (session.get(Subscriber, delivery.subscriber_id)
                  if delivery is not None else None)
    if delivery is None or subscriber is None:
        raise LookupError(delivery_public_id)
    if delivery.status not in DeliveryStatus.MAILED:
        raise NotMailed(delivery_public_id, subscriber.language)
    return delivery, subscriber


def briefing_kind(briefer: Briefer) -> str:
    """The briefing a digest is to get: "llm" when an endpoint is configured (at send time
    a failure or a spent budget still falls back to the extractive one), else "extractive"."""
    from digest_mailer.briefing.extractive import ExtractiveBriefer

    return "extractive" if isinstance(briefer, ExtractiveBriefer) else "llm"


def stored_briefing(delivery: Delivery) -> Briefing | None:
    """The briefing a Delivery went out with (a retry and "view in browser" show it), or None."""
    if delivery.briefing is None or not delivery.briefing_kind:
        return None
    notes = delivery.notes if isinstance(delivery.notes, dict) else {}
    headline = notes.get("headline")
    return Briefing(delivery.briefing, delivery.briefing_kind,
                    headline=headline if isinstance(headline, str) else "")


def _card(paper: Paper) -> Paper:
    """A paper as its card shows it: math readable in rows stored before ingest converted
    it, and its extractive TL;DR (an LLM's, made once per paper, replaces it on a send)."""
    title, abstract = tex_to_unicode(paper.title), tex_to_unicode(paper.abstract)
    return replace(paper, title=title, abstract=abstract, tldr=paper.tldr or tldr(abstract))
