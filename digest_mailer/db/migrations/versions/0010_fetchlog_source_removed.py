"""fetchlog and source.removed_at: each source's health history, and removal as a tombstone

Issue 12: admins add, disable and remove sources from the browser and the CLI. A removed
source keeps its row (its entries, named by past deliveries, point at it) with removed_at
set; fetchlog keeps the last fetches of each source (time, HTTP status, error, items).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has(table: str) -> bool:
    """A 0007 database opened by create_all code of this revision already has fetchlog."""
    return not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:  # SQLite: a plain ADD COLUMN
        batch.add_column(sa.Column("removed_at", sa.DateTime(), nullable=True))
    if _has("fetchlog"):
        return
    op.create_table(
        "fetchlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("entries_new", sa.Integer(), nullable=False),
        sa.Column("not_modified", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_fetchlog_source_id"), "fetchlog", ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_fetchlog_source_id"), table_name="fetchlog")
    op.drop_table("fetchlog")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("removed_at")
