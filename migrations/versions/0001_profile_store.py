"""Profile store: citizens, profile fields with provenance, declarations, history, agency syncs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:31:44.420086
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("uinfin_digest", sa.String(length=64), nullable=False),
        sa.Column("uinfin_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("dek_kid", sa.String(length=64), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("uinfin_digest", name=op.f("uq_citizens_uinfin_digest")),
    )
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizens_dek_kid"), ["dek_kid"], unique=False)

    op.create_table(
        "agency_syncs",
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("attempted_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_agency_syncs_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", "agency", name=op.f("pk_agency_syncs")),
    )
    op.create_table(
        "declarations",
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("declared_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_declarations_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", "attribute", name=op.f("pk_declarations")),
    )
    op.create_table(
        "field_versions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=1), nullable=False),
        sa.Column("lastupdated", sa.Date(), nullable=True),
        sa.Column("unavailable", sa.Boolean(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_field_versions_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_versions")),
    )
    with op.batch_alter_table("field_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_field_versions_lookup", ["citizen_id", "attribute", "origin", "version"], unique=False
        )

    op.create_table(
        "profile_fields",
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=1), nullable=False),
        sa.Column("classification", sa.String(length=1), nullable=False),
        sa.Column("lastupdated", sa.Date(), nullable=True),
        sa.Column("unavailable", sa.Boolean(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fetched_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_profile_fields_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", "attribute", name=op.f("pk_profile_fields")),
    )


def downgrade() -> None:
    op.drop_table("profile_fields")
    with op.batch_alter_table("field_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_field_versions_lookup")

    op.drop_table("field_versions")
    op.drop_table("declarations")
    op.drop_table("agency_syncs")
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizens_dek_kid"))

    op.drop_table("citizens")
