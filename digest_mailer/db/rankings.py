"""Queries on the stored text model and the readers' fitted models. The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, select

from digest_mailer.db.engine import in_chunks
from digest_mailer.db.models import ReaderModelRow, TextModelRow


def latest_text_model(session: Session) -> TextModelRow | None:
    return session.exec(select(TextModelRow).order_by(col(TextModelRow.id).desc())).first()


def add_text_model(session: Session, data: bytes, n_entries: int,
                   fitted_at: datetime) -> TextModelRow:
    """Store a new text model; the older ones and the reader models fitted on them go."""
    row = TextModelRow(data=data, n_entries=n_entries, fitted_at=fitted_at)
    session.add(row)
    session.flush()
    session.exec(delete(ReaderModelRow).where(  # type: ignore[call-overload]
        col(ReaderModelRow.text_model_id) != row.id))
    session.exec(delete(TextModelRow).where(  # type: ignore[call-overload]
        col(TextModelRow.id) != row.id))
    return row


def reader_models(session: Session, subscriber_ids: Sequence[int]) -> dict[int, ReaderModelRow]:
    found: dict[int, ReaderModelRow] = {}
    for chunk in in_chunks(subscriber_ids):
        found.update((r.subscriber_id, r) for r in session.exec(
            select(ReaderModelRow).where(col(ReaderModelRow.subscriber_id).in_(chunk))))
    return found


def save_reader_model(session: Session, subscriber_id: int, text_model_id: int,
                      signature: str, data: bytes, fitted_at: datetime) -> None:
    """Store a reader's model in place of the one before (one row a reader)."""
    row = session.get(ReaderModelRow, subscriber_id)
    if row is None:
        row = ReaderModelRow(subscriber_id=subscriber_id, text_model_id=text_model_id,
                             signature=signature, data=data, fitted_at=fitted_at)
    else:
        row.text_model_id, row.signature, row.data = text_model_id, signature, data
        row.fitted_at = fitted_at
    session.add(row)


def forget_reader_model(session: Session, subscriber_id: int) -> None:
    session.exec(delete(ReaderModelRow).where(  # type: ignore[call-overload]
        col(ReaderModelRow.subscriber_id) == subscriber_id))
