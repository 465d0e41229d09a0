"""Consent expiry and app webhooks: when a standing consent's expiry reminder went out and when
its expiry was put on the record (so the sweep does each once), and an app's optional webhook URL
for consent changes.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("reminded_at", WHEN, nullable=True))
        batch.add_column(sa.Column("expiry_recorded_at", WHEN, nullable=True))
    with op.batch_alter_table("agency_apps") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agency_apps") as batch:
        batch.drop_column("webhook_url")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("expiry_recorded_at")
        batch.drop_column("reminded_at")
