"""A citizen may withdraw a correction request.

No schema change: `correction_requests.status` is a String(16) with no CHECK constraint, so the
new value "withdrawn" (profile_store.correction_models.WITHDRAWN) fits as it is, and the request's
`updated_at` records when it was withdrawn (the audit log's `correction_withdrawn` entry too). The
agency queue's index (agency, status, created_at, id) serves `?status=withdrawn` like any other.
This revision is kept, doing nothing, so the chain stays as reserved.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # nothing to change (above)


def downgrade() -> None:
    pass  # nothing was changed; rows marked "withdrawn" stay as they are
