"""Staff accounts (operators, app admins, auditors): username, roles, argon2id password, TOTP.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # The legacy `auditors` table stays (the auditor console still signs its accounts in); staff
    # secrets use the same key and associated data, so its rows can move here unchanged later.
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=False),
        sa.Column("last_totp_step", BIGINT, nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_username")),
    )
    # Sessions of the shared operator password have no account behind them: they end here.
    op.execute("DELETE FROM web_sessions WHERE role = 'operator'")


def downgrade() -> None:
    op.execute("DELETE FROM web_sessions WHERE role = 'staff'")
    op.drop_table("staff")
