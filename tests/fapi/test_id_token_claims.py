"""The ID token as the Singpass FAPI profile describes it (SP-IDT, v5 spec §6.2): `sub_type`,
`acr` (the level `acr_values` chose), `amr`, and `sub_attributes` for the Login scopes
(`user.identity`, `name`, `email`, `mobileno`) of what the citizen approved, each of whose
release is on the audit record before the token leaves."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.fapi import tokens as tokens_module
from audit.models import AuditEntry
from consent.grant_models import IssuedToken
from profile_store.citizens import reveal_uinfin
from tests.fapi import flow
from tests.oauth.flow import CLIENT_ID, AgencyKeys

LOGIN_SCOPE = "openid user.identity name email mobileno"
LOA = "urn:singpass:authentication:loa:"


@pytest.fixture
def login_app(db_session, runtime, keys):
    """One purpose: the identity number and name required, email and mobile number optional."""
    purpose = {
        "id": "sign-up",
        "description": "To open your account.",
        "required": ["uinfin", "name"],
        "optional": ["email", "mobileno", "regadd"],
    }
    return flow.setup_app(
        db_session,
        runtime,
        keys,
        allowed_attributes=["uinfin", "name", "email", "mobileno", "regadd"],
        purposes=[purpose],
    )


@pytest.fixture
def person(db_session, runtime, login_app):
    return flow.citizen_with(db_session, runtime, "name")


def id_token_disclosures(db_session, citizen) -> list[dict]:
    """This app's disclosure entries about this citizen made at the token endpoint."""
    entries = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "disclosure",
            AuditEntry.app_id == CLIENT_ID,
            AuditEntry.citizen_ref == citizen.uinfin_digest,
        )
    ).all()
    bodies = [json.loads(entry.body) for entry in entries]
    return [body for body in bodies if body["details"].get("in") == "id_token"]


def login(client, keys: AgencyKeys, citizen, verifier, dpop_key, platform_jwks, *, approve, **par):
    """PAR → consent (approving `approve` of the optional items) → token: (ID token claims, token
    response)."""
    params = flow.get_code(client, citizen.id, keys, verifier, dpop_key, attributes=approve, **par)
    tokens = flow.get_tokens(client, keys, params["code"], verifier, dpop_key)
    claims, _jwe, _jws = flow.open_nested(tokens["id_token"], keys, platform_jwks)
    return claims, tokens


def plain(item: dict | None) -> str | None:
    if not item or item.get("unavailable"):
        return None
    return item.get("value") or (item.get("nbr") or {}).get("value") or None


def test_login_scopes_fill_sub_attributes_with_what_was_approved_and_audit_it(
    client, db_session, runtime, keys, person, verifier, dpop_key, platform_jwks
):
    claims, tokens = login(
        client,
        keys,
        person,
        verifier,
        dpop_key,
        platform_jwks,
        approve=["email", "mobileno"],
        scope=LOGIN_SCOPE,
    )
    assert claims["sub_type"] == "user" and claims["acr"] == f"{LOA}2" and claims["amr"] == ["pwd", "otp"]
    assert tokens["scope"] == LOGIN_SCOPE

    info = flow.userinfo(client, tokens["access_token"], dpop_key)
    assert info.status_code == 200, info.text
    person_info = flow.open_nested(info.get_data(as_text=True), keys, platform_jwks)[0]["person_info"]
    # `user.identity` is Login's: nothing of it in person_info; the catalogue names go in both.
    assert set(person_info) == {"name", "email", "mobileno"}

    expected = {
        "account_type": "standard",
        "identity_number": reveal_uinfin(runtime.vault, person),
        "identity_coi": "SG",
        "name": plain(person_info["name"]),
    }
    for name in ("email", "mobileno"):  # when the citizen has one on record
        if (value := plain(person_info[name])) is not None:
            expected[name] = value
    assert claims["sub_attributes"] == expected

    (entry,) = id_token_disclosures(db_session, person)
    assert entry["attributes"] == sorted({"uinfin", "name", *(set(expected) & {"email", "mobileno"})})
    assert entry["details"]["token_jti"] and entry["details"]["profile"] == "myinfo-v5"
    assert entry["details"]["asked"] == sorted(LOGIN_SCOPE.split()[1:])


