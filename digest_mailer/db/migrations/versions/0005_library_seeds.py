"""libraryseed: the papers (and the statement) that say what a reader works on

Issue 10: a reader's library — BibTeX, RIS, CSV, JSONL or a list of ids — is stored as
ordered seeds, one row each, so a model can be trained from them. A seed known by id only
keeps an empty title until the paper is in the entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0004 database opened by create_all code of this revision already has the table."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _missing("libraryseed"):
        return
    op.create_table(
        "libraryseed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("arxiv_id", sa.String(), nullable=True),
        sa.Column("doi", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber_id", "position"),
    )
    op.create_index(op.f("ix_libraryseed_subscriber_id"), "libraryseed", ["subscriber_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_libraryseed_subscriber_id"), table_name="libraryseed")
    op.drop_table("libraryseed")
