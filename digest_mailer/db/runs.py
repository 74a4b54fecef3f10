"""Queries on the runs (one row per ingest or send run, with its counts). The caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from digest_mailer.db.models import Run, utcnow


def save(session: Session, run: Run) -> Run:
    run.finished_at = utcnow()
    session.add(run)
    return run


def recent(session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))


def since(session: Session, start: datetime) -> list[Run]:
    """The runs started at ``start`` or later, oldest first."""
    return list(session.exec(select(Run).where(col(Run.started_at) >= start)
                             .order_by(col(Run.started_at), col(Run.id))))
