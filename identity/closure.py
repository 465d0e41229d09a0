"""Closing a citizen's account: the citizen can no longer sign in, every session of theirs ends,
every consent they gave is withdrawn (an app's tokens are checked against their consent on every
call, so pre-fill stops at once), and pending letters are revoked. Their profile stays as it is
(the data belongs to the agencies) and the audit log keeps everything. Opening the account again
takes a new activation letter.

Runs inside the caller's transaction: flushes, never commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent.models import Consent

from .activation import revoke_letters
from .activation_models import EnrolmentInProgress, RecoveryCode
from .models import CitizenAccount
from .web_sessions import revoke_all_for

REASON = "account_closed"


def close_account(session: Session, *, citizen_id: str, now: dt.datetime) -> list[Consent]:
    """Close the citizen's account as described above; returns the consents this withdrew (for
    the caller's audit entries). Idempotent: closing a closed account withdraws nothing."""
    for table in (RecoveryCode, EnrolmentInProgress, CitizenAccount):
        session.execute(
            delete(table).where(table.citizen_id == citizen_id).execution_options(synchronize_session=False)
        )
    revoke_letters(session, citizen_id=citizen_id, now=now)
    revoke_all_for(session, role="citizen", subject=citizen_id, now=now, reason=REASON)
    consents = list(
        session.scalars(
            select(Consent)
            .where(Consent.citizen_id == citizen_id, Consent.revoked_at.is_(None), Consent.expires_at > now)
            .with_for_update()
        )
    )
    for consent in consents:
        consent.revoked_at = now
    session.flush()
    session.expire_all()  # the bulk deletes above bypassed the identity map
    return consents
