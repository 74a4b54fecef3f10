"""`digest-mailer db upgrade|current`: the schema's migrations, run before any App."""

from __future__ import annotations

from digest_mailer.db.migrate import db_command


def schema_command(action: str, url: str) -> str:
    """Upgrade the schema to head, or describe where it is; what to print."""
    return db_command(action, url)
