"""arxivlookup: when each arXiv id was last asked of the arXiv API, and the answer's fate

Issue 10: an id-only library seed gets its title and abstract from the arXiv API when
DIGEST_ARXIV_API_URL is set; this table keeps an id from being asked again within a day and
records why an answer was refused.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0005 or 0006 database opened by create_all code of this revision already has it."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _missing("arxivlookup"):
        return
    op.create_table(
        "arxivlookup",
        sa.Column("arxiv_id", sa.String(), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("arxiv_id"),
    )


def downgrade() -> None:
    op.drop_table("arxivlookup")
