"""Consents: granted for all or some requested fields, remembered for a chosen period or for this
request only, revocable at any time; expiry and revocation take effect at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from core import keyset
from core.errors import NotFound, ValidationFailed

from .models import AgencyApp, Consent, Purpose

MAX_REMEMBER = dt.timedelta(days=366)
# "This request only": long enough to finish the token and person calls, then gone.
ONE_REQUEST = dt.timedelta(minutes=30)


def requested_attributes(app: AgencyApp, purpose: Purpose, asked: Iterable[str]) -> list[str]:
    """The attributes an authorisation request may ask: a subset of what the app is allowed and
    its purpose names. Raises ValidationFailed naming the offenders."""
    asked = list(dict.fromkeys(asked))
    purpose_attrs = set(purpose.required_attributes) | set(purpose.optional_attributes)
    outside = [a for a in asked if a not in app.allowed_attributes or a not in purpose_attrs]
    if not asked or outside:
        raise ValidationFailed(
            "requested attributes not allowed for this app and purpose", {"scope": outside or ["empty"]}
        )
    return asked


def grant_consent(
    session: Session,
    *,
    citizen_id: str,
    app: AgencyApp,
    purpose: Purpose,
    requested: Iterable[str],
    approved: Iterable[str],
    remember_for: dt.timedelta | None,
    now: dt.datetime,
    parts: Mapping[str, Sequence[str]] | None = None,
) -> Consent:
    """Record the citizen's decision (flushed). `approved` must be a subset of `requested` and hold
    every required attribute that was requested; `remember_for` None means this request only, at
    most 12 months otherwise. `parts` names, for attributes asked for only in part, the
    sub-attribute paths asked (and so approved with the attribute)."""
    requested, approved = list(dict.fromkeys(requested)), sorted(set(approved))
    if extra := sorted(set(approved) - set(requested)):
        raise ValidationFailed("approved attributes were not requested", {"approved": extra})
    missing = sorted(set(purpose.required_attributes) & set(requested) - set(approved))
    if missing:
        raise ValidationFailed(
            "required attributes must be approved, or the request declined", {"approved": missing}
        )
    if not approved:
        raise ValidationFailed("nothing approved: decline instead", {"approved": ["empty"]})
    if remember_for is not None and not dt.timedelta(0) < remember_for <= MAX_REMEMBER:
        raise ValidationFailed(
            "consent can be remembered for at most 12 months", {"remember": [str(remember_for)]}
        )
    consent = Consent(
        citizen_id=citizen_id,
        client_id=app.client_id,
        purpose_id=purpose.purpose_id,
        approved=approved,
        approved_parts={
            name: list(dict.fromkeys(paths)) for name, paths in (parts or {}).items() if name in approved
        }
        or None,
        declined=sorted(set(requested) - set(approved)),
        remembered=remember_for is not None,
        granted_at=now,
        expires_at=now + (remember_for or ONE_REQUEST),
    )
    session.add(consent)
    session.flush()
    return consent


def revoke_consent(session: Session, *, citizen_id: str, consent_id: str, now: dt.datetime) -> Consent:
    """Revoke one of the citizen's own consents (flushed). Idempotent; NotFound for anyone else's."""
    consent = session.get(Consent, consent_id)
    if consent is None or consent.citizen_id != citizen_id:
        raise NotFound("no such consent")
    if consent.revoked_at is None:
        consent.revoked_at = now
        session.flush()
    return consent


def remembered_consent(
    session: Session,
    *,
    citizen_id: str,
    client_id: str,
    purpose_id: str,
    requested: Iterable[str],
    now: dt.datetime,
    parts: Mapping[str, Sequence[str]] | None = None,
) -> Consent | None:
    """A remembered, active consent that already approves everything requested, if any: every
    attribute, and of one approved only in part, no more than that part (`parts` as for
    grant_consent)."""
    wanted, parts = set(requested), parts or {}
    candidates = session.scalars(
        select(Consent)
        .where(
            Consent.citizen_id == citizen_id,
            Consent.client_id == client_id,
            Consent.purpose_id == purpose_id,
            Consent.remembered.is_(True),
            Consent.revoked_at.is_(None),
            Consent.paused_at.is_(None),
            Consent.expires_at > now,
        )
        .order_by(Consent.granted_at.desc())
    )
    return next(
        (c for c in candidates if wanted <= set(c.approved) and _within_parts(c, wanted, parts)), None
    )


def _within_parts(consent: Consent, wanted: set[str], parts: Mapping[str, Sequence[str]]) -> bool:
    approved_parts = consent.approved_parts or {}
    return all(
        name in parts and set(parts[name]) <= set(approved_parts[name])
        for name in wanted
        if name in approved_parts
    )


@dataclass(frozen=True)
class ConsentPage:
    consents: list[Consent]
    next_cursor: str | None  # None on the last page


def consents_of(
    session: Session, *, citizen_id: str, cursor: str | None = None, limit: int = 20
) -> ConsentPage:
    """One page of the consents the citizen gave, newest first (the portal's consent list): every
    pre-fill leaves one, so a citizen's list grows for years. Keyset pages over the index
    (citizen_id, granted_at, id). Raises ValidationFailed (field `cursor`) for a cursor this
    service did not issue."""
    query = select(Consent).where(Consent.citizen_id == citizen_id)
    if cursor is not None:
        query = query.where(tuple_(Consent.granted_at, Consent.id) < keyset.decode_cursor(cursor, str))
    query = query.order_by(Consent.granted_at.desc(), Consent.id.desc()).limit(limit + 1)
    consents = list(session.scalars(query))
    if len(consents) <= limit:
        return ConsentPage(consents, None)
    last = consents[limit - 1]
    return ConsentPage(consents[:limit], keyset.encode_cursor(last.granted_at, last.id))


def get_active_consent(session: Session, consent_id: str, *, now: dt.datetime) -> Consent:
    """The consent a token was issued under, if still active; NotFound once revoked or expired."""
    consent = session.get(Consent, consent_id)
    if consent is None or not consent.active_at(now):
        raise NotFound("consent revoked or expired")
    return consent
