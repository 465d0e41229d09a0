"""The table of correction requests: a citizen saying a government-verified value is wrong.

One row per request, routed to the agency that holds the value. What the citizen wrote (what is
wrong, the correct value, an optional note) is one JSON ciphertext under the citizen's own data key,
with the request's id as associated data, so it lives, rotates and dies with the rest of their
record. The agency's reason for a rejection is the agency's words, stored as sent (never logged).

`submission` is a random token the form carried: the same form posted twice (a double click, a
reload) finds the request it already made instead of filing a second one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

SENT, ACKNOWLEDGED, CORRECTED, REJECTED = "sent", "acknowledged", "corrected", "rejected"
WITHDRAWN = "withdrawn"  # by the citizen, before the agency answered (migration 0031: no schema change)
STATUSES = (SENT, ACKNOWLEDGED, CORRECTED, REJECTED, WITHDRAWN)


class CorrectionRequest(Base):
    __tablename__ = "correction_requests"
    __table_args__ = (
        UniqueConstraint("citizen_id", "submission", name="uq_correction_requests_submission"),
        # The citizen's list (newest first) and an agency's queue (oldest first, by status).
        Index("ix_correction_requests_citizen", "citizen_id", "created_at"),
        Index("ix_correction_requests_agency_status", "agency", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    agency: Mapped[str] = mapped_column(String(32))
    attribute: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    submission: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
