"""Queries on the sources (feeds) and the categories readers may choose. The caller commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from digest_mailer.db.models import FetchLog, Source
from digest_mailer.domain.digest import FetchOutcome
from digest_mailer.ingest.arxiv import is_arxiv_category
from digest_mailer.ingest.kinds import DEFAULT_KIND


def add(session: Session, url: str, label: str, category: str,
        kind: str | None = None) -> Source:
    """Add a source or update its label and category; the URL is its identity.

    ``kind`` None: "rss" for a new source (its first parse records the real kind), and the
    kind stays for a known one. A removed source of that URL comes back (active, with
    its history).
    """
    source = by_url(session, url)
    if source is None:
        source = Source(url=url, label=label, category=category, kind=kind or DEFAULT_KIND)
    else:
        source.label, source.category, source.active = label, category, True
        source.kind = kind or source.kind
        source.removed_at = None
    session.add(source)
    session.flush()  # the id, for the caller
    return source


def by_url(session: Session, url: str) -> Source | None:
    """The source of ``url``, a removed one too."""
    return session.exec(select(Source).where(Source.url == url)).first()


def by_ref(session: Session, ref: str) -> Source | None:
    """A source not removed, named by its id ("3") or its URL."""
    ref = ref.strip()
    source = (session.get(Source, int(ref)) if ref.isdigit() and len(ref) < 18
              else by_url(session, ref))
    return source if source is not None and source.removed_at is None else None


def edit(session: Session, source: Source, label: str, category: str, kind: str) -> list[str]:
    """Set the label, category and kind; the names of the fields that changed."""
    changed = [name for name, value in (("label", label), ("category", category),
                                        ("kind", kind)) if getattr(source, name) != value]
    source.label, source.category, source.kind = label, category, kind
    session.add(source)
    return changed


def set_active(session: Session, source: Source, active: bool) -> bool:
    """Enable or disable a source; False when it already was."""
    if source.active == active:
        return False
    source.active = active
    session.add(source)
    return True


def remove(session: Session, source: Source, now: datetime) -> None:
    """Tombstone the source: never fetched, listed or offered again; its entries and its
    label stay for the deliveries that name them."""
    source.active, source.removed_at = False, now
    session.add(source)


def active(session: Session) -> list[Source]:
    return list(session.exec(select(Source).where(Source.active,
                                                  col(Source.removed_at).is_(None))
                             .order_by(Source.id)))


def every(session: Session) -> list[Source]:
    """Every source not removed, disabled ones too."""
    return list(session.exec(select(Source).where(col(Source.removed_at).is_(None))
                             .order_by(Source.id)))


def offers(session: Session, category: str) -> bool:
    """Whether a source not removed (enabled or not) still has ``category``."""
    return session.exec(select(Source.id).where(
        Source.category == category, col(Source.removed_at).is_(None))).first() is not None


def due(session: Session, now: datetime, interval: timedelta) -> list[Source]:
    return [s for s in active(session)
            if s.last_fetched_at is None or now - s.last_fetched_at >= interval]


HISTORY = 50  # fetches kept per source


def record_fetch(session: Session, source: Source, outcome: FetchOutcome, error: str | None,
                 entry_count: int, now: datetime, kind: str = "", *, trigger: str = "run",
                 entries_new: int = 0) -> FetchLog:
    """Store the outcome of one fetch on its source and in its history (see
    :func:`log_fetch`); the last error stays visible on the source.

    ``kind``: what a successfully parsed document turned out to be ("" → unchanged).
    ``trigger``: "run" (the ingest) or "now" (an admin's "fetch now").
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
    return log_fetch(session, source, outcome, error, entry_count, now, trigger=trigger,
                     entries_new=entries_new)


def log_fetch(session: Session, source: Source, outcome: FetchOutcome, error: str | None,
              entry_count: int, now: datetime, *, trigger: str, entries_new: int = 0
              ) -> FetchLog:
    """One row of the source's history, the last :data:`HISTORY` kept. Alone (without
    :func:`record_fetch`) for the test fetch of an add, which stores nothing else."""
    row = FetchLog(source_id=source.id or 0, fetched_at=now, trigger=trigger,
                   status=outcome.status, error=error, entry_count=entry_count,
                   entries_new=entries_new, not_modified=outcome.not_modified and not error,
                   seconds=round(outcome.elapsed, 3))
    session.add(row)
    session.flush()
    kept = (select(FetchLog.id).where(FetchLog.source_id == row.source_id)
            .order_by(col(FetchLog.id).desc()).limit(HISTORY))
    # Bounded: one source failing every few minutes for a year stays 50 rows.
    session.execute(delete(FetchLog).where(
        col(FetchLog.source_id) == row.source_id,
        col(FetchLog.id).not_in(select(kept.subquery().c.id))))
    return row


def history(session: Session, source_id: int, limit: int = HISTORY) -> list[FetchLog]:
    """The last fetches of a source, newest first."""
    return list(session.exec(select(FetchLog).where(FetchLog.source_id == source_id)
                             .order_by(col(FetchLog.id).desc()).limit(limit)))


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
    A category whose every source is disabled or removed is not offered, not even through
    another feed's cross-listed papers: the admin withdrew it.
    """
    configured = sorted({s.category for s in active(session)})
    withdrawn = {s.category for s in session.exec(select(Source))} - set(configured)
    query = _ARXIV_ENTRY_CATEGORIES[session.get_bind().dialect.name]
    seen = {str(value) for (value,) in session.execute(text(query))}
    arxiv = sorted(c for c in seen - set(configured) - withdrawn if is_arxiv_category(c))
    return configured + arxiv


def labels(session: Session) -> dict[int, tuple[str, str]]:
    """Every source's label and category, removed ones too: their entries keep them."""
    return {s.id or 0: (s.label, s.category) for s in session.exec(select(Source))}
