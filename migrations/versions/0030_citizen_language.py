"""A citizen's chosen language, for the mails the worker sends them.

A nullable `language` column on `notification_preferences` (a Babel locale id, "en" or
"zh_Hans_SG"; NULL: never chosen, so mails use the platform's default, English). It belongs there
rather than on `citizens`: the only server-side reader is the outbox worker, which already reads
this row for every notice it plans (mode, own-recent), so the language costs no extra query or
join; the portal's own language stays the browser's cookie. `citizens` is the identity record
(pseudonymous id, encrypted national id) and stays free of preferences; the row goes with the
citizen (ON DELETE CASCADE) like the other preferences.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_preferences") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_preferences") as batch:
        batch.drop_column("language")
