"""The userinfo endpoint (v5 spec §7, §8): `Authorization: DPoP` with a proof by the token's key;
a JWS inside a JWE holding {person_info, iss, sub, aud, iat}; only attributes both requested and
approved, sub-attribute scopes narrowed; the disclosure audited before any byte leaves."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

import app.oauth.release as release
from audit.models import AuditEntry
from consent.apps import set_disabled
from consent.consents import revoke_consent
from consent.grant_models import IssuedToken
from tests.fapi import flow
from tests.fapi.flow import USERINFO_URL, dpop_proof
from tests.oauth import flow as v4
from tests.oauth.flow import AgencyKeys


def disclosures(db_session) -> int:
    return db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "disclosure")
    )


def refused(response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.get_json() == {
        "error": error,
        "error_description": response.get_json()["error_description"],
    }
    challenge = response.headers.get("WWW-Authenticate", "")
    if status == 401:
        assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge
        assert 'algs="ES256 ES384 ES512"' in challenge
    assert b"eyJ" not in response.get_data()


@pytest.fixture
def tokens(client, citizen, keys, verifier, dpop_key) -> dict:
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    return flow.get_tokens(client, keys, code, verifier, dpop_key)


def now_s() -> int:
    return int(time.time())


def test_a_bearer_token_is_refused(client, db_session, tokens, dpop_key):
    before = disclosures(db_session)
    refused(flow.userinfo(client, tokens["access_token"], dpop_key, scheme="Bearer"), 401, "invalid_token")
    refused(client.get("/fapi/userinfo"), 401, "invalid_token")
    assert disclosures(db_session) == before


def test_every_bad_proof_is_refused_and_nothing_leaves(client, db_session, tokens, dpop_key):
    token = tokens["access_token"]
    before = disclosures(db_session)
    cases = {
        "missing": "",
        "no ath": dpop_proof(dpop_key, method="GET", url=USERINFO_URL),
        "wrong ath": dpop_proof(dpop_key, method="GET", url=USERINFO_URL, access_token=token + "x"),
        "other key": dpop_proof(
            ECKey.generate_key("P-256"), method="GET", url=USERINFO_URL, access_token=token
        ),
        "wrong url": dpop_proof(dpop_key, method="GET", url=f"{v4.BASE}/userinfo", access_token=token),
        "wrong method": dpop_proof(dpop_key, method="POST", url=USERINFO_URL, access_token=token),
        "too old": dpop_proof(
            dpop_key, method="GET", url=USERINFO_URL, access_token=token, iat=now_s() - 200
        ),
        "future": dpop_proof(dpop_key, method="GET", url=USERINFO_URL, access_token=token, iat=now_s() + 60),
    }
    for case, proof in cases.items():
        response = flow.userinfo(client, token, dpop_key, proof=proof)
        assert response.status_code == 401, case
        refused(response, 401, "invalid_dpop_proof")
    assert disclosures(db_session) == before
    good = dpop_proof(dpop_key, method="GET", url=USERINFO_URL, access_token=token)
    assert flow.userinfo(client, token, dpop_key, proof=good).status_code == 200
    refused(flow.userinfo(client, token, dpop_key, proof=good), 401, "invalid_dpop_proof")  # replayed
    assert disclosures(db_session) == before + 1


def test_tokens_of_the_other_profile_are_refused_both_ways(client, citizen, keys, verifier, dpop_key, tokens):
    v4_code = v4.get_code(client, citizen.id, verifier)
    v4_token = v4.get_token(client, keys, v4_code, verifier, dpop_key)["access_token"]
    refused(flow.userinfo(client, v4_token, dpop_key), 401, "invalid_token")
    at_v4 = v4.get_person(client, tokens["access_token"], dpop_key, scope="name")
    assert at_v4.status_code == 401 and at_v4.get_json()["error"] == "invalid_token"


def test_revoked_consent_expired_token_disabled_app_tampered_token(
    client, db_session, citizen, keys, verifier, dpop_key, tokens
):
    head, payload, sig = tokens["access_token"].split(".")
    refused(flow.userinfo(client, f"{head}.{payload}.{sig[:-4]}AAAA", dpop_key), 401, "invalid_token")
    row = db_session.get(IssuedToken, v4.token_claims(tokens["access_token"])["jti"])
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=row.consent_id, now=dt.datetime.now(dt.UTC))
    db_session.commit()
    refused(flow.userinfo(client, tokens["access_token"], dpop_key), 401, "invalid_token")

    fresh = flow.get_tokens(
        client, keys, flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"], verifier, dpop_key
    )
    db_session.execute(
        update(IssuedToken)
        .where(IssuedToken.jti == v4.token_claims(fresh["access_token"])["jti"])
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db_session.commit()
    refused(flow.userinfo(client, fresh["access_token"], dpop_key), 401, "invalid_token")

    third = flow.get_tokens(
        client, keys, flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"], verifier, dpop_key
    )
    set_disabled(db_session, client_id=v4.CLIENT_ID, disabled=True, now=dt.datetime.now(dt.UTC))
    db_session.commit()
    refused(flow.userinfo(client, third["access_token"], dpop_key), 401, "invalid_token")


def test_a_failed_audit_write_releases_nothing(client, db_session, tokens, dpop_key, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(release, "record", broken)
    before = disclosures(db_session)
    response = flow.userinfo(client, tokens["access_token"], dpop_key)
    assert response.status_code == 500
    assert response.mimetype == "application/json" and b"eyJ" not in response.get_data()
    assert disclosures(db_session) == before


# --- what goes out --------------------------------------------------------------------------


@pytest.fixture
def wide_app(db_session, runtime):
    """An app whose one purpose may ask for vehicles, the driving licence and pension balances."""
    keys = AgencyKeys()
    purpose = {
        "id": "vehicle-grant",
        "description": "To check your vehicle for the transport grant.",
        "required": ["uinfin"],
        "optional": ["vehicles", "drivinglicence", "cpfbalances", "name"],
    }
    flow.setup_app(
        db_session,
        runtime,
        keys,
        allowed_attributes=["uinfin", "name", "vehicles", "drivinglicence", "cpfbalances"],
        purposes=[purpose],
    )
    return keys


def release_for(client, citizen_id, keys, scope, platform_jwks, *, approve):
    key = ECKey.generate_key("P-256")
    verifier = flow.verifier()
    code = flow.get_code(client, citizen_id, keys, verifier, key, scope=scope, attributes=approve)["code"]
    tokens = flow.get_tokens(client, keys, code, verifier, key)
    response = flow.userinfo(client, tokens["access_token"], key)
    body, _, _ = flow.open_nested(response.get_data(as_text=True), keys, platform_jwks)
    return tokens, body["person_info"]


def test_sub_attribute_scopes_release_only_those_members(
    client, db_session, runtime, wide_app, platform_jwks
):
    citizen = flow.citizen_with(db_session, runtime, "cpfbalances", "drivinglicence", "vehicles")
    scope = "openid uinfin cpfbalances.oa cpfbalances.ma drivinglicence.qdl.expirydate vehicles.make"
    tokens, person = release_for(
        client,
        citizen.id,
        wide_app,
        scope,
        platform_jwks,
        approve=["cpfbalances", "drivinglicence", "vehicles"],
    )
    assert tokens["scope"] == scope
    assert set(person) == {"uinfin", "cpfbalances", "drivinglicence", "vehicles"}
    envelope = {"lastupdated", "source", "classification"}
    assert set(person["cpfbalances"]) == envelope | {"oa", "ma"}
    assert set(person["drivinglicence"]) == envelope | {"qdl"}
    assert set(person["drivinglicence"]["qdl"]) == {"expirydate"}
    assert person["vehicles"] and all(set(vehicle) == envelope | {"make"} for vehicle in person["vehicles"])
    assert set(person["uinfin"]) >= envelope | {"value"}
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert json.loads(entry.body)["details"]["sub_attributes"] == [
        "cpfbalances.ma",
        "cpfbalances.oa",
        "drivinglicence.qdl.expirydate",
        "vehicles.make",
    ]


def test_a_whole_attribute_wins_over_its_sub_attribute_and_declined_ones_stay_home(
    client, db_session, runtime, wide_app, platform_jwks
):
    citizen = flow.citizen_with(db_session, runtime, "cpfbalances")
    scope = "openid uinfin name cpfbalances cpfbalances.oa vehicles.make"
    tokens, person = release_for(client, citizen.id, wide_app, scope, platform_jwks, approve=["cpfbalances"])
    assert tokens["scope"] == "openid uinfin cpfbalances cpfbalances.oa"
    assert set(person) == {"uinfin", "cpfbalances"}
    assert {"oa", "ma"} <= set(person["cpfbalances"])


def test_an_app_whose_encryption_key_is_gone_gets_invalid_request_and_nothing_is_recorded(
    client, db_session, agency_app, keys, tokens, dpop_key
):
    agency_app.jwks = {"keys": [keys.signing.as_dict(private=False)]}
    db_session.commit()
    before = disclosures(db_session)
    response = flow.userinfo(client, tokens["access_token"], dpop_key)
    refused(response, 400, "invalid_request")
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert disclosures(db_session) == before
