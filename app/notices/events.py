"""The notices use cases enqueue, in their own transactions: to the citizen, a release
(app/oauth/release.py, beside its disclosure entry), a remembered consent (the consent screen,
beside its `consent_granted` entry) and a standing consent about to end (the expiry sweep); to the
app, a change to one of its consents (withdrawn, paused, resumed, narrowed, expired), beside the
change's audit entry. Names, ids and times only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from consent.models import AgencyApp, Consent
from notifications.models import WEBHOOK
from notifications.outbox import (
    CONSENT_CHANGED,
    CONSENT_EXPIRING,
    CONSENT_REMEMBERED,
    RELEASE,
    enqueue,
    enqueue_now,
)

if TYPE_CHECKING:
    from ..oauth.release import Release


def notify_release(session: Session, release: Release, *, now: dt.datetime) -> None:
    """Enqueue the citizen's notice of `release`, in the release's transaction (written at once:
    one INSERT, no object to flush; this runs on every person call)."""
    enqueue_now(
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
    _about_consent(session, CONSENT_REMEMBERED, consent, app, now=now, at=now.isoformat())


def notify_expiring(session: Session, consent: Consent, app: AgencyApp, *, now: dt.datetime) -> None:
    """Enqueue the citizen's reminder that a standing consent ends soon."""
    _about_consent(session, CONSENT_EXPIRING, consent, app, now=now)


def _about_consent(
    session: Session, template: str, consent: Consent, app: AgencyApp, *, now: dt.datetime, **extra: str
) -> None:
    params = {
        "app_name": app.name,
        "agency": app.agency,
        "attributes": list(consent.approved),
        "consent_id": consent.id,
        "purpose_id": consent.purpose_id,
        "expires_at": consent.expires_at.isoformat(),
        **extra,
    }
    enqueue(session, citizen_id=consent.citizen_id, template=template, params=params, now=now)


def notify_app(session: Session, consent: Consent, *, state: str, now: dt.datetime) -> None:
    """Enqueue the app's event that `consent` is now `state`, if the app has a webhook (one
    primary-key read; nothing is queued for an app that would not hear it)."""
    app = session.get(AgencyApp, consent.client_id)
    if app is None or not app.webhook_url:
        return
    enqueue(
        session,
        citizen_id=consent.citizen_id,
        template=CONSENT_CHANGED,
        kind=WEBHOOK,
        params={
            "client_id": consent.client_id,
            "consent_id": consent.id,
            "purpose_id": consent.purpose_id,
            "state": state,
            "at": now.isoformat(),
        },
        now=now,
    )
