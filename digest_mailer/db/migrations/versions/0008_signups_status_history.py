"""signup, statuschange and ratecount: sign-up with double opt-in

Issue 12: readers sign themselves up on the public page. A sign-up request and the email
it sent are a row of signup (the confirmation link names it); a new address waits as a
subscriber with status "pending" (status is a plain string: no column changes). Every
status change is recorded in statuschange (what made it: sign-up, one-click, reply, bounce,
import, admin); ratecount counts sign-ups per
client address, shared by every web process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(table: str) -> bool:
    """A 0007 database opened by create_all code of this revision already has it."""
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("signup"):
        op.create_table(
            "signup",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("public_id", sa.String(), nullable=False),
            sa.Column("email", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("profile", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("confirmed_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("public_id"),
        )
        op.create_index(op.f("ix_signup_email"), "signup", ["email"], unique=False)
        op.create_index(op.f("ix_signup_created_at"), "signup", ["created_at"], unique=False)
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
    if _missing("ratecount"):
        op.create_table(
            "ratecount",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("window_start", sa.DateTime(), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("key"),
        )


def downgrade() -> None:
    op.drop_table("ratecount")
    op.drop_index(op.f("ix_statuschange_subscriber_id"), table_name="statuschange")
    op.drop_table("statuschange")
    op.drop_index(op.f("ix_signup_created_at"), table_name="signup")
    op.drop_index(op.f("ix_signup_email"), table_name="signup")
    op.drop_table("signup")
