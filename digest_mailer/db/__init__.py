"""The database: engine, models, migrations and one query module per table.

Callers write ``db.subscribers.by_email(session, ...)``.
"""

from digest_mailer.db import (
    admin,
    briefings,
    deliveries,
    engine,
    entries,
    library,
    messages,
    rankings,
    runs,
    sources,
    statuses,
    subscribers,
    votes,
)

__all__ = ["admin", "briefings", "deliveries", "engine", "entries", "library", "messages",
           "rankings", "runs", "sources", "statuses",
           "subscribers", "votes"]
