"""Sources (feeds): add or update one, list them with their last fetch."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Source


class SourceService:
    """The sources (feeds): add or update, list with their health."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, url: str, label: str, category: str, kind: str | None = None) -> Source:
        """Add a source or update its label and category; the URL is its identity."""
        with Session(self.engine, expire_on_commit=False) as session:
            source = db.sources.add(session, url, label, category, kind)
            session.commit()
            return source

    def every(self) -> list[Source]:
        with Session(self.engine) as session:
            return db.sources.every(session)
