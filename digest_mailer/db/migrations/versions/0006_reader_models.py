"""textmodel, readermodel and delivery.notes: stored models, and why each paper was sent

Issue 10: the TF-IDF vocabulary and each reader's model are stored so a reader is fitted
again only when their signals change; a digest records each paper's score and reason and
how many papers it left out, so a retry and "view in browser" show what was sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has(table: str) -> bool:
    """A 0005 database opened by create_all code of this revision already has the tables."""
    return not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:  # SQLite: a plain ADD COLUMN
        batch.add_column(sa.Column("notes", sa.JSON(), nullable=True))
    if not _has("textmodel"):
        op.create_table(
            "textmodel",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("fitted_at", sa.DateTime(), nullable=False),
            sa.Column("n_entries", sa.Integer(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if not _has("readermodel"):
        op.create_table(
            "readermodel",
            sa.Column("subscriber_id", sa.Integer(), nullable=False),
            sa.Column("text_model_id", sa.Integer(), nullable=False),
            sa.Column("signature", sa.String(), nullable=False),
            sa.Column("fitted_at", sa.DateTime(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
            sa.ForeignKeyConstraint(["text_model_id"], ["textmodel.id"]),
            sa.PrimaryKeyConstraint("subscriber_id"),
        )
        op.create_index(op.f("ix_readermodel_text_model_id"), "readermodel",
                        ["text_model_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_readermodel_text_model_id"), table_name="readermodel")
    op.drop_table("readermodel")
    op.drop_table("textmodel")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("notes")
