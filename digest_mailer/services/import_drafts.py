"""The browser import in two steps, as the CLI's ``--dry-run`` then the import itself.

An upload is planned (a dry run: nothing written) and its bytes kept in the database under
the SHA-256 of a random token, bound to the admin session that uploaded it; the preview page
holds only the token. Confirming runs the real import on those same bytes: all or nothing
unless the admin chose to import the good rows. A draft lives ``DRAFT_MAX_AGE``; a session
has one at a time (a new upload replaces it).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.services.import_report import ImportReport
from digest_mailer.services.subscribers import SubscriberService

DRAFT_MAX_AGE = timedelta(hours=1)
MAX_TOKEN_CHARS = 64  # ours are 32; longer input is not even hashed


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ImportDrafts:
    """Preview an upload, keep it, and import it when the admin confirms."""

    def __init__(self, engine: Engine, subscribers: SubscriberService,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.subscribers = subscribers
        self.clock = clock

    def preview(self, admin_session: str, data: bytes) -> tuple[str | None, ImportReport]:
        """Plan the import of ``data`` (nothing written) and keep it for the confirm; the
        token naming it (None when the file itself is unusable: nothing to confirm)."""
        report = self.subscribers.import_csv(data, dry_run=True, skip_invalid=False)
        now = self.clock()
        with Session(self.engine) as session:
            db.statuses.drop_stale_drafts(session, admin_session, now - DRAFT_MAX_AGE)
            token = None
            if not report.fatal:  # a usable file: keep it for the confirm
                token = secrets.token_urlsafe(24)
                db.statuses.add_draft(session, _hash(token), admin_session, data, now)
            session.commit()
        return token, report

    def confirm(self, admin_session: str, token: str, *, good_rows: bool
                ) -> ImportReport | None:
        """Import the kept upload: refused (nothing written) if any row is bad, unless
        ``good_rows``. None when the token names no live draft of this session. A refused
        import keeps the draft, so the admin can still choose the good rows."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        # The draft is taken in the import's own transaction: a double click or a replayed
        # confirm finds it gone and imports nothing twice; a refused import rolls back and
        # keeps it.
        with Session(self.engine) as session:
            data = db.statuses.take_draft(session, _hash(token), admin_session,
                                          self.clock() - DRAFT_MAX_AGE)
            if data is None:
                return None
            report = self.subscribers.import_csv(data, skip_invalid=good_rows, session=session)
            if not report.written:
                session.rollback()
        return report


__all__ = ["DRAFT_MAX_AGE", "ImportDrafts"]
