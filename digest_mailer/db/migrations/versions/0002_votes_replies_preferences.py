"""votes, replies and subscriber preferences

Commit edeb1a2: the vote and readermessage tables, and on subscriber the reader's digest
size, the soft-bounce count and why/when the status last changed. Existing subscribers get
soft_bounces 0 (server default) and NULL for the others ("the setting", "unknown").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 14:43:15
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A database made by create_all before migrations existed may hold the new tables but
    not the new columns (create_all adds tables, never columns); digest_mailer.db.migrate
    stamps it 0001, and this revision then adds only what is missing."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:  # SQLite: plain ADD COLUMNs
        batch.add_column(sa.Column("max_papers", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("soft_bounces", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))
        batch.add_column(sa.Column("status_reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(), nullable=True))

    if _missing("vote"):
        op.create_table(
            "vote",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("subscriber_id", sa.Integer(), nullable=False),
            sa.Column("entry_key", sa.String(), nullable=False),
            sa.Column("vote", sa.String(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("subscriber_id", "entry_key"),
        )
        op.create_index(op.f("ix_vote_subscriber_id"), "vote", ["subscriber_id"],
                        unique=False)

    if _missing("readermessage"):
        op.create_table(
            "readermessage",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("message_id", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("from_address", sa.String(), nullable=False),
            sa.Column("subscriber_id", sa.Integer(), nullable=True),
            sa.Column("subject", sa.String(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("detail", sa.String(), nullable=False),
            sa.Column("received_at", sa.DateTime(), nullable=True),
            sa.Column("processed_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_readermessage_message_id"), "readermessage", ["message_id"],
                        unique=True)
        op.create_index(op.f("ix_readermessage_subscriber_id"), "readermessage",
                        ["subscriber_id"], unique=False)


def downgrade() -> None:
    op.drop_table("readermessage")
    op.drop_table("vote")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("status_reason")
        batch.drop_column("soft_bounces")
        batch.drop_column("max_papers")
