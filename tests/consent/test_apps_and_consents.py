import datetime as dt

import pytest
from joserfc.jwk import ECKey

from consent.apps import find_purpose, redirect_uri_problem, register_app, set_disabled, update_app
from consent.consents import (
    consents_of,
    get_active_consent,
    grant_consent,
    remembered_consent,
    requested_attributes,
    revoke_consent,
)
from core.errors import Conflict, NotFound, ValidationFailed
from tests.factories import make_citizen

SIGNING_KEY = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256", "kid": "s1"})
ENCRYPTION_KEY = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW", "kid": "e1"})
SIG = SIGNING_KEY.as_dict(private=False)
ENC = ENCRYPTION_KEY.as_dict(private=False)
# What a MyInfo v4 app needs: a signing key for its client assertions, an encryption key for
# the person data (consent/client_keys.py).
JWKS = {"keys": [SIG, ENC]}


def document(**overrides):
    doc = {
        "client_id": "housing-grant-app",
        "name": "Housing grant application",
        "agency": "Housing Board",
        "redirect_uris": ["https://grants.example.gov/callback", "http://localhost:3001/callback"],
        "allowed_attributes": ["uinfin", "name", "regadd", "noa-basic", "cpfbalances"],
        "purposes": [
            {
                "id": "grant",
                "description": "To assess your housing grant application.",
                "required": ["uinfin", "name"],
                "optional": ["noa-basic", "cpfbalances"],
            }
        ],
        "jwks": JWKS,
    }
    return {**doc, **overrides}


@pytest.fixture
def app(db_session, runtime, now):
    return register_app(db_session, document=document(), catalogue=runtime.catalogue, now=now)


@pytest.fixture
def purpose(db_session, app):
    return find_purpose(db_session, app.client_id, "grant")


@pytest.fixture
def citizen(db_session, runtime):
    return make_citizen(db_session, runtime.vault)


def test_registration_stores_app_and_purposes(app, purpose):
    assert app.redirect_uris[0] == "https://grants.example.gov/callback"
    assert purpose.required_attributes == ["name", "uinfin"]
    assert purpose.optional_attributes == ["cpfbalances", "noa-basic"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"redirect_uris": ["http://grants.example.gov/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://grants.example.gov/cb#frag"]}, "redirect_uris"),
        ({"redirect_uris": ["https://*.example.gov/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://a.example.gov/cb?x=1&y=2"]}, "redirect_uris"),
        (
            {"allowed_attributes": ["uinfin", "name", "noa-basic", "cpfbalances", "shoesize"]},
            "allowed_attributes",
        ),
        (
            {"purposes": [{"id": "p1", "description": "A long enough purpose.", "required": ["dob"]}]},
            "purposes",
        ),
        ({"jwks": None}, "jwks"),
        ({"jwks_uri": "https://keys.example.gov/jwks"}, "jwks"),
        ({"client_id": "a b"}, "client_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_registrations_are_refused_naming_the_field(db_session, runtime, now, overrides, field):
    with pytest.raises(ValidationFailed) as caught:
        register_app(db_session, document=document(**overrides), catalogue=runtime.catalogue, now=now)
    assert field in caught.value.errors


def test_duplicate_client_id_is_a_conflict(db_session, runtime, now, app):
    with pytest.raises(Conflict):
        register_app(db_session, document=document(), catalogue=runtime.catalogue, now=now)


def test_redirect_uri_rules():
    assert redirect_uri_problem("https://a.example/cb") is None
    assert redirect_uri_problem("http://127.0.0.1:5000/cb") is None
    assert "absolute" in redirect_uri_problem("/relative")


def test_requested_attributes_must_be_allowed_and_named_by_the_purpose(app, purpose):
    assert requested_attributes(app, purpose, ["name", "uinfin", "name"]) == ["name", "uinfin"]
    with pytest.raises(ValidationFailed) as caught:
        requested_attributes(app, purpose, ["name", "regadd", "dob"])
    assert caught.value.errors["scope"] == ["regadd", "dob"]


def grant(
    db_session,
    citizen,
    app,
    purpose,
    now,
    approved,
    remember=None,
    requested=("uinfin", "name", "noa-basic", "cpfbalances"),
):
    return grant_consent(
        db_session,
        citizen_id=citizen.id,
        app=app,
        purpose=purpose,
        requested=requested,
        approved=approved,
        remember_for=remember,
        now=now,
    )


def test_partial_approval_records_approved_and_declined(db_session, citizen, app, purpose, now):
    consent = grant(db_session, citizen, app, purpose, now, ["uinfin", "name", "noa-basic"])
    assert consent.approved == ["name", "noa-basic", "uinfin"]
    assert consent.declined == ["cpfbalances"]
    assert not consent.remembered and consent.expires_at == now + dt.timedelta(minutes=30)


@pytest.mark.parametrize(
    ("approved", "remember", "field"),
    [
        (["uinfin"], None, "approved"),  # a required attribute unticked
        (["uinfin", "name", "regadd"], None, "approved"),  # approving what was not asked
        (["uinfin", "name"], dt.timedelta(days=400), "remember"),
        (["uinfin", "name"], dt.timedelta(0), "remember"),
    ],
)
def test_invalid_decisions_are_refused(db_session, citizen, app, purpose, now, approved, remember, field):
    with pytest.raises(ValidationFailed) as caught:
        grant(db_session, citizen, app, purpose, now, approved, remember)
    assert field in caught.value.errors


def test_remembered_consent_covers_later_requests_until_revoked_or_expired(
    db_session, citizen, app, purpose, now
):
    consent = grant(
        db_session, citizen, app, purpose, now, ["uinfin", "name", "noa-basic"], dt.timedelta(days=90)
    )
    ask = {"citizen_id": citizen.id, "client_id": app.client_id, "purpose_id": "grant"}
    assert remembered_consent(db_session, requested=["name", "noa-basic"], now=now, **ask) == consent
    assert remembered_consent(db_session, requested=["cpfbalances"], now=now, **ask) is None
    later = now + dt.timedelta(days=91)
    assert remembered_consent(db_session, requested=["name"], now=later, **ask) is None
    with pytest.raises(NotFound):
        get_active_consent(db_session, consent.id, now=later)
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=consent.id, now=now + dt.timedelta(days=1))
    assert remembered_consent(db_session, requested=["name"], now=now + dt.timedelta(days=2), **ask) is None
    with pytest.raises(NotFound):
        get_active_consent(db_session, consent.id, now=now + dt.timedelta(days=2))


