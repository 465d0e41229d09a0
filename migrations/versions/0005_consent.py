"""Consent: agency apps (OAuth clients), their purposes, and consents as records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:36:50.563317
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency_apps",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("allowed_attributes", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_uri", sa.String(length=500), nullable=True),
        sa.Column("profiles", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_agency_apps")),
    )
    op.create_table(
        "purposes",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("purpose_id", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("required_attributes", sa.JSON(), nullable=False),
        sa.Column("optional_attributes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["agency_apps.client_id"],
            name=op.f("fk_purposes_client_id_agency_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "purpose_id", name=op.f("pk_purposes")),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("purpose_id", sa.String(length=100), nullable=False),
        sa.Column("approved", sa.JSON(), nullable=False),
        sa.Column("declined", sa.JSON(), nullable=False),
        sa.Column("remembered", sa.Boolean(), nullable=False),
        sa.Column("granted_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_consents_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "purpose_id"],
            ["purposes.client_id", "purposes.purpose_id"],
            name=op.f("fk_consents_client_id_purposes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consents_citizen_app_purpose",
            ["citizen_id", "client_id", "purpose_id", "granted_at"],
            unique=False,
        )
        batch_op.create_index("ix_consents_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_expires_at")
        batch_op.drop_index("ix_consents_citizen_app_purpose")

    op.drop_table("consents")
    op.drop_table("purposes")
    op.drop_table("agency_apps")
