"""statuschange and importdraft: a subscriber's status history; uploads awaiting confirm

Issue 12: the admin's subscriber page shows every status change (what, why, when, by what);
the browser import keeps the uploaded CSV between its dry-run preview and the confirm.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0007 database opened by create_all code of this revision already has the table."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("statuschange"):
        op.create_table(
            "statuschange",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("subscriber_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("previous", sa.String(), nullable=True),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("by", sa.String(), nullable=False),
            sa.Column("changed_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_statuschange_subscriber_id"), "statuschange",
                        ["subscriber_id"], unique=False)
    if _missing("importdraft"):
        op.create_table(
            "importdraft",
            sa.Column("token_hash", sa.String(), nullable=False),
            sa.Column("admin_session", sa.String(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        op.create_index(op.f("ix_importdraft_admin_session"), "importdraft",
                        ["admin_session"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_importdraft_admin_session"), table_name="importdraft")
    op.drop_table("importdraft")
    op.drop_index(op.f("ix_statuschange_subscriber_id"), table_name="statuschange")
    op.drop_table("statuschange")
