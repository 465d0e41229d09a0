"""The authorisation-code grant as records: pending authorisation requests, single-use codes
(stored as digests) and the access tokens issued from them (revocable by jti).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorization_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("purpose_id", sa.String(length=100), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("subentity", sa.String(length=100), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["agency_apps.client_id"],
            name=op.f("fk_authorization_requests_client_id_agency_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_requests")),
    )
    with op.batch_alter_table("authorization_requests", schema=None) as batch_op:
        batch_op.create_index("ix_authorization_requests_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("purpose_id", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("subentity", sa.String(length=100), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_authorization_codes_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["agency_apps.client_id"],
            name=op.f("fk_authorization_codes_client_id_agency_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_authorization_codes_consent_id_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_codes")),
    )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.create_index("ix_authorization_codes_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_authorization_codes_consent_id"), ["consent_id"], unique=False)

    op.create_table(
        "issued_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("jkt", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("issued_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_issued_tokens_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["code_hash"],
            ["authorization_codes.code_hash"],
            name=op.f("fk_issued_tokens_code_hash_authorization_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_issued_tokens_consent_id_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_issued_tokens")),
    )
    with op.batch_alter_table("issued_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_issued_tokens_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_tokens_code_hash"), ["code_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_tokens_consent_id"), ["consent_id"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        (
            "issued_tokens",
            ("ix_issued_tokens_consent_id", "ix_issued_tokens_code_hash", "ix_issued_tokens_expires_at"),
        ),
        ("authorization_codes", ("ix_authorization_codes_consent_id", "ix_authorization_codes_expires_at")),
        ("authorization_requests", ("ix_authorization_requests_expires_at",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
