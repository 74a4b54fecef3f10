"""subscriber.cadence and subscriber.weekday: daily or weekly digests

Issue 12: a reader chooses a daily digest or a weekly one on a weekday of their choice
(0 = Monday … 6 = Sunday, Python's ``date.weekday()``). Existing subscribers stay daily
(server default); the weekday only matters to a weekly reader.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:  # SQLite: plain ADD COLUMNs
        batch.add_column(sa.Column("cadence", sa.String(), nullable=False,
                                   server_default=sa.text("'daily'")))
        batch.add_column(sa.Column("weekday", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("weekday")
        batch.drop_column("cadence")
