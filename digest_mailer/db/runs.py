"""Queries on the runs (one row per ingest or send run, with its counts). The caller commits."""

from __future__ import annotations

from sqlmodel import Session, col, select

from digest_mailer.db.models import Run, utcnow


def save(session: Session, run: Run) -> Run:
    run.finished_at = utcnow()
    session.add(run)
    return run


def recent(session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))
