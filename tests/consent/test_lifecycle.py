"""A consent's states and what the citizen may do with it: pause, resume, narrow (consent.lifecycle),
(how standing consents end: tests/consent/test_expiry.py)."""

import datetime as dt

import pytest

from consent.apps import find_purpose, register_app
from consent.consents import grant_consent, remembered_consent, revoke_consent
from consent.lifecycle import (
    ACTIVE,
    EXPIRED,
    PAUSED,
    USED,
    WITHDRAWN,
    droppable,
    mark_used,
    narrow,
    pause,
    resume,
    state,
)
from core.errors import Conflict, ValidationFailed
from tests.consent.test_apps_and_consents import document
from tests.factories import make_citizen

ALL = ["uinfin", "name", "noa-basic", "cpfbalances"]
YEAR = dt.timedelta(days=365)


@pytest.fixture
def app(db_session, runtime, now):
    return register_app(db_session, document=document(), catalogue=runtime.catalogue, now=now)


@pytest.fixture
def purpose(db_session, app):
    return find_purpose(db_session, app.client_id, "grant")


@pytest.fixture
def citizen(db_session, runtime):
    return make_citizen(db_session, runtime.vault)


def give(db_session, citizen, app, purpose, now, *, remember=YEAR, approved=ALL, parts=None):
    return grant_consent(
        db_session,
        citizen_id=citizen.id,
        app=app,
        purpose=purpose,
        requested=ALL,
        approved=approved,
        remember_for=remember,
        now=now,
        parts=parts,
    )


def test_states_follow_the_row(db_session, citizen, app, purpose, now):
    standing = give(db_session, citizen, app, purpose, now)
    assert state(standing, now) == ACTIVE
    assert state(standing, now + YEAR) == EXPIRED
    pause(db_session, standing, now=now)
    assert state(standing, now) == PAUSED and not standing.usable_at(now) and standing.active_at(now)
    assert state(standing, now + YEAR) == EXPIRED
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=standing.id, now=now)
    assert state(standing, now) == WITHDRAWN

    once = give(db_session, citizen, app, purpose, now, remember=None)
    assert state(once, now) == ACTIVE
    mark_used(db_session, consent_id=once.id, now=now)
    db_session.refresh(once)
    assert once.used_at is not None and state(once, now) == USED
    assert state(once, now + YEAR) == USED  # used, not merely ended


def test_a_standing_consent_is_never_marked_used(db_session, citizen, app, purpose, now):
    standing = give(db_session, citizen, app, purpose, now)
    mark_used(db_session, consent_id=standing.id, now=now)
    db_session.refresh(standing)
    assert standing.used_at is None and state(standing, now) == ACTIVE


def test_pause_and_resume(db_session, citizen, app, purpose, now):
    standing = give(db_session, citizen, app, purpose, now)
    assert pause(db_session, standing, now=now) is True
    assert pause(db_session, standing, now=now) is False  # already paused: nothing changes
    asked = dict(citizen_id=citizen.id, client_id=app.client_id, purpose_id="grant", requested=["name"])
    assert remembered_consent(db_session, **asked, now=now) is None  # a paused one is not reused
    assert resume(db_session, standing, now=now) is True
    assert resume(db_session, standing, now=now) is False
    assert state(standing, now) == ACTIVE
    assert remembered_consent(db_session, **asked, now=now) is standing


def test_only_a_current_standing_consent_can_be_paused_or_resumed(db_session, citizen, app, purpose, now):
    once = give(db_session, citizen, app, purpose, now, remember=None)
    with pytest.raises(Conflict):
        pause(db_session, once, now=now)
    standing = give(db_session, citizen, app, purpose, now)
    with pytest.raises(Conflict):
        pause(db_session, standing, now=now + YEAR)
    pause(db_session, standing, now=now)
    with pytest.raises(Conflict):
        resume(db_session, standing, now=now + YEAR)
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=standing.id, now=now)
    with pytest.raises(Conflict):
        resume(db_session, standing, now=now)


def test_narrowing_drops_optional_items_only(db_session, citizen, app, purpose, now):
    standing = give(db_session, citizen, app, purpose, now, parts={"cpfbalances": ["cpfbalances.oa"]})
    assert sorted(droppable(standing, purpose)) == ["cpfbalances", "noa-basic"]
    with pytest.raises(ValidationFailed) as required:
        narrow(db_session, standing, purpose, drop=["name"], now=now)
    assert required.value.errors == {"drop": ["name"]}
    with pytest.raises(ValidationFailed):
        narrow(db_session, standing, purpose, drop=[], now=now)
    assert narrow(db_session, standing, purpose, drop=["cpfbalances"], now=now) == ["cpfbalances"]
    assert standing.approved == ["name", "noa-basic", "uinfin"]
    assert "cpfbalances" in standing.declined and standing.approved_parts is None
    with pytest.raises(ValidationFailed):  # no longer approved
        narrow(db_session, standing, purpose, drop=["cpfbalances"], now=now)


def test_narrowing_needs_a_current_standing_consent(db_session, citizen, app, purpose, now):
    once = give(db_session, citizen, app, purpose, now, remember=None)
    with pytest.raises(Conflict):
        narrow(db_session, once, purpose, drop=["noa-basic"], now=now)
    standing = give(db_session, citizen, app, purpose, now)
    with pytest.raises(Conflict):
        narrow(db_session, standing, purpose, drop=["noa-basic"], now=now + YEAR)
    pause(db_session, standing, now=now)
    assert narrow(db_session, standing, purpose, drop=["noa-basic"], now=now) == ["noa-basic"]


NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
LATER, EARLIER = NOW + dt.timedelta(minutes=20), NOW - dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("row", "status", "expected"),
    [
        ({"remembered": True}, "active", {"withdraw", "pause", "narrow"}),
        ({"remembered": False}, "active", {"withdraw"}),
        ({"remembered": True, "paused_at": EARLIER}, "paused", {"withdraw", "resume", "narrow"}),
        # a "this request only" token works for its 30 minutes after the release: withdrawable
        ({"remembered": False, "used_at": EARLIER}, "used", {"withdraw"}),
        ({"remembered": False, "used_at": EARLIER, "expires_at": EARLIER}, "used", set()),
        ({"remembered": True, "expires_at": EARLIER}, "expired", set()),
        ({"remembered": True, "paused_at": EARLIER, "expires_at": EARLIER}, "expired", set()),
        ({"remembered": True, "revoked_at": EARLIER}, "withdrawn", set()),
    ],
)
def test_what_a_citizen_may_do_in_each_state(row, status, expected):
    from consent.lifecycle import allowed
    from consent.models import Consent

    consent = Consent(expires_at=row.pop("expires_at", LATER), **row)
    assert state(consent, NOW) == status
    may = allowed(consent, NOW)
    assert {name for name in ("withdraw", "pause", "resume", "narrow") if getattr(may, name)} == expected
