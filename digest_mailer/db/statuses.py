"""Queries on the subscribers' status history and on the import drafts. The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from digest_mailer.db.engine import CHUNK
from digest_mailer.db.models import ImportDraft, StatusChange


def record(session: Session, subscriber_id: int, status: str, previous: str | None,
           reason: str, by: str, now: datetime) -> None:
    """Stage one status change in the caller's transaction."""
    session.add(StatusChange(subscriber_id=subscriber_id, status=status, previous=previous,
                             reason=reason[:500], by=by, changed_at=now))


def record_many(session: Session, changes: Sequence[dict[str, Any]], now: datetime) -> None:
    """Many changes at once (an import): each dict holds subscriber_id, status, previous,
    reason and by."""
    table = StatusChange.__table__  # type: ignore[attr-defined]
    rows = [{**c, "changed_at": now} for c in changes]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start:start + CHUNK])


def history(session: Session, subscriber_id: int, limit: int = 200) -> list[StatusChange]:
    """A subscriber's status changes, newest first."""
    query = (select(StatusChange).where(StatusChange.subscriber_id == subscriber_id)
             .order_by(col(StatusChange.changed_at).desc(), col(StatusChange.id).desc()))
    return list(session.exec(query.limit(limit)))


# --- import drafts (the browser import between preview and confirm) ----------------------

def add_draft(session: Session, token_hash: str, admin_session: str, data: bytes,
              now: datetime) -> None:
    session.add(ImportDraft(token_hash=token_hash, admin_session=admin_session, data=data,
                            created_at=now))


def draft(session: Session, token_hash: str, admin_session: str) -> ImportDraft | None:
    """The draft this token names, only for the session that uploaded it."""
    row = session.get(ImportDraft, token_hash)
    return row if row is not None and row.admin_session == admin_session else None


def take_draft(session: Session, token_hash: str, admin_session: str,
               since: datetime) -> bytes | None:
    """The bytes of this session's draft made at ``since`` or later, deleted in the
    caller's transaction; a rollback keeps it. The delete is the transaction's first
    statement, so it takes the write lock before anything is read (SQLite, in WAL, could
    not upgrade an older read): of two confirms of one draft, the second finds it gone."""
    gone = session.execute(delete(ImportDraft).where(
        col(ImportDraft.token_hash) == token_hash,
        col(ImportDraft.admin_session) == admin_session,
    ).returning(col(ImportDraft.data), col(ImportDraft.created_at))).first()
    if gone is None or gone.created_at < since:
        return None
    return bytes(gone.data)


def drop_stale_drafts(session: Session, admin_session: str, before: datetime) -> None:
    """Drafts older than ``before``, and this session's earlier one (one draft a session)."""
    session.execute(delete(ImportDraft).where(
        (col(ImportDraft.created_at) < before) | (col(ImportDraft.admin_session) == admin_session)))