def test_a_citizen_cannot_revoke_someone_elses_consent(db_session, runtime, citizen, app, purpose, now):
    consent = grant(db_session, citizen, app, purpose, now, ["uinfin", "name"])
    other = make_citizen(db_session, runtime.vault)
    with pytest.raises(NotFound):
        revoke_consent(db_session, citizen_id=other.id, consent_id=consent.id, now=now)
    assert consents_of(db_session, citizen_id=citizen.id).consents == [consent]


def test_update_changes_purposes_but_never_drops_one_with_consents(
    db_session, runtime, citizen, app, purpose, now
):
    grant(db_session, citizen, app, purpose, now, ["uinfin", "name"])
    changed = document(
        purposes=[
            {
                "id": "grant",
                "description": "Reworded purpose text here.",
                "required": ["uinfin"],
                "optional": ["name"],
            }
        ]
    )
    update_app(db_session, document=changed, catalogue=runtime.catalogue, now=now)
    assert find_purpose(db_session, app.client_id, "grant").required_attributes == ["uinfin"]
    dropped = document(
        purposes=[{"id": "other", "description": "Another purpose entirely.", "required": ["name"]}]
    )
    with pytest.raises(ValidationFailed, match="registration"):
        update_app(db_session, document=dropped, catalogue=runtime.catalogue, now=now)


def test_disable_and_enable(db_session, app, now):
    assert set_disabled(db_session, client_id=app.client_id, disabled=True, now=now).disabled
    with pytest.raises(NotFound):
        set_disabled(db_session, client_id="nope", disabled=True, now=now)


def test_consents_come_in_keyset_pages_newest_first(db_session, citizen, app, purpose, now):
    """Every pre-fill leaves a consent, so a citizen's list is paged: each consent exactly once,
    newest first, ties on the same second broken by id."""
    made = [
        grant(db_session, citizen, app, purpose, now + dt.timedelta(minutes=n // 2), ["uinfin", "name"])
        for n in range(7)
    ]
    seen, cursor = [], None
    while True:
        page = consents_of(db_session, citizen_id=citizen.id, cursor=cursor, limit=3)
        seen += page.consents
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 7 and set(seen) == set(made)
    assert [c.granted_at for c in seen] == sorted((c.granted_at for c in made), reverse=True)
    with pytest.raises(ValidationFailed) as caught:
        consents_of(db_session, citizen_id=citizen.id, cursor="not-ours")
    assert list(caught.value.errors) == ["cursor"]
