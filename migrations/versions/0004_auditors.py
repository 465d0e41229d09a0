"""Auditors (username, argon2id password hash, encrypted TOTP secret, last used TOTP step) and the
results of whole-log verification runs. Ordinary mutable tables, no append-only triggers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:36:19.595112
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_verifications",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("ran_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entries", BIGINT, nullable=False),
        sa.Column("checkpoints", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_verifications_ran_at"), ["ran_at"], unique=False)

    op.create_table(
        "auditors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=False),
        sa.Column("last_totp_step", BIGINT, nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditors")),
        sa.UniqueConstraint("username", name=op.f("uq_auditors_username")),
    )


def downgrade() -> None:
    op.drop_table("auditors")
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_verifications_ran_at"))
    op.drop_table("audit_verifications")
