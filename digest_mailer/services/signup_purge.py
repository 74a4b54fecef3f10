"""The daily purge of what sign-ups leave behind: a stranger's address and profile in a
request nobody confirmed, and request counts whose hour is over.

Run from the worker's tick (and ``digest-mailer tick``) but at most once a day, whichever
process ticks first: a count row in the database is the day's gate. Every delete is by
age, so running it again deletes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.domain.signup import SIGNED_UP, Limits
from digest_mailer.services.signup import FORGET, WINDOW, unconfirmed_before

log = logging.getLogger(__name__)

GATE = "purge:signups"  # its count row: the last purge's day
EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    """Rows deleted by one purge."""

    requests: int  # sign-up rows: limits' memory over, or unconfirmed and long expired
    subscribers: int  # pending subscribers nobody confirmed (and their one history line)
    counts: int  # request counts whose window is over


class SignupPurge:
    def __init__(self, engine: Engine, limits: Limits, clock: Callable[[], datetime]) -> None:
        self.engine, self.limits, self.clock = engine, limits, clock

    def run(self) -> Purged | None:
        """Purge, if a day has passed since the last purge; None when it has not."""
        now = self.clock()
        with Session(self.engine) as session:
            conn = session.connection()
            # First statement, a write: two ticks at once decide one after the other.
            if db.signups.count(conn, GATE, now, now - EVERY, forget_others=False) != 1:
                session.rollback()  # purged within the day: leave the gate as it was
                return None
            expired = unconfirmed_before(now, self.limits)
            requests = db.signups.forget_before(session, now - FORGET, expired)
            ids = db.signups.abandoned(session, SIGNED_UP, expired)
            db.signups.drop_subscribers(session, ids)
            counts = db.signups.forget_counts(conn, now - WINDOW, keep=GATE)
            session.commit()
        purged = Purged(requests, len(ids), counts)
        log.info("sign-up purge: %d requests, %d unconfirmed subscribers, %d request counts "
                 "deleted", purged.requests, purged.subscribers, purged.counts)
        return purged
