"""source.public_only: a source named from a browser is fetched at public addresses only

Issue 12 (review): the browser's test fetch and "fetch now" were guarded, the worker's
scheduled fetches of the same source were not, so a host that passed the add check could
point its name at 127.0.0.1 or 169.254.169.254 afterwards. Existing sources were all
named at a shell or before the browser could add any: they stay unguarded (server default).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:  # SQLite: a plain ADD COLUMN
        batch.add_column(sa.Column("public_only", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("public_only")
