"""admin sessions, login throttle, and an index on delivery.message_id

Issue 8: the admin cookie becomes a random token whose hash is a row in adminsession
(revoked at logout, with an expiry); failed logins are counted per client address and for
the account in loginthrottle, shared by every web process. Bounces are matched to our
deliveries by Message-ID, hence the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0002 database later opened by create_all code of this revision already holds the
    new tables (create_all adds tables and their indexes, never an index on an existing
    table): add only what is missing, as 0002 does."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def _index_missing(table: str, name: str) -> bool:
    if context.is_offline_mode():
        return True
    return name not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    if _missing("adminsession"):
        op.create_table(
            "adminsession",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sa.String(), nullable=False),
            sa.Column("password_hash", sa.String(), nullable=False),
            sa.Column("client", sa.String(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_adminsession_token_hash"), "adminsession", ["token_hash"],
                        unique=True)
        op.create_index(op.f("ix_adminsession_expires_at"), "adminsession", ["expires_at"],
                        unique=False)

    if _missing("loginthrottle"):
        op.create_table(
            "loginthrottle",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("last_failure_at", sa.DateTime(), nullable=True),
            sa.Column("blocked_until", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("key"),
        )

    if _index_missing("delivery", "ix_delivery_message_id"):
        op.create_index(op.f("ix_delivery_message_id"), "delivery", ["message_id"],
                        unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_message_id"), table_name="delivery")
    op.drop_table("loginthrottle")
    op.drop_table("adminsession")
