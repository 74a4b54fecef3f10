"""source.kind: which parser reads a source

Issue 9: a source has a kind ("rss" | "atom" today, ingest.parsers.PARSERS), so a source
that is not a feed has one place to plug in. Existing sources get "rss" (server default):
feedparser reads RSS and Atom alike, and their next successful fetch records the kind the
document really is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:  # SQLite: a plain ADD COLUMN
        batch.add_column(sa.Column("kind", sa.String(), nullable=False,
                                   server_default=sa.text("'rss'")))


def downgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("kind")
