"""Audit entries a test wrote itself.

The worker's database also holds entries other tests committed for real (the live server, CLI
runs on an app of their own), so "the entries of this kind" counted across the whole log depends
on which tests ran before on the same worker. A test asks for the entries past the log's head as
it was when the test began (marked by the autouse fixture in tests/conftest.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.models import AuditEntry

_head = {"seq": -1}  # seq counts from 0


def mark_head(session: Session) -> None:
    _head["seq"] = session.scalar(select(func.coalesce(func.max(AuditEntry.seq), -1)))


def written_here(session: Session, **where) -> list[AuditEntry]:
    """This test's entries, oldest first, matching `where` (kind=..., citizen_ref=...)."""
    query = select(AuditEntry).where(AuditEntry.seq > _head["seq"]).order_by(AuditEntry.seq)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(session.scalars(query))
