"""The briefing cache in the database, shared by every worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest_mailer.db.engine import dialect_insert
from digest_mailer.db.models import BriefingCacheEntry, utcnow


class DatabaseBriefingCache:
    """The briefing cache in the database, shared by every worker.

    A claim is a row with an empty text: the worker that wrote it asks the endpoint, the
    others wait for the text (briefing.protocol.BriefingCache).

    The one query module that opens its own transactions: the briefer calls it from its
    worker threads, outside any unit of work of a service, and every claim and text must
    be visible to the other workers at once (each call is its own short transaction).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table = BriefingCacheEntry.__table__  # type: ignore[attr-defined]
        self._insert = dialect_insert(engine)

    def get(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            text = conn.execute(select(self._table.c.text).where(
                self._table.c.key == key)).scalar()
        return text or None  # "" is a claim, not a briefing

    def put(self, key: str, text: str, model: str) -> None:
        """Store a briefing over our claim; a briefing another worker stored stays."""
        row = self._insert(self._table).values(key=key, text=text, model=model,
                                               created_at=utcnow())
        with self.engine.begin() as conn:
            conn.execute(row.on_conflict_do_update(
                index_elements=["key"], set_={"text": text, "model": model},
                where=self._table.c.text == ""))

    def claim(self, key: str, stale_after: float) -> bool:
        now = utcnow()
        table = self._table
        with self.engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports no count for ON CONFLICT DO NOTHING.
            row = self._insert(table).values(key=key, text="", model="", created_at=now)
            if conn.execute(row.on_conflict_do_nothing().returning(table.c.key)).first():
                return True
            taken = conn.execute(update(table).where(
                table.c.key == key, table.c.text == "",
                table.c.created_at < now - timedelta(seconds=stale_after)).values(
                created_at=now).returning(table.c.key))
            return taken.first() is not None

    def release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self._table).where(self._table.c.key == key,
                                                   self._table.c.text == ""))
