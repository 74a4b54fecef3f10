"""A small world for end-to-end tests: real SQLite, real feeds over loopback HTTP, a clock."""

from __future__ import annotations

import csv
import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from feedserver import FeedServer
from sqlmodel import Session

from digest_mailer.app import App
from digest_mailer.db.models import Delivery, Subscriber
from digest_mailer.domain.grouping import Selection
from digest_mailer.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
ITEM = re.compile(r"<item>.*?</item>\s*", re.DOTALL)


def demo_sources() -> list[dict[str, str]]:
    with (DEMO / "sources.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def arxiv_items(feed: bytes) -> tuple[bytes, list[bytes]]:
    """Split an arXiv RSS document into its shell (items removed) and its items."""
    text = feed.decode()
    items = [m.group(0).encode() for m in ITEM.finditer(text)]
    shell = ITEM.sub("", text).encode()
    return shell, items


def with_items(shell: bytes, items: list[bytes]) -> bytes:
    return shell.replace(b"</channel>", b"".join(items) + b"</channel>")


def at(day: int, hour: int = 8) -> datetime:
    """A fixed instant in November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp / "var", "smtp_url": "", "openai_api_key": "", "openai_base_url": "",
        "base_url": "https://digest.example.org",
        "mail_from": "Research Digest <digest@example.org>",
        "reply_to": "replies@example.org", "secret_key": "test-key", "fetch_timeout": 2.0,
        # A test's PostgreSQL database starts empty: migrate it at start, as SQLite is.
        "auto_migrate": True,
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


@dataclass
class World:
    app: App
    feeds: FeedServer
    now: datetime

    @classmethod
    def build(cls, tmp: Path, feeds: FeedServer, *, hooks: dict[str, Any] | None = None,
              **overrides: Any) -> World:
        """``hooks``: the App's test hooks (engine, briefer, ssl_context); the clock is
        the world's ``now``."""
        world: World | None = None

        def clock() -> datetime:
            assert world is not None
            return world.now

        world = cls(App(make_settings(tmp, **overrides), clock=clock, **(hooks or {})),
                    feeds, at(1))
        return world

    def add_source(self, path: str, label: str, category: str) -> None:
        self.app.sources.register(self.feeds.url(path), label, category)

    def add_demo_sources(self) -> None:
        for row in demo_sources():
            self.feeds.add_file("/" + row["url"], DEMO / "feeds" / row["url"])
            self.add_source("/" + row["url"], row["label"], row["category"])

    def subscribe(self, email_address: str, categories: list[str], **fields: Any) -> Subscriber:
        with Session(self.app.engine) as session:
            subscriber = Subscriber(email=email_address, name=fields.pop("name", "Reader"),
                                    categories=categories, timezone="UTC", send_hour=7,
                                    **fields)
            session.add(subscriber)
            session.commit()
            session.refresh(subscriber)
            return subscriber


    def selection(self, subscriber: Subscriber, day: date | None = None) -> Selection:
        """What the send path would choose for this reader now, as the send batch does."""
        composer = self.app.composer
        day = day or date(2026, 11, 1)
        with Session(self.app.engine, expire_on_commit=False) as session:
            batch = composer.load_batch(session, [subscriber], {subscriber.id or 0: day},
                                        self.now)
            return batch.select(subscriber, composer.selection)


    def unsent_delivery(self, subscriber: Subscriber) -> str:
        """The public id of a digest written but not mailed (its view link must refuse)."""
        with Session(self.app.engine) as session:
            delivery = Delivery(subscriber_id=subscriber.id or 0, digest_date=date(2026, 11, 1),
                                entry_keys=[], cutoff=self.now)
            session.add(delivery)
            session.commit()
            return delivery.public_id


# Five cs.AI papers of the demo day, three of which (7, 10, 13) share a theme, so the
# briefing is the LLM's under either DIGEST_LLM_BRIEFING: one call per digest or per theme.
THEMED_AI = (0, 1, 7, 10, 13)


def llm_reader_world(tmp: Path, feeds: FeedServer, smtp_url: str, llm_url: str,
                     per: str, hostile: bytes = b"", **overrides: Any) -> World:
    """One cs.AI reader of five papers, ingested, an LLM endpoint set (no retries).

    ``hostile`` is put at the start of a theme paper's abstract (paper 7).
    """
    world = World.build(tmp, feeds, smtp_url=smtp_url, openai_base_url=llm_url,
                        openai_api_key="sk-test", llm_briefing=per,
                        **{"llm_retries": 0, **overrides})
    shell, items = arxiv_items((DEMO / "feeds" / "arxiv_cs.AI.xml").read_bytes())
    picked = [items[i] for i in THEMED_AI]
    if hostile:
        picked[2] = picked[2].replace(b"Abstract: ", b"Abstract: " + hostile + b" ", 1)
    feeds.add_bytes("/ai.xml", with_items(shell, picked))
    world.add_source("/ai.xml", "arXiv (cs.AI)", "cs.AI")
    world.subscribe("r@example.org", ["cs.AI"])
    world.app.ingest.refresh()
    return world


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a digest."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    # Bodies travel with CRLF line ends; compare text with plain newlines.
    return (str(text.get_content()).replace("\r\n", "\n"),
            str(html.get_content()).replace("\r\n", "\n"))


def paper_links(text: str) -> list[str]:
    """The paper links of a text part, in order (one line each)."""
    return re.findall(r"^ +(https?://\S+)$", text, flags=re.MULTILINE)
