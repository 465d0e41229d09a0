"""Verification runs started from the auditor console: state (running, done), progress, who
started them and when they finished, so a run's progress survives reloads and processes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
