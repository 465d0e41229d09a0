"""Citizens' reports that a release in their history was not them ("This wasn't me"), queued for
auditors, who move each through open → investigating → closed, giving a reason each time.

A report names the audit entry it is about (`seq`) and the citizen (their id; the entry itself
carries only their keyed digest). The note is the citizen's own words, kept here and never copied
into the append-only log, so that it can be corrected or erased; the log records that a report was
made and each change of state (kinds `disclosure_reported`, `disclosure_report_updated`).

Every function works in the caller's transaction and flushes; none commits.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import keyset
from core.db import Base, UTCDateTime
from core.errors import Conflict, NotFound, ValidationFailed

from .models import AuditEntry

OPEN, INVESTIGATING, CLOSED = "open", "investigating", "closed"
STATES = (OPEN, INVESTIGATING, CLOSED)
# What a citizen can say was not them: something about them went somewhere.
REPORTABLE_KINDS = frozenset({"disclosure", "staff_lookup", "staff_reveal"})
NOTE_MAX = 1000
REASON_MAX = 500
BIGINT = BigInteger().with_variant(Integer, "sqlite")


class DisclosureReport(Base):
    __tablename__ = "disclosure_reports"
    __table_args__ = (
        Index("ix_disclosure_reports_state_created", "state", "created_at", "id"),
        Index("ix_disclosure_reports_created", "created_at", "id"),
        Index("ix_disclosure_reports_citizen_seq", "citizen_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BIGINT)  # the audit entry reported
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def reportable_entry(session: Session, *, seq: int, citizen_ref: str) -> AuditEntry:
    """The citizen's own entry `seq` of a kind they can report; NotFound otherwise (another
    citizen's, a number past the log, a consent decision)."""
    entry = session.get(AuditEntry, seq)
    if entry is None or entry.citizen_ref != citizen_ref or entry.kind not in REPORTABLE_KINDS:
        raise NotFound("You have no record with this number.")
    return entry


def file_report(
    session: Session, *, citizen_id: str, citizen_ref: str, seq: int, note: str | None, now: dt.datetime
) -> DisclosureReport:
    """Queue a report about the citizen's entry `seq` (flushed), state open. Raises NotFound as
    reportable_entry does, and ValidationFailed (field `note`) for a note over NOTE_MAX."""
    reportable_entry(session, seq=seq, citizen_ref=citizen_ref)
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed("note too long", {"note": [f"at most {NOTE_MAX} characters"]})
    report = DisclosureReport(
        citizen_id=citizen_id, seq=seq, note=note, state=OPEN, created_at=now, updated_at=now
    )
    session.add(report)
    session.flush()
    return report


def move_report(session: Session, *, report_id: str, state: str, now: dt.datetime) -> DisclosureReport:
    """Move a report to `state` (flushed). Raises NotFound for an unknown report,
    ValidationFailed (field `state`) for an unknown state, Conflict when it is already there."""
    if state not in STATES:
        raise ValidationFailed("unknown state", {"state": [state]})
    query = select(DisclosureReport).where(DisclosureReport.id == report_id).with_for_update()
    report = session.scalar(query.execution_options(populate_existing=True))
    if report is None:
        raise NotFound("no such report")
    if report.state == state:
        raise Conflict(f"the report is already {state}")
    report.state, report.updated_at = state, now
    session.flush()
    return report


def get_report(session: Session, report_id: str) -> DisclosureReport:
    report = session.get(DisclosureReport, report_id)
    if report is None:
        raise NotFound("no such report")
    return report


def reports_queue(
    session: Session, *, state: str | None = None, cursor: str | None = None, limit: int = 25
) -> tuple[list[DisclosureReport], str | None]:
    """One page of reports, oldest first (a queue), of one state or all; and the next page's
    cursor, None on the last. Raises ValidationFailed (field `cursor`) for a foreign cursor."""
    query = select(DisclosureReport)
    if state is not None:
        query = query.where(DisclosureReport.state == state)
    if cursor is not None:
        after = keyset.decode_cursor(cursor, str)
        query = query.where(tuple_(DisclosureReport.created_at, DisclosureReport.id) > after)
    query = query.order_by(DisclosureReport.created_at, DisclosureReport.id).limit(limit + 1)
    rows = list(session.scalars(query))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], keyset.encode_cursor(last.created_at, last.id)