def test_a_declined_login_item_is_not_in_the_id_token(
    client, db_session, runtime, keys, person, verifier, dpop_key, platform_jwks
):
    claims, tokens = login(
        client, keys, person, verifier, dpop_key, platform_jwks, approve=[], scope=LOGIN_SCOPE
    )
    assert set(claims["sub_attributes"]) == {"account_type", "identity_number", "identity_coi", "name"}
    assert tokens["scope"] == "openid user.identity name"
    (entry,) = id_token_disclosures(db_session, person)
    assert entry["attributes"] == ["name", "uinfin"]


def test_without_login_scopes_the_id_token_carries_no_personal_data(
    client, db_session, keys, person, verifier, dpop_key, platform_jwks
):
    claims, _tokens = login(
        client,
        keys,
        person,
        verifier,
        dpop_key,
        platform_jwks,
        approve=["regadd"],
        scope="openid uinfin regadd",
    )
    assert "sub_attributes" not in claims
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "nonce", "acr", "amr", "sub_type"}
    assert id_token_disclosures(db_session, person) == []


def test_acr_values_choose_the_level_the_id_token_names(
    client, keys, person, verifier, dpop_key, platform_jwks
):
    claims, _tokens = login(
        client,
        keys,
        person,
        verifier,
        dpop_key,
        platform_jwks,
        approve=[],
        scope="openid uinfin",
        acr_values=f"{LOA}3 {LOA}2",
    )
    assert claims["acr"] == f"{LOA}2"


def test_discovery_lists_the_claims_and_the_identity_scope(client):
    document = client.get("/fapi/.well-known/openid-configuration").get_json()
    assert {"sub_type", "sub_attributes", "acr", "amr"} <= set(document["claims_supported"])
    assert "user.identity" in document["scopes_supported"]
    assert document["acr_values_supported"] == [f"{LOA}2"]


def test_user_identity_alone_is_answered_in_the_id_token_and_adds_nothing_to_person_info(
    client, db_session, runtime, keys, person, verifier, dpop_key, platform_jwks
):
    claims, tokens = login(
        client, keys, person, verifier, dpop_key, platform_jwks, approve=[], scope="openid user.identity"
    )
    assert claims["sub_attributes"] == {
        "account_type": "standard",
        "identity_number": reveal_uinfin(runtime.vault, person),
        "identity_coi": "SG",
    }
    info = flow.userinfo(client, tokens["access_token"], dpop_key)
    assert info.status_code == 200, info.text
    assert flow.open_nested(info.get_data(as_text=True), keys, platform_jwks)[0]["person_info"] == {}
    (entry,) = id_token_disclosures(db_session, person)
    assert entry["attributes"] == ["uinfin"]


def test_a_failed_audit_write_issues_no_token_and_leaves_the_code_unspent(
    client, db_session, keys, person, verifier, dpop_key, monkeypatch
):
    """The ID token's disclosure commits with the token or not at all: no token row, no ID
    token sent, and the code still redeemable once the audit store is back."""
    params = flow.get_code(
        client, person.id, keys, verifier, dpop_key, attributes=[], scope="openid uinfin name"
    )

    def broken(*_args, **_kwargs):
        raise RuntimeError("audit store unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(tokens_module, "record", broken)
        failed = flow.post_token(
            client,
            flow.token_form(keys, params["code"], verifier),
            dpop=flow.dpop_proof(dpop_key, method="POST", url=flow.TOKEN_URL),
        )
    assert failed.status_code == 500 and b"eyJ" not in failed.get_data()
    issued = db_session.scalars(
        select(IssuedToken).where(IssuedToken.client_id == CLIENT_ID, IssuedToken.citizen_id == person.id)
    ).all()
    assert issued == [] and id_token_disclosures(db_session, person) == []

    tokens = flow.get_tokens(client, keys, params["code"], verifier, dpop_key)
    assert tokens["id_token"] and len(id_token_disclosures(db_session, person)) == 1
