"""Platform keys (our JOSE keys, private halves wrapped by the master keyring) and the replay cache
of seen token ids (DPoP proofs, client assertions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:57:33.561095
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("use", sa.String(length=8), nullable=False),
        sa.Column("alg", sa.String(length=32), nullable=False),
        sa.Column("wrapping_kid", sa.String(length=64), nullable=False),
        sa.Column("private_jwk_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retire_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_platform_keys")),
    )
    with op.batch_alter_table("platform_keys", schema=None) as batch_op:
        batch_op.create_index("ix_platform_keys_use_activated_at", ["use", "activated_at"], unique=False)

    op.create_table(
        "replay_jtis",
        sa.Column("namespace", sa.String(length=150), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "jti", name=op.f("pk_replay_jtis")),
    )
    with op.batch_alter_table("replay_jtis", schema=None) as batch_op:
        batch_op.create_index("ix_replay_jtis_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replay_jtis", schema=None) as batch_op:
        batch_op.drop_index("ix_replay_jtis_expires_at")
    op.drop_table("replay_jtis")

    with op.batch_alter_table("platform_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_platform_keys_use_activated_at")
    op.drop_table("platform_keys")
