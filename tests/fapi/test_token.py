"""The token endpoint (v5 spec §5, §6): a code of 60 s, single use and bound to the PAR's DPoP
key; the DPoP-bound access token; the ID token as a JWS inside a JWE to the client's own
encryption key; and every refusal the FAPI 2.0 security profile names."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select, update

from consent.grant_models import AuthorizationCode, IssuedToken
from consent.models import AgencyApp
from tests.fapi import flow
from tests.fapi.flow import TOKEN_URL, assertion, dpop_proof, post_token, token_form
from tests.oauth import flow as v4
from tests.oauth.flow import AgencyKeys


def refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error, body
    assert "access_token" not in body and "id_token" not in body
    assert response.headers["Cache-Control"] == "no-store"
    return body


def call(client, keys, code, verifier, key, /, *, dpop=None, **overrides):
    proof = dpop if dpop is not None else dpop_proof(key, method="POST", url=TOKEN_URL)
    return post_token(client, token_form(keys, code, verifier, **overrides), dpop=proof or None)


@pytest.fixture
def code(client, citizen, keys, verifier, dpop_key) -> str:
    return flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]


def now_s() -> int:
    return int(time.time())


def relative(claims: dict) -> dict:
    """iat, exp and nbf given as seconds from now, resolved when the test runs (not when
    pytest collects it)."""
    return {
        k: now_s() + v if k in ("iat", "exp", "nbf") and isinstance(v, int) else v for k, v in claims.items()
    }


# --- DPoP -----------------------------------------------------------------------------------


def test_a_proof_by_a_key_other_than_the_codes_is_refused_and_spends_the_code(
    client, keys, code, verifier, dpop_key
):
    other = ECKey.generate_key("P-256")
    refused(call(client, keys, code, verifier, other), 400, "invalid_dpop_proof")
    refused(call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")


@pytest.mark.parametrize(
    "proof",
    [
        lambda key: dpop_proof(key, method="POST", url=flow.PAR_URL),
        lambda key: dpop_proof(key, method="POST", url=f"{v4.BASE}/com/v4/token"),
        lambda key: dpop_proof(key, method="GET", url=TOKEN_URL),
        lambda key: dpop_proof(key, method="POST", url=TOKEN_URL, iat=now_s() - 200),
        lambda key: dpop_proof(key, method="POST", url=TOKEN_URL, iat=now_s() + 60),
        lambda key: dpop_proof(key, method="POST", url=TOKEN_URL, exp=now_s() + 600),
        lambda key: dpop_proof(key, method="POST", url=TOKEN_URL, exp=now_s() - 60, iat=now_s() - 90),
    ],
    ids=["PAR url", "v4 url", "wrong method", "too old", "too far in the future", "exp too far", "expired"],
)
def test_a_bad_proof_is_refused_and_the_code_survives(client, keys, code, verifier, dpop_key, proof):
    refused(call(client, keys, code, verifier, dpop_key, dpop=proof(dpop_key)), 400, "invalid_dpop_proof")
    assert call(client, keys, code, verifier, dpop_key).status_code == 200


def test_a_replayed_proof_is_refused(client, citizen, keys, code, verifier, dpop_key):
    proof = dpop_proof(dpop_key, method="POST", url=TOKEN_URL)
    assert call(client, keys, code, verifier, dpop_key, dpop=proof).status_code == 200
    second = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    refused(call(client, keys, second, verifier, dpop_key, dpop=proof), 400, "invalid_dpop_proof")


def test_a_missing_proof_is_invalid_request(client, keys, code, verifier, dpop_key):
    refused(call(client, keys, code, verifier, dpop_key, dpop=""), 400, "invalid_request")


def test_a_par_bound_by_dpop_jkt_alone_is_redeemed_with_that_key(client, citizen, keys, verifier, dpop_key):
    v4.sign_in(client, citizen.id)
    form = flow.par_form(keys, verifier, dpop_jkt=dpop_key.thumbprint())
    request_uri = flow.post_par(client, form, dpop=None).get_json()["request_uri"]
    path = v4.consent_path(flow.authorize(client, request_uri))
    code = v4.redirect_params(v4.decide(client, path, attributes=[]))["code"]
    assert call(client, keys, code, verifier, dpop_key).status_code == 200


@pytest.mark.parametrize("curve", ["P-384", "P-521"])
def test_an_es384_or_es512_dpop_key_carries_through_to_userinfo(client, citizen, keys, verifier, curve):
    key = ECKey.generate_key(curve)
    code = flow.get_code(client, citizen.id, keys, verifier, key)["code"]
    tokens = flow.get_tokens(client, keys, code, verifier, key)
    assert flow.userinfo(client, tokens["access_token"], key).status_code == 200


# --- codes ----------------------------------------------------------------------------------


def test_a_code_reused_after_one_second_is_refused_and_revokes_its_tokens(
    client, keys, code, verifier, dpop_key
):
    tokens = flow.get_tokens(client, keys, code, verifier, dpop_key)
    assert flow.userinfo(client, tokens["access_token"], dpop_key).status_code == 200
    time.sleep(1)
    refused(call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")
    refused(flow.userinfo(client, tokens["access_token"], dpop_key), 401, "invalid_token")


def test_an_expired_code_is_refused(client, db_session, keys, code, verifier, dpop_key):
    db_session.execute(
        update(AuthorizationCode).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db_session.commit()
    refused(call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")


def test_a_code_redeemed_by_another_client_is_refused(
    client, db_session, runtime, keys, code, verifier, dpop_key
):
    other = AgencyKeys()
    flow.setup_app(db_session, runtime, other, client_id="other-fapi-app")
    signed = assertion(other.signing, client_id="other-fapi-app")
    refused(call(client, other, code, verifier, dpop_key, client_assertion=signed), 400, "invalid_grant")
    refused(call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"code_verifier": flow.verifier()}, 400, "invalid_grant"),
        ({"code_verifier": None}, 400, "invalid_grant"),
        ({"redirect_uri": "http://localhost:3001/callback?tenant=a"}, 400, "invalid_grant"),
        ({"redirect_uri": None}, 400, "invalid_grant"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"client_assertion": None}, 401, "invalid_client"),
        ({"client_assertion_type": None}, 401, "invalid_client"),
        ({"client_id": "nobody-app"}, 401, "invalid_client"),
    ],
)
def test_token_refusals(client, keys, code, verifier, dpop_key, overrides, status, error):
    refused(call(client, keys, code, verifier, dpop_key, **overrides), status, error)


def test_a_v4_code_is_not_redeemed_here_nor_a_v5_code_at_v4(client, citizen, keys, verifier, dpop_key):
    v4_code = v4.get_code(client, citizen.id, verifier)
    refused(call(client, keys, v4_code, verifier, dpop_key), 400, "invalid_grant")
    v5_code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    v4_form = v4.token_form(keys, v5_code, verifier, dpop_key)
    at_v4 = v4.post_token(client, v4_form, dpop=v4.dpop_proof(dpop_key, method="POST", url=v4.TOKEN_URL))
    assert at_v4.status_code == 400 and at_v4.get_json()["error"] == "invalid_grant"


# --- client assertions at the token endpoint ------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": flow.PAR_URL},
        {"aud": f"{v4.BASE}/com/v4/token"},
        {"aud": [flow.ISSUER, TOKEN_URL]},
        {"iat": -360, "exp": -300},
        {"iat": 61, "exp": 121},
        {"sub": None},
        {"code": "another-code"},
    ],
)
def test_bad_assertions_are_invalid_client(client, keys, code, verifier, dpop_key, claims):
    bad = assertion(keys.signing, **relative(claims))
    refused(call(client, keys, code, verifier, dpop_key, client_assertion=bad), 401, "invalid_client")


def test_the_token_url_as_aud_a_matching_code_claim_and_client_id_are_accepted(
    client, keys, code, verifier, dpop_key
):
    signed = assertion(keys.signing, aud=TOKEN_URL, code=code)
    response = call(client, keys, code, verifier, dpop_key, client_assertion=signed, client_id=v4.CLIENT_ID)
    assert response.status_code == 200, response.text


def test_v4_stays_es256_only(client, db_session, runtime, verifier):
    keys = AgencyKeys()  # registered for v4 too, so it holds an ES256 key beside the ES384 one
    es384 = ECKey.generate_key("P-384", {"use": "sig", "alg": "ES384"}, auto_kid=True)
    flow.setup_app(
        db_session, runtime, keys, jwks={"keys": [*keys.jwks()["keys"], es384.as_dict(private=False)]}
    )
    keys.signing = es384
    citizen = v4.setup_citizen(db_session, runtime)
    dpop = ECKey.generate_key("P-256")
    code = v4.get_code(client, citizen.id, verifier)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": v4.REDIRECT_URI,
        "client_id": v4.CLIENT_ID,
        "code_verifier": verifier,
        "client_assertion_type": flow.ASSERTION_TYPE,
        "client_assertion": assertion(keys.signing, aud=v4.TOKEN_URL),
    }
    response = v4.post_token(client, form, dpop=v4.dpop_proof(dpop, method="POST", url=v4.TOKEN_URL))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    metadata = client.get("/com/v4/.well-known/openid-configuration").get_json()
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["ES256"]


# --- what is issued -------------------------------------------------------------------------


def test_the_access_token_is_dpop_bound_and_revocable(client, db_session, keys, code, verifier, dpop_key):
    tokens = flow.get_tokens(client, keys, code, verifier, dpop_key)
    claims = v4.token_claims(tokens["access_token"])
    assert claims["cnf"] == {"jkt": dpop_key.thumbprint()}
    assert claims["aud"] == flow.USERINFO_URL and claims["iss"] == flow.ISSUER
    assert v4.jws_header(tokens["access_token"])["typ"] == "at+jwt"
    row = db_session.scalars(select(IssuedToken).where(IssuedToken.jti == claims["jti"])).one()
    assert row.jkt == dpop_key.thumbprint()


def test_the_id_token_goes_to_the_clients_strongest_encryption_key(
    client, db_session, runtime, verifier, dpop_key, platform_jwks
):
    keys = AgencyKeys()
    weak = keys.encryption
    strong = ECKey.generate_key("P-384", {"use": "enc", "alg": "ECDH-ES+A192KW"}, auto_kid=True)
    jwks = {"keys": [*keys.jwks()["keys"], strong.as_dict(private=False)]}
    flow.setup_app(db_session, runtime, keys, jwks=jwks)
    citizen = v4.setup_citizen(db_session, runtime)
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    tokens = flow.get_tokens(client, keys, code, verifier, dpop_key)
    claims, header, _ = flow.open_nested(tokens["id_token"], keys, platform_jwks, enc_key=strong)
    assert header["alg"] == "ECDH-ES+A192KW" and header["kid"] == strong.kid
    assert claims["aud"] == v4.CLIENT_ID
    assert weak.kid != strong.kid


def test_an_app_without_an_encryption_key_is_refused_before_its_code_is_spent(
    client, db_session, runtime, verifier, dpop_key
):
    """Registration refuses such a key set (consent.apps); one changed behind its back, or served
    from a jwks_uri, is refused at the token endpoint before the code is spent."""
    keys = AgencyKeys()
    flow.setup_app(db_session, runtime, keys)
    only_signing = {"keys": [keys.signing.as_dict(private=False)]}
    db_session.execute(update(AgencyApp).where(AgencyApp.client_id == v4.CLIENT_ID).values(jwks=only_signing))
    db_session.commit()
    citizen = v4.setup_citizen(db_session, runtime)
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    refused(call(client, keys, code, verifier, dpop_key), 401, "invalid_client")
    grant = db_session.scalars(
        select(AuthorizationCode).where(AuthorizationCode.client_id == v4.CLIENT_ID)
    ).one()
    db_session.refresh(grant)
    assert grant.redeemed_at is None
