"""The database: engine, models, migrations and one query module per table.

Callers write ``db.subscribers.by_email(session, ...)``.
"""

from digest_mailer.db import (
    briefings,
    deliveries,
    engine,
    entries,
    messages,
    runs,
    sources,
    subscribers,
    votes,
)

__all__ = ["briefings", "deliveries", "engine", "entries", "messages", "runs", "sources",
           "subscribers", "votes"]
