"""Searching the log (auditors) and a citizen's own access history, newest first, with keyset
pagination on (recorded_at, seq) so page N costs what page 1 costs at any size."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, exists, select, tuple_
from sqlalchemy.orm import Session

from core import keyset
from core.errors import ValidationFailed

from .models import AuditEntry, AuditEntryAttribute

MAX_PAGE = 200
DISCLOSURE_KINDS = (
    "disclosure",
    "consent_granted",
    "consent_declined",
    "consent_revoked",
    "consent_expired",
    "staff_lookup",
    "staff_reveal",
)


@dataclass(frozen=True)
class Filters:
    citizen_ref: str | None = None
    app_id: str | None = None
    attribute: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    kinds: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None  # "staff:<id>", "auditor:<id>", "citizen" or "app" (display.actor_of)


@dataclass
class Page:
    entries: list[AuditEntry] = field(default_factory=list)
    next_cursor: str | None = None

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(e.body) for e in self.entries]


def search(session: Session, filters: Filters, *, cursor: str | None = None, limit: int = 50) -> Page:
    """One page of entries matching every given filter, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed("page size out of range", {"limit": [f"between 1 and {MAX_PAGE}"]})
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.citizen_ref, filters.citizen_ref),
        (AuditEntry.app_id, filters.app_id),
        (AuditEntry.purpose, filters.purpose),
        (AuditEntry.outcome, filters.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.kinds:
        query = query.where(AuditEntry.kind.in_(filters.kinds))
    if filters.attribute is not None:
        query = query.where(
            exists().where(
                AuditEntryAttribute.seq == AuditEntry.seq, AuditEntryAttribute.attribute == filters.attribute
            )
        )
    if filters.since is not None:
        query = query.where(AuditEntry.recorded_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.recorded_at < filters.until)
    if filters.actor is not None:
        query = query.where(_acted_by(filters.actor))
    if cursor is not None:
        after = keyset.decode_cursor(cursor, int)
        query = query.where(tuple_(AuditEntry.recorded_at, AuditEntry.seq) < after)
    rows = list(
        session.scalars(query.order_by(AuditEntry.recorded_at.desc(), AuditEntry.seq.desc()).limit(limit + 1))
    )
    page = Page(rows[:limit])
    if len(rows) > limit:
        page.next_cursor = keyset.encode_cursor(rows[limit - 1].recorded_at, rows[limit - 1].seq)
    return page


def _acted_by(actor: str) -> ColumnElement[bool]:
    """Entries whose actor is `actor`. The actor lives only in the canonical body (RFC 8785: no
    spaces), so it is matched there, within what the other filters and the index select: an
    actor filter alone scans the period. "app" is a release to an app; "citizen" a consent
    decision or an action the details say the citizen took."""
    if actor == "app":
        return (AuditEntry.kind == "disclosure") & AuditEntry.app_id.is_not(None)
    if actor == "citizen":
        return AuditEntry.kind.in_(("consent_granted", "consent_declined")) | AuditEntry.body.contains(
            '"by":"citizen"', autoescape=True
        )
    return AuditEntry.body.contains(f'"actor":{json.dumps(actor)}', autoescape=True)


def citizen_history(
    session: Session, *, citizen_ref: str, cursor: str | None = None, limit: int = 20
) -> Page:
    """What was released about this citizen, to whom and why, and their consent decisions."""
    return search(
        session, Filters(citizen_ref=citizen_ref, kinds=DISCLOSURE_KINDS), cursor=cursor, limit=limit
    )
