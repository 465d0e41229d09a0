"""A consent's life as the citizen reads it: Active, Paused, Used, Expired or Withdrawn; pausing
and resuming a standing consent, narrowing one (dropping an optional item), marking a "this
request only" consent used at its first release. How standing consents end (the reminder, the
expiry on the record) is consent.expiry.

Every function works in the caller's transaction and flushes; none commits. The state is derived
from the row (`revoked_at`, `expires_at`, `paused_at`, `used_at`, `remembered`), never stored on
its own, so it cannot disagree with what the token check (consent.token_grants.usable_token) does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from core import keyset
from core.errors import Conflict, NotFound, ValidationFailed

from .grant_models import AuthorizationCode, IssuedToken
from .models import Consent, Purpose

ACTIVE, PAUSED, USED, EXPIRED, WITHDRAWN = "active", "paused", "used", "expired", "withdrawn"
CURRENT = frozenset({ACTIVE, PAUSED})  # the rest are "Past" on the citizen's page


def state(consent: Consent, now: dt.datetime) -> str:
    """The consent's state at `now`: withdrawn (revoked), used (a "this request only" consent
    after its release), expired, paused (a standing consent the citizen paused), else active."""
    if consent.revoked_at is not None:
        return WITHDRAWN
    if not consent.remembered and consent.used_at is not None:
        return USED
    if now >= consent.expires_at:
        return EXPIRED
    return PAUSED if consent.paused_at is not None else ACTIVE


@dataclass(frozen=True)
class Allowed:
    """What the citizen may do with a consent now. Every page, the mail's one-tap link and the
    services below ask this, so a page never offers what its POST refuses, nor says "ended" of a
    consent its POST would change."""

    withdraw: bool
    pause: bool
    resume: bool
    narrow: bool


def allowed(consent: Consent, now: dt.datetime) -> Allowed:
    """Withdraw while any token under it could still work (active, paused, or used within its
    time: a "this request only" token lasts its 30 minutes); pause an active consent given until
    a date; resume a paused one; narrow an active or paused one given until a date."""
    current = state(consent, now)
    return Allowed(
        withdraw=consent.active_at(now),
        pause=consent.remembered and current == ACTIVE,
        resume=current == PAUSED,
        narrow=consent.remembered and current in CURRENT,
    )


def own_consent(session: Session, *, citizen_id: str, consent_id: str) -> Consent:
    """The citizen's consent, its row locked for update (two tabs acting at once act in turn);
    NotFound for an unknown one or anyone else's."""
    query = select(Consent).where(Consent.id == consent_id).with_for_update()
    consent = session.scalar(query.execution_options(populate_existing=True))
    if consent is None or consent.citizen_id != citizen_id:
        raise NotFound("no such consent")
    return consent


def pause(session: Session, consent: Consent, *, now: dt.datetime) -> bool:
    """Pause an active standing consent (flushed): its tokens are refused with invalid_token from
    the caller's commit. Returns False, changing nothing, when it is already paused. Raises
    Conflict for a "this request only" consent or one that has ended."""
    current = state(consent, now)
    if not consent.remembered:
        raise Conflict("only a consent you gave until a date can be paused")
    if current == PAUSED:
        return False
    if not allowed(consent, now).pause:
        raise Conflict("this consent has ended")
    consent.paused_at = now
    session.flush()
    return True


def resume(session: Session, consent: Consent, *, now: dt.datetime) -> bool:
    """Resume a paused consent (flushed): its unexpired tokens work again from the caller's commit.
    Returns False, changing nothing, when it was not paused. Raises Conflict once it has ended."""
    current = state(consent, now)
    if current == ACTIVE:
        return False
    if not allowed(consent, now).resume:
        raise Conflict("this consent has ended")
    consent.paused_at = None
    session.flush()
    return True


def droppable(consent: Consent, purpose: Purpose) -> list[str]:
    """What the citizen may drop from the consent: approved items the purpose lists as optional
    (a required one can only go with the whole consent, by withdrawing it)."""
    required = set(purpose.required_attributes)
    return [name for name in consent.approved if name in purpose.optional_attributes and name not in required]


def narrow(
    session: Session, consent: Consent, purpose: Purpose, *, drop: Sequence[str], now: dt.datetime
) -> list[str]:
    """Drop optional items from an active or paused standing consent (flushed): they move to
    `declined`, and the tokens and unredeemed codes issued under it lose them, so the next
    release leaves them out. Returns the items dropped. Raises ValidationFailed (field `drop`)
    naming an item that is required or not approved, and Conflict for a consent that has ended
    or is "this request only"."""
    if not consent.remembered:
        raise Conflict("a consent for one request only cannot be changed")
    if not allowed(consent, now).narrow:
        raise Conflict("this consent has ended")
    drop = list(dict.fromkeys(drop))
    optional = set(droppable(consent, purpose))
    wrong = [name for name in drop if name not in optional] if drop else ["empty"]
    if wrong:
        raise ValidationFailed("only optional items you agreed to share can be dropped", {"drop": wrong})
    if len(drop) >= len(consent.approved):
        raise ValidationFailed("withdraw the consent instead of dropping everything", {"drop": drop})
    gone = set(drop)
    consent.approved = [name for name in consent.approved if name not in gone]
    consent.declined = sorted(set(consent.declined) | gone)
    if consent.approved_parts:
        consent.approved_parts = {k: v for k, v in consent.approved_parts.items() if k not in gone} or None
    for model in (IssuedToken, AuthorizationCode):
        for row in session.scalars(select(model).where(model.consent_id == consent.id)):
            row.scope = [name for name in row.scope if name not in gone]
    session.flush()
    return drop


def mark_used(session: Session, *, consent_id: str, now: dt.datetime) -> None:
    """Record the first release under a "this request only" consent (one conditional UPDATE in the
    caller's transaction; later releases change nothing)."""
    session.execute(
        update(Consent)
        .where(Consent.id == consent_id, Consent.remembered.is_(False), Consent.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class AppConsentPage:
    consents: list[Consent]
    next_cursor: str | None  # None on the last page


def app_consents(
    session: Session,
    *,
    client_id: str,
    consent_id: str | None = None,
    token_jti: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AppConsentPage:
    """The app's own consents, newest first in keyset pages over (client_id, granted_at, id): the
    one behind its token `token_jti`, the one `consent_id`, or all. Another app's token or
    consent is simply not found (an empty page). Raises ValidationFailed (field `cursor`) for a
    cursor this service did not issue. Reads only."""
    query = select(Consent).where(Consent.client_id == client_id)
    if consent_id is not None:
        query = query.where(Consent.id == consent_id)
    if token_jti is not None:
        behind = select(IssuedToken.consent_id).where(
            IssuedToken.jti == token_jti, IssuedToken.client_id == client_id
        )
        query = query.where(Consent.id.in_(behind.scalar_subquery()))
    if cursor is not None:
        query = query.where(tuple_(Consent.granted_at, Consent.id) < keyset.decode_cursor(cursor, str))
    query = query.order_by(Consent.granted_at.desc(), Consent.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    if len(rows) <= limit:
        return AppConsentPage(rows, None)
    last = rows[limit - 1]
    return AppConsentPage(rows[:limit], keyset.encode_cursor(last.granted_at, last.id))
