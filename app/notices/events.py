"""The notices two use cases enqueue, in their own transactions: a release (app/oauth/release.py,
beside its disclosure entry) and a remembered consent (the consent screen, beside its
`consent_granted` entry). One INSERT each, reading nothing: names, ids and times only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from consent.models import AgencyApp, Consent
from notifications.outbox import CONSENT_REMEMBERED, RELEASE, enqueue

if TYPE_CHECKING:
    from ..oauth.release import Release


def notify_release(session: Session, release: Release, *, now: dt.datetime) -> None:
    """Enqueue the citizen's notice of `release`, in the release's transaction."""
    enqueue(
        session,
        citizen_id=release.citizen.id,
        template=RELEASE,
        params={
            "app_name": release.app.name,
            "agency": release.app.agency,
            "attributes": sorted(release.attributes),
            "consent_id": release.consent_id,
            "purpose_id": release.purpose_id,
            "at": now.isoformat(),
        },
        now=now,
    )


def notify_remembered(session: Session, consent: Consent, app: AgencyApp, *, now: dt.datetime) -> None:
    """Enqueue the citizen's notice of a consent remembered for later requests, in the
    transaction that records it."""
    enqueue(
        session,
        citizen_id=consent.citizen_id,
        template=CONSENT_REMEMBERED,
        params={
            "app_name": app.name,
            "agency": app.agency,
            "attributes": list(consent.approved),
            "consent_id": consent.id,
            "purpose_id": consent.purpose_id,
            "at": now.isoformat(),
            "expires_at": consent.expires_at.isoformat(),
        },
        now=now,
    )
