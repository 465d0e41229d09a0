"""The whole Myinfo v5 flow in process: PAR → authorization → consent (approve some) → token →
ID token → userinfo, with every shape a FAPI 2.0 relying party checks."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from audit.models import AuditEntry
from consent.consents import consents_of
from consent.grant_models import AuthorizationCode, AuthorizationRequest
from tests.fapi import flow
from tests.fapi.flow import ISSUER, USERINFO_URL
from tests.oauth import flow as v4
from tests.oauth.flow import CLIENT_ID, REDIRECT_URI


def test_partial_consent_through_v5_releases_only_the_approved_fields(
    client, db_session, keys, citizen, verifier, dpop_key, platform_jwks
):
    v4.sign_in(client, citizen.id)
    request_uri = flow.push(client, keys, verifier, dpop_key, state="state-123", nonce="nonce-456")
    path = v4.consent_path(flow.authorize(client, request_uri))
    redirect = v4.decide(client, path, attributes=["cpfbalances"])  # regadd left unticked
    params = v4.redirect_params(redirect)
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert redirect.headers["Location"].startswith(REDIRECT_URI + "?code=")

    response = flow.post_token(
        client,
        flow.token_form(keys, params["code"], verifier),
        dpop=flow.dpop_proof(dpop_key, method="POST", url=flow.TOKEN_URL),
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    tokens = response.get_json()
    assert tokens["token_type"] == "DPoP" and tokens["expires_in"] == 1800
    assert tokens["scope"] == "openid uinfin name cpfbalances.oa"
    assert set(tokens) == {"access_token", "token_type", "expires_in", "id_token", "scope"}

    assert tokens["id_token"].count(".") == 4
    id_claims, jwe_header, jws_header = flow.open_nested(tokens["id_token"], keys, platform_jwks)
    assert jwe_header == {
        "alg": "ECDH-ES+A256KW",
        "enc": "A256CBC-HS512",
        "kid": keys.encryption.kid,
        "cty": "JWT",
        "epk": jwe_header["epk"],
    }
    assert jws_header["alg"] == "ES256" and jws_header["typ"] == "JWT"
    assert jws_header["kid"] in {key["kid"] for key in platform_jwks["keys"]}
    assert id_claims["iss"] == ISSUER and id_claims["aud"] == CLIENT_ID
    assert id_claims["sub"] == citizen.id and id_claims["nonce"] == "nonce-456"
    assert id_claims["acr"] == "urn:singpass:authentication:loa:2" and id_claims["amr"] == ["pwd", "otp"]
    assert id_claims["exp"] - id_claims["iat"] == 600 and id_claims["sub_type"] == "user"
    assert set(id_claims["sub_attributes"]) == {"name"}, "SP-IDT: the `name` scope, as a plain string"

    before = _disclosures(db_session)
    info = flow.userinfo(client, tokens["access_token"], dpop_key)
    assert info.status_code == 200, info.text
    assert info.mimetype == "application/jwt" and info.headers["Cache-Control"] == "no-store"
    body, jwe_header, jws_header = flow.open_nested(info.get_data(as_text=True), keys, platform_jwks)
    assert jwe_header["enc"] == "A256GCM" and jwe_header["kid"] == keys.encryption.kid
    assert jwe_header["cty"] == "JWT" and jws_header["alg"] == "ES256"
    assert set(body) == {"person_info", "iss", "sub", "aud", "iat"}
    assert body["sub"] == id_claims["sub"] and body["iss"] == ISSUER and body["aud"] == CLIENT_ID
    assert isinstance(body["iat"], int)
    person = body["person_info"]
    assert set(person) == {"uinfin", "name", "cpfbalances"}
    assert person["name"]["source"] == "1" and person["name"]["classification"] == "C"
    assert id_claims["sub_attributes"]["name"] == person["name"]["value"]
    assert set(person["cpfbalances"]) == {"oa", "lastupdated", "source", "classification"}

    assert _disclosures(db_session) == before + 1
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert entry.kind == "disclosure" and entry.app_id == CLIENT_ID
    assert entry.citizen_ref == citizen.uinfin_digest
    recorded = json.loads(entry.body)
    assert recorded["attributes"] == ["cpfbalances", "name", "uinfin"]
    assert recorded["details"]["profile"] == "myinfo-v5"
    assert recorded["details"]["sub_attributes"] == ["cpfbalances.oa"]


def test_the_access_token_works_again_within_its_lifetime_with_a_fresh_proof(
    client, keys, citizen, verifier, dpop_key
):
    params = flow.get_code(client, citizen.id, keys, verifier, dpop_key)
    tokens = flow.get_tokens(client, keys, params["code"], verifier, dpop_key)
    assert flow.userinfo(client, tokens["access_token"], dpop_key).status_code == 200
    assert flow.userinfo(client, tokens["access_token"], dpop_key).status_code == 200
    post = client.post(
        "/fapi/userinfo",
        headers={
            "Authorization": f"DPoP {tokens['access_token']}",
            "DPoP": flow.dpop_proof(
                dpop_key, method="POST", url=USERINFO_URL, access_token=tokens["access_token"]
            ),
        },
    )
    assert post.status_code == 200, "OIDC Core §5.3.1: userinfo answers POST too"


def test_lifetimes_request_uri_60_s_code_60_s(client, db_session, keys, citizen, verifier, dpop_key):
    response = flow.post_par(
        client,
        flow.par_form(keys, verifier),
        dpop=flow.dpop_proof(dpop_key, method="POST", url=flow.PAR_URL),
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert len(body["request_uri"].rsplit(":", 1)[1]) >= 43  # 256 random bits
    pushed = db_session.scalars(
        select(AuthorizationRequest).where(
            AuthorizationRequest.profile == "myinfo-v5", AuthorizationRequest.client_id == CLIENT_ID
        )
    ).one()
    assert pushed.request_uri_expires_at - pushed.created_at == dt.timedelta(seconds=60)
    assert body["request_uri"].rsplit(":", 1)[1] not in (pushed.id, pushed.request_uri_hash)
    flow.get_code(client, citizen.id, keys, verifier, dpop_key)
    code = db_session.scalars(
        select(AuthorizationCode).where(
            AuthorizationCode.profile == "myinfo-v5", AuthorizationCode.client_id == CLIENT_ID
        )
    ).one()
    assert code.expires_at - code.created_at == dt.timedelta(seconds=60)
    assert code.dpop_jkt == dpop_key.thumbprint() and code.nonce


def test_one_citizen_consenting_through_v4_and_v5_sees_both_in_one_consent_list(
    client, db_session, keys, citizen, verifier, dpop_key
):
    v4.get_code(client, citizen.id, verifier)
    flow.get_code(client, citizen.id, keys, verifier, dpop_key, attributes=["regadd"])
    consents = consents_of(db_session, citizen_id=citizen.id).consents
    assert len(consents) == 2
    assert {c.client_id for c in consents} == {CLIENT_ID}
    assert sorted(sorted(c.approved) for c in consents) == [
        ["cpfbalances", "name", "noa-basic", "regadd", "uinfin"],
        ["name", "regadd", "uinfin"],
    ]


def _disclosures(db_session) -> int:
    return len(db_session.scalars(select(AuditEntry.seq).where(AuditEntry.kind == "disclosure")).all())
