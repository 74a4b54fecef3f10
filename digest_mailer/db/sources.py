"""Queries on the sources (feeds) and the categories readers may choose. The caller commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, select

from digest_mailer.db.models import Source
from digest_mailer.domain.digest import FetchOutcome
from digest_mailer.ingest.arxiv import is_arxiv_category
from digest_mailer.ingest.kinds import DEFAULT_KIND


def add(session: Session, url: str, label: str, category: str,
        kind: str | None = None) -> Source:
    """Add a source or update its label and category; the URL is its identity.

    ``kind`` None: "rss" for a new source (its first parse records the real kind), and the
    kind stays for a known one.
    """
    source = session.exec(select(Source).where(Source.url == url)).first()
    if source is None:
        source = Source(url=url, label=label, category=category, kind=kind or DEFAULT_KIND)
    else:
        source.label, source.category, source.active = label, category, True
        source.kind = kind or source.kind
    session.add(source)
    session.flush()  # the id, for the caller
    return source


def active(session: Session) -> list[Source]:
    return list(session.exec(select(Source).where(Source.active).order_by(Source.id)))


def every(session: Session) -> list[Source]:
    return list(session.exec(select(Source).order_by(Source.id)))


def due(session: Session, now: datetime, interval: timedelta) -> list[Source]:
    return [s for s in active(session)
            if s.last_fetched_at is None or now - s.last_fetched_at >= interval]


def record_fetch(session: Session, source: Source, outcome: FetchOutcome, error: str | None,
                 entry_count: int, now: datetime, kind: str = "") -> None:
    """Store the outcome of one fetch on its source; the last error stays visible.

    ``kind``: what a successfully parsed document turned out to be ("" → unchanged).
    """
    source.last_fetched_at = now
    source.last_status = outcome.status
    source.last_error = error
    if error is None:
        source.last_success_at = now
        source.last_entry_count = entry_count
        source.kind = kind or source.kind
        if not outcome.not_modified:
            source.etag, source.last_modified = outcome.etag, outcome.last_modified
    session.add(source)


# Every category element of the entries whose key is an arXiv id: no ":" ("2604.21935",
# "hep-th/9901001"), where DOIs, links, guids and hashes all have one.
_ARXIV_ENTRY_CATEGORIES = {
    "sqlite": "SELECT DISTINCT c.value FROM entry, json_each(entry.categories) AS c "
              "WHERE entry.key NOT LIKE '%:%'",
    "postgresql": "SELECT DISTINCT c FROM entry, json_array_elements_text(entry.categories) "
                  "AS c WHERE entry.key NOT LIKE '%:%'",
}


def subscribable_categories(session: Session) -> list[str]:
    """The categories a reader may choose: the sources' own, then arXiv categories seen.

    A combined arXiv feed filed under ``hep-ph`` also brings ``hep-ex`` papers; a reader can
    subscribe to ``hep-ex`` once such a paper is stored. Only arXiv papers count, and only
    names in arXiv's taxonomy shape: a journal's free-form tags never become categories.
    """
    configured = sorted({s.category for s in every(session)})
    query = _ARXIV_ENTRY_CATEGORIES[session.get_bind().dialect.name]
    seen = {str(value) for (value,) in session.execute(text(query))}
    arxiv = sorted(c for c in seen - set(configured) if is_arxiv_category(c))
    return configured + arxiv


def labels(session: Session) -> dict[int, tuple[str, str]]:
    return {s.id or 0: (s.label, s.category) for s in every(session)}
