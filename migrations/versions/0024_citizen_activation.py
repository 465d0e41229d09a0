"""Citizen activation: activation letters (a one-time code's HMAC, expiry, wrong tries, lock),
enrolments in progress between the activation pages, and single-use recovery codes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = core.db.UTCDateTime(timezone=True)


def _citizen_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["citizen_id"], ["citizens.id"], name=op.f(f"fk_{table}_citizen_id_citizens"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "activation_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_at", WHEN, nullable=True),
        sa.Column("used_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        _citizen_fk("activation_letters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_letters")),
    )
    with op.batch_alter_table("activation_letters", schema=None) as batch_op:
        batch_op.create_index("ix_activation_letters_citizen_id", ["citizen_id"], unique=False)

    op.create_table(
        "enrolments_in_progress",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("letter_id", sa.String(length=36), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_kid", sa.String(length=64), nullable=True),
        sa.Column("totp_secret_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        _citizen_fk("enrolments_in_progress"),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["activation_letters.id"],
            name=op.f("fk_enrolments_in_progress_letter_id_activation_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments_in_progress")),
    )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        _citizen_fk("recovery_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_codes_citizen_id", ["citizen_id"], unique=False)


def downgrade() -> None:
    op.drop_table("recovery_codes")
    op.drop_table("enrolments_in_progress")
    op.drop_table("activation_letters")
