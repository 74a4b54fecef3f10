"""Alembic environment. digest_mailer.db.migrate builds the Config in code (no alembic.ini) and
passes an open connection in ``config.attributes["connection"]``; a bare URL in
``sqlalchemy.url`` works too, for ad-hoc use of alembic.command with migrate.config(url).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import digest_mailer.db.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kw: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        **kw,  # type: ignore[arg-type]
    )


def _run(connection: Connection) -> None:
    # SQLite cannot ALTER most things: batch mode recreates the table (copying its rows)
    # when needed, and uses a plain ALTER TABLE ADD COLUMN when that is enough.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():  # a no-op inside the caller's transaction
        context.run_migrations()


if context.is_offline_mode():  # `--sql`: print the DDL instead of running it
    url = config.get_main_option("sqlalchemy.url") or ""
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)
    with engine.connect() as conn:
        _run(conn)
