"""Writing notices and preferences, inside the caller's transaction.

`enqueue` is called in the transaction that records the event (a release's disclosure entry, a
remembered consent's `consent_granted` entry), so the event and its notice commit or roll back
together: a release without its notice cannot happen. It is one INSERT and reads nothing: the
citizen's preferences are applied by the worker at send time (notifications.worker). The same
outbox carries an app's notices of its consents' changes to its webhook (kind WEBHOOK), so a
withdrawal and the app's notice of it commit together too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.driver_sql import DriverStatement
from core.errors import ValidationFailed

from .models import DIGEST, EMAIL, IMMEDIATE, LANGUAGES, OFF, WEBHOOK, NotificationPreference, Outbox

RELEASE, CONSENT_REMEMBERED, CONSENT_EXPIRING = "release", "consent_remembered", "consent_expiring"
CONSENT_CHANGED = "consent_changed"  # to the app's webhook (kind WEBHOOK), not to the citizen
TEMPLATES = {EMAIL: (RELEASE, CONSENT_REMEMBERED, CONSENT_EXPIRING), WEBHOOK: (CONSENT_CHANGED,)}
MODES = (IMMEDIATE, DIGEST, OFF)
_PARAM_KEYS = {
    "app_name",
    "agency",
    "attributes",
    "consent_id",
    "purpose_id",
    "at",
    "expires_at",
    "client_id",
    "state",
}


def enqueue(
    session: Session,
    *,
    citizen_id: str,
    template: str,
    params: Mapping[str, Any],
    now: dt.datetime,
    kind: str = EMAIL,
) -> Outbox:
    """Add one notice for `citizen_id` (flushed with the caller's next flush, never committed).
    `params` may hold only the known keys (names, ids, times: no personal values; the address is
    looked up when sending). Raises ValidationFailed for an unknown template or parameter."""
    notice = Outbox(**_row(citizen_id=citizen_id, template=template, params=params, now=now, kind=kind))
    session.add(notice)
    return notice


def enqueue_now(
    session: Session, *, citizen_id: str, template: str, params: Mapping[str, Any], now: dt.datetime
) -> None:
    """`enqueue` of an email notice, written at once by one INSERT on the session's connection (in
    its transaction) instead of an object for the unit of work: a release enqueues one on every
    person call, where the flush's bookkeeping cost more than the INSERT. Same checks."""
    row = _row(citizen_id=citizen_id, template=template, params=params, now=now, kind=EMAIL)
    _INSERT.rows(session.connection(), row)


_INSERT = DriverStatement(insert(Outbox.__table__))


def _row(
    *, citizen_id: str, template: str, params: Mapping[str, Any], now: dt.datetime, kind: str
) -> dict[str, Any]:
    if template not in TEMPLATES.get(kind, ()):
        raise ValidationFailed("unknown notice template", {"template": [template]})
    if extra := sorted(set(params) - _PARAM_KEYS):
        raise ValidationFailed("unknown notice parameters", {"params": extra})
    return {
        "kind": kind,
        "citizen_id": citizen_id,
        "template": template,
        "params": dict(params),
        "created_at": now,
        "due_at": now,
        "attempts": 0,
        "state": "pending",
    }


def preferences_of(session: Session, citizen_id: str) -> NotificationPreference:
    """The citizen's preferences; the defaults (at once, own releases included) when never set.
    Reads only; the default object is not added to the session."""
    found = session.get(NotificationPreference, citizen_id)
    if found is not None:
        return found
    return NotificationPreference(citizen_id=citizen_id, mode=IMMEDIATE, skip_own_recent=False, language=None)


def set_preferences(
    session: Session, *, citizen_id: str, mode: str, skip_own_recent: bool, now: dt.datetime
) -> NotificationPreference:
    """Store the citizen's choice (flushed). Raises ValidationFailed for an unknown mode. Applies
    to notices sent from now on, including those already waiting in the outbox."""
    if mode not in MODES:
        raise ValidationFailed("choose how to get notices", {"mode": [mode]})
    found = _row_of(session, citizen_id)
    found.mode, found.skip_own_recent, found.updated_at = mode, skip_own_recent, now
    session.flush()
    return found


def set_language(
    session: Session, *, citizen_id: str, language: str, now: dt.datetime, only_if_unset: bool = False
) -> bool:
    """Store the language the citizen's notices are written in (flushed), from notices sent now
    on, those already waiting included. `only_if_unset` keeps a language chosen before (a sign-in
    adopting the browser's choice must not overrule the citizen's own). Returns whether anything
    changed. Raises ValidationFailed for a language notices are not written in."""
    if language not in LANGUAGES:
        raise ValidationFailed("choose a language", {"language": [language]})
    found = session.get(NotificationPreference, citizen_id)
    if found is not None and (found.language == language or (only_if_unset and found.language)):
        return False
    found = found or _row_of(session, citizen_id)
    found.language, found.updated_at = language, now
    session.flush()
    return True


def _row_of(session: Session, citizen_id: str) -> NotificationPreference:
    """The citizen's row, added with the defaults when there is none yet."""
    found = session.get(NotificationPreference, citizen_id)
    if found is None:
        found = NotificationPreference(citizen_id=citizen_id, mode=IMMEDIATE, skip_own_recent=False)
        session.add(found)
    return found
