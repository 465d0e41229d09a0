"""What a citizen may do with a consent, in each of its five states, is decided once
(consent.lifecycle: can_withdraw, can_pause, can_resume, can_narrow) and every page and the mail's
one-tap link follow it: a page offers exactly what its POST does, and says "ended" only of a
consent its POST would not change (a paused consent's one-tap link once said it had ended)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from consent.lifecycle import state
from consent.models import Consent
from core.clock import utcnow
from notifications.links import link_key, make_link_token
from tests.oauth import flow
from tests.oauth.flow import CSRF_INPUT

# "used": a "this request only" consent after its release, its token still good for its 30
# minutes; "used-ended": the same once that time is over (its state still reads "used").
STATES = ("active", "paused", "used", "used-ended", "expired", "withdrawn")
WITHDRAWABLE = {"active", "paused", "used"}
CURRENT = {"active", "paused"}
PAUSABLE = {"active"}
RESUMABLE = {"paused"}
NARROWABLE = {"active", "paused"}


def put_in(db_session, consent: Consent, status: str) -> None:
    """Move the consent (remembered, active) into `status` the way its life would."""
    now = utcnow()
    if status == "paused":
        consent.paused_at = now
    elif status.startswith("used"):
        consent.remembered, consent.used_at = False, now
        left = dt.timedelta(minutes=20) if status == "used" else -dt.timedelta(seconds=1)
        consent.expires_at = now + left
    elif status == "expired":
        consent.expires_at = now - dt.timedelta(seconds=1)
    elif status == "withdrawn":
        consent.revoked_at = now
    db_session.commit()
    assert state(consent, utcnow()) == status.removesuffix("-ended")


@pytest.fixture
def consent(client, db_session, citizen, verifier) -> Consent:
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    flow.decide(client, path, attributes=["regadd"], remember="3m")
    return db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()


def csrf(client, page_text: str, fallback: str) -> str:
    """The page's CSRF token, or (a page offering no form) the session's from `fallback`: the
    test posts anyway, as a stale tab or a crafted request would."""
    found = CSRF_INPUT.search(page_text) or CSRF_INPUT.search(client.get(fallback).text)
    return found.group(1)


def revocations(db_session) -> int:
    return db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "consent_revoked")
    )


def withdrawn(db_session, consent: Consent) -> bool:
    db_session.expire_all()
    return db_session.get(Consent, consent.id).revoked_at is not None


@pytest.mark.parametrize("status", STATES)
def test_the_one_tap_link_offers_withdrawal_exactly_when_posting_would_withdraw(
    app, client, db_session, consent, status
):
    put_in(db_session, consent, status)
    was_withdrawn, before = consent.revoked_at is not None, revocations(db_session)
    with client.session_transaction() as session:
        session.clear()  # the link works without signing in
    key = link_key(app.extensions["consentry"].config.secret_key)
    path = f"/citizen/withdraw-link/{make_link_token(key, consent_id=consent.id, now=utcnow())}"

    page = client.get(path)

    assert page.status_code == 200
    offered = "Withdraw your consent for Housing grant application?" in page.text
    assert offered == (status in WITHDRAWABLE)
    assert ("This consent has already ended" in page.text) == (status not in WITHDRAWABLE)
    done = client.post(path, data={"csrf_token": csrf(client, page.text, "/citizen/sign-in")})
    assert done.status_code == 200
    assert ("Consent withdrawn" in done.text) == (status in WITHDRAWABLE)
    assert withdrawn(db_session, consent) == (was_withdrawn or status in WITHDRAWABLE)
    assert revocations(db_session) == before + (status in WITHDRAWABLE)


@pytest.mark.parametrize("status", STATES)
def test_my_consents_offers_each_action_as_the_lifecycle_allows(client, db_session, consent, status):
    put_in(db_session, consent, status)

    page = client.get("/citizen/consents").text

    base = f"/citizen/consents/{consent.id}"
    assert (f"{base}/withdraw" in page) == (status in WITHDRAWABLE)
    assert (f"{base}/pause" in page) == (status in PAUSABLE)
    assert (f"{base}/resume" in page) == (status in RESUMABLE)
    assert (f"{base}/narrow" in page) == (status in NARROWABLE)
    assert ('<h2 class="govuk-heading-m">Current' in page) == (status in CURRENT)
    assert ('<h2 class="govuk-heading-m">Past' in page) == (status not in CURRENT)


@pytest.mark.parametrize("status", STATES)
def test_each_confirmation_page_offers_its_action_exactly_when_the_post_acts(
    client, db_session, consent, status
):
    put_in(db_session, consent, status)
    base = f"/citizen/consents/{consent.id}"
    pages = {
        "withdraw": ("Withdraw your consent for", WITHDRAWABLE),
        "pause": ("Pause your consent for", PAUSABLE),
        "resume": ("Resume your consent for", RESUMABLE),
        "narrow": ("Stop sharing an item with", NARROWABLE),
    }
    for action, (heading, allowed) in pages.items():
        page = client.get(f"{base}/{action}")
        assert page.status_code == 200
        assert (heading in page.text) == (status in allowed), action
        assert (f'action="{base}/{action}"' in page.text) == (status in allowed), action

    before = revocations(db_session)
    page = client.get(f"{base}/withdraw")
    client.post(f"{base}/withdraw", data={"csrf_token": csrf(client, page.text, "/citizen/profile")})
    assert revocations(db_session) == before + (status in WITHDRAWABLE)
