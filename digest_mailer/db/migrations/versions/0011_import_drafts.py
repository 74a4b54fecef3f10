"""importdraft: subscriber CSV uploads awaiting the admin's confirm

Issue 12: the browser import keeps the uploaded CSV between its dry-run preview and the
confirm. (The status history the admin's subscriber page shows, statuschange, came with
the sign-up tables in 0008.)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0010 database opened by create_all code of this revision already has the table."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
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
