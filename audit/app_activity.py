"""What one agency app has been doing lately, read from the audit log: releases of citizens' data
in the last 24 hours and 7 days, the requests refused (by error), and the share refused.

The log records an app's answered requests as `disclosure` entries (outcome `released`) and its
refused ones as entries with the app's id and a refusing outcome: `consent_declined` (the
citizen said no: OAuth `access_denied`), or any entry whose outcome is `refused` or `denied`,
named by the `error` its details carry. The error rate is refused / (released + refused) over a
window; None when the app had no requests.

Reads only, inside the caller's transaction. Counts come from the (app_id, recorded_at) index;
only refused entries' bodies are parsed, for their error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import AuditEntry

WINDOWS = {"24 hours": dt.timedelta(hours=24), "7 days": dt.timedelta(days=7)}
RELEASED = ("released", "partial")
REFUSING = ("declined", "refused", "denied")
# The error each refusing entry stands for, when its details do not name one.
DEFAULT_ERROR = {"consent_declined": "access_denied"}
MAX_REFUSALS_READ = 10_000  # a week's refusals of one app; beyond it the count is still right


@dataclass(frozen=True)
class Window:
    label: str
    since: dt.datetime
    released: int
    refused: int
    errors: list[tuple[str, int]]  # (error, count), most frequent first

    @property
    def error_rate(self) -> float | None:
        total = self.released + self.refused
        return self.refused / total if total else None


def app_activity(session: Session, *, app_id: str, now: dt.datetime) -> list[Window]:
    """The app's releases and refusals over each of WINDOWS ending at `now`, shortest first."""
    return [_window(session, app_id, label, now - length) for label, length in WINDOWS.items()]


def _window(session: Session, app_id: str, label: str, since: dt.datetime) -> Window:
    recent = (AuditEntry.app_id == app_id, AuditEntry.recorded_at >= since)
    released = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(*recent, AuditEntry.kind == "disclosure", AuditEntry.outcome.in_(RELEASED))
    )
    refusing = or_(AuditEntry.kind == "consent_declined", AuditEntry.outcome.in_(REFUSING))
    refused = session.scalar(select(func.count()).select_from(AuditEntry).where(*recent, refusing))
    errors: Counter[str] = Counter()
    rows = session.execute(
        select(AuditEntry.kind, AuditEntry.body)
        .where(*recent, refusing)
        .order_by(AuditEntry.recorded_at.desc(), AuditEntry.seq.desc())
        .limit(MAX_REFUSALS_READ)
    )
    for kind, body in rows:
        errors[_error_of(kind, body)] += 1
    return Window(label, since, released or 0, refused or 0, errors.most_common())


def _error_of(kind: str, body: str) -> str:
    details = json.loads(body).get("details") or {}
    error = details.get("error") if isinstance(details, dict) else None
    if isinstance(error, str) and error:
        return error[:64]
    return DEFAULT_ERROR.get(kind, kind)
