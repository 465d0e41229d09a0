"""The expiry sweep, run by the notices worker each round: a reminder to the citizen 14 days before
a standing consent ends, and, once it has ended, its expiry on the record (`consent_expired`,
which yields the citizen's receipt) with the app's event. Each in one transaction per batch, so
a reminder and its mark, or an expiry entry and its mark, commit together; several workers take
different consents (consent.expiry locks them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from audit.log import Event
from consent.expiry import due_reminders, mark_expiry_recorded, mark_reminded, newly_expired
from consent.models import AgencyApp
from profile_store.models import Citizen

from ..auditing import record
from ..extensions import Runtime
from .events import notify_app, notify_expiring


@dataclass(frozen=True)
class Swept:
    reminded: int
    expired: int


def sweep(rt: Runtime, *, now: dt.datetime, batch: int = 200) -> Swept:
    """One batch of each; call again while a count comes back equal to `batch`. Needs an app
    context (the audit append reads the runtime)."""
    with rt.writer_sessions() as session:
        due = due_reminders(session, now=now, limit=batch)
        for consent in due:  # few apps: the identity map reads each once
            notify_expiring(session, consent, session.get(AgencyApp, consent.client_id), now=now)
        mark_reminded(session, due, now=now)
        session.commit()
    with rt.writer_sessions() as session:
        ended = newly_expired(session, now=now, limit=batch)
        for consent in ended:
            citizen = session.get(Citizen, consent.citizen_id)
            record(
                session,
                Event(
                    kind="consent_expired",
                    citizen_ref=citizen.uinfin_digest if citizen else None,
                    app_id=consent.client_id,
                    purpose=consent.purpose_id,
                    outcome="expired",
                    attributes=tuple(consent.approved),
                    details={"consent_id": consent.id, "expired_at": consent.expires_at.isoformat()},
                ),
            )
            notify_app(session, consent, state="expired", now=now)
        mark_expiry_recorded(session, ended, now=now)
        session.commit()
    return Swept(reminded=len(due), expired=len(ended))
