"""The end of standing consents: the reminder some days before one expires, and its expiry put on
the record once it has. The sweep (app/notices/sweep.py) asks for a batch of each, acts on every
consent in the batch, marks it here and commits; a consent is reminded once and recorded expired
once, whichever process sweeps.

Only standing (remembered) consents: a "this request only" consent is used or forgotten within
minutes, and the citizen hears of its release anyway. Works in the caller's transaction; the rows
are claimed `FOR UPDATE SKIP LOCKED`, so two sweepers on PostgreSQL take different consents (on
SQLite the caller's writer transaction serialises them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Consent

REMIND_AHEAD = dt.timedelta(days=14)


def due_reminders(
    session: Session, *, now: dt.datetime, ahead: dt.timedelta = REMIND_AHEAD, limit: int = 200
) -> list[Consent]:
    """Standing consents, neither withdrawn nor paused nor reminded, that expire within `ahead`
    of `now` (and have not yet), soonest first, locked for the caller."""
    query = (
        select(Consent)
        .where(
            Consent.remembered.is_(True),
            Consent.revoked_at.is_(None),
            Consent.paused_at.is_(None),
            Consent.reminded_at.is_(None),
            Consent.expires_at > now,
            Consent.expires_at <= now + ahead,
        )
        .order_by(Consent.expires_at, Consent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def newly_expired(session: Session, *, now: dt.datetime, limit: int = 200) -> list[Consent]:
    """Standing consents that have expired, not withdrawn first, whose expiry is not yet on the
    record, oldest first, locked for the caller. A paused one expires like any other."""
    query = (
        select(Consent)
        .where(
            Consent.remembered.is_(True),
            Consent.revoked_at.is_(None),
            Consent.expiry_recorded_at.is_(None),
            Consent.expires_at <= now,
        )
        .order_by(Consent.expires_at, Consent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def mark_reminded(session: Session, consents: Sequence[Consent], *, now: dt.datetime) -> None:
    for consent in consents:
        consent.reminded_at = now
    session.flush()


def mark_expiry_recorded(session: Session, consents: Sequence[Consent], *, now: dt.datetime) -> None:
    for consent in consents:
        consent.expiry_recorded_at = now
    session.flush()
