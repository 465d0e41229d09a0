"""The pushed authorization request (RFC 9126, FAPI 2.0, v5 spec §3): its client authentication,
parameters and DPoP binding, and every refusal the FAPI 2.0 security profile names. A refused
request stores nothing."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import func, select

from consent.grant_models import AuthorizationRequest
from consent.models import Purpose
from tests.fapi import flow
from tests.fapi.flow import ISSUER, PAR_URL, TOKEN_URL, assertion, dpop_proof, par_form, post_par
from tests.oauth import flow as v4
from tests.oauth.flow import CLIENT_ID, REDIRECT_URI, AgencyKeys


def pushed_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AuthorizationRequest))


def refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error, body
    assert set(body) == {"error", "error_description"}, "FAPI: the plain RFC 6749 error body"
    assert "request_uri" not in body
    return body


def par(client, keys, verifier, dpop_key, /, *, dpop=None, **overrides):
    proof = dpop if dpop is not None else dpop_proof(dpop_key, method="POST", url=PAR_URL)
    return post_par(client, par_form(keys, verifier, **overrides), dpop=proof or None)


def test_a_good_request_is_201_with_a_single_use_request_uri(client, agency_app, keys, verifier, dpop_key):
    response = par(client, keys, verifier, dpop_key)
    assert response.status_code == 201 and response.mimetype == "application/json"
    assert set(response.get_json()) == {"request_uri", "expires_in"}


# --- client authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_assertion": None, "client_assertion_type": None},
        {"client_assertion": None},
        {"client_assertion_type": None},
        {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
        {"client_assertion": "not.a.jwt"},
        {"client_id": "nobody-app"},
    ],
)
def test_par_without_client_authentication_is_invalid_client(
    client, db_session, agency_app, keys, verifier, dpop_key, overrides
):
    before = pushed_count(db_session)
    refused(par(client, keys, verifier, dpop_key, **overrides), 401, "invalid_client")
    assert pushed_count(db_session) == before


def now_s() -> int:
    return int(time.time())


def relative(claims: dict) -> dict:
    """iat, exp and nbf given as seconds from now, resolved when the test runs (not when
    pytest collects it)."""
    return {
        k: now_s() + v if k in ("iat", "exp", "nbf") and isinstance(v, int) else v for k, v in claims.items()
    }


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": f"{v4.BASE}/com/v4/token"}, "the v4 token URL"),
        ({"aud": "https://id.singpass.gov.sg/fapi"}, "another issuer"),
        ({"aud": [ISSUER]}, "an array (FAPI 2.0: a string)"),
        ({"iat": -360, "exp": -300}, "expired 5 minutes ago"),
        ({"iat": 61, "exp": 121}, "issued more than 60 s in the future"),
        ({"iat": 0, "exp": 121}, "a lifetime over 120 s"),
        ({"sub": None}, "without sub"),
        ({"iss": "someone-else"}, "another iss"),
        ({"jti": None}, "without jti"),
        ({"exp": None}, "without exp"),
        ({"iat": None}, "without iat"),
        ({"nbf": 90}, "not valid before 90 s from now"),
    ],
)
def test_bad_client_assertions_are_refused(client, agency_app, keys, verifier, dpop_key, claims, why):
    bad = assertion(keys.signing, **relative(claims))
    refused(par(client, keys, verifier, dpop_key, client_assertion=bad), 401, "invalid_client")


def test_an_rs256_assertion_is_refused_even_from_a_registered_rsa_key(
    client, db_session, runtime, verifier, dpop_key
):
    keys = AgencyKeys()
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-sig", "use": "sig", "alg": "RS256"})
    jwks = {"keys": [*keys.jwks()["keys"], rsa.as_dict(private=False)]}
    flow.setup_app(db_session, runtime, keys, jwks=jwks)
    signed = assertion(rsa, header={"alg": "RS256"})
    refused(par(client, keys, verifier, dpop_key, client_assertion=signed), 401, "invalid_client")


def test_a_replayed_assertion_is_refused(client, agency_app, keys, verifier, dpop_key):
    once = assertion(keys.signing)
    assert par(client, keys, verifier, dpop_key, client_assertion=once).status_code == 201
    refused(par(client, keys, verifier, dpop_key, client_assertion=once), 401, "invalid_client")


def test_an_assertion_by_another_key_under_our_kid_is_refused(client, agency_app, keys, verifier, dpop_key):
    stranger = ECKey.generate_key("P-256", {"kid": keys.signing.kid}, auto_kid=False)
    refused(
        par(client, keys, verifier, dpop_key, client_assertion=assertion(stranger)), 401, "invalid_client"
    )


@pytest.mark.parametrize("aud", [ISSUER, PAR_URL, TOKEN_URL, "http://LOCALHOST:80/fapi"])
def test_assertion_audiences_the_par_endpoint_accepts(client, agency_app, keys, verifier, dpop_key, aud):
    signed = assertion(keys.signing, aud=aud)
    assert par(client, keys, verifier, dpop_key, client_assertion=signed).status_code == 201


def test_strict_audience_accepts_the_issuer_only(app, client, agency_app, keys, verifier, dpop_key):
    runtime = app.extensions["consentry"]
    runtime.config = runtime.config.replace(fapi_strict_aud=True)
    refused(
        par(client, keys, verifier, dpop_key, client_assertion=assertion(keys.signing, aud=PAR_URL)),
        401,
        "invalid_client",
    )
    assert par(client, keys, verifier, dpop_key).status_code == 201


def test_assertion_within_the_clock_leeway_without_typ_or_kid_is_accepted(
    client, agency_app, keys, verifier, dpop_key
):
    ahead = assertion(keys.signing, iat=now_s() + 20, exp=now_s() + 80)
    assert par(client, keys, verifier, dpop_key, client_assertion=ahead).status_code == 201
    no_kid = assertion(keys.signing, header={"kid": None})
    assert par(client, keys, verifier, dpop_key, client_assertion=no_kid).status_code == 201


@pytest.mark.parametrize("curve", ["P-384", "P-521"])
def test_es384_and_es512_client_keys_sign_assertions(client, db_session, runtime, verifier, dpop_key, curve):
    keys = AgencyKeys()
    alg = flow.ALG_OF[curve]
    keys.signing = ECKey.generate_key(curve, {"use": "sig", "alg": alg}, auto_kid=True)
    v4.setup_app(db_session, runtime, keys, profiles=["myinfo-v5"])  # no ES256 key: v5 only
    assert par(client, keys, verifier, dpop_key, client_assertion=assertion(keys.signing)).status_code == 201


def test_form_client_id_must_be_the_assertions(
    client, db_session, runtime, agency_app, keys, verifier, dpop_key
):
    other = AgencyKeys()
    flow.setup_app(db_session, runtime, other, client_id="other-fapi-app")
    signed = assertion(other.signing, client_id="other-fapi-app")
    refused(par(client, keys, verifier, dpop_key, client_assertion=signed), 401, "invalid_client")


def test_an_app_not_registered_for_v5_is_invalid_client(client, db_session, runtime, verifier, dpop_key):
    keys = AgencyKeys()
    v4.setup_app(db_session, runtime, keys)  # profiles: myinfo-v4 only
    refused(par(client, keys, verifier, dpop_key), 401, "invalid_client")


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"redirect_uri": REDIRECT_URI + "/other"}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:abc"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"state": None}, "invalid_request"),
        ({"state": "x" * 256}, "invalid_request"),
        ({"state": "has space"}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"nonce": "<script>"}, "invalid_request"),
        ({"authentication_context_type": "APP_AUTHENTICATION_DEFAULT"}, "invalid_request"),
        ({"authentication_context_message": "Apply for the housing grant"}, "invalid_request"),
        ({"acr_values": "urn:singpass:authentication:loa:3"}, "invalid_request"),
        ({"acr_values": "urn:singpass:authentication:loa:1"}, "invalid_request"),
        ({"acr_values": "urn:x urn:singpass:authentication:loa:2"}, "invalid_request"),
        ({"acr_values": " "}, "invalid_request"),
        ({"scope": "uinfin name"}, "invalid_scope"),
        ({"scope": "openid"}, "invalid_scope"),
        ({"scope": "openid uinfin name passportnumber"}, "invalid_scope"),
        ({"scope": "openid uinfin vehicles"}, "invalid_scope"),
        ({"scope": "openid uinfin cpfbalances.xx"}, "invalid_scope"),
        ({"scope": "openid uinfin user.name"}, "invalid_scope"),
        ({"scope": "openid UINFIN"}, "invalid_scope"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_stored(
    client, db_session, agency_app, keys, verifier, dpop_key, overrides, error
):
    before = pushed_count(db_session)
    refused(par(client, keys, verifier, dpop_key, **overrides), 400, error)
    assert pushed_count(db_session) == before


def test_duplicate_parameters_are_refused(client, agency_app, keys, verifier, dpop_key):
    body = urlencode(par_form(keys, verifier)) + "&scope=openid+uinfin"
    response = post_par(client, body, dpop=dpop_proof(dpop_key, method="POST", url=PAR_URL))
    refused(response, 400, "invalid_request")


def test_par_by_get_or_as_json_is_refused(client, agency_app, keys, verifier, dpop_key):
    by_get = client.get("/fapi/par?" + urlencode(par_form(keys, verifier)))
    assert by_get.status_code == 405 and "POST" in by_get.headers["Allow"]
    assert by_get.is_json and "request_uri" not in by_get.get_json()
    as_json = client.post(
        "/fapi/par",
        json=par_form(keys, verifier),
        headers={"DPoP": dpop_proof(dpop_key, method="POST", url=PAR_URL)},
    )
    refused(as_json, 400, "invalid_request")


def test_unknown_parameters_are_ignored(client, agency_app, keys, verifier, dpop_key):
    response = par(client, keys, verifier, dpop_key, purpose_id="marketing", prompt="login", claims="{}")
    assert response.status_code == 201


LOA = "urn:singpass:authentication:loa:"


@pytest.mark.parametrize("acr_values", [f"{LOA}2", f"{LOA}3 {LOA}2"])
def test_acr_values_naming_a_level_we_offer_are_accepted(
    client, agency_app, keys, verifier, dpop_key, acr_values
):
    """SP-PAR: a preference list, the first level available used (the ID token's `acr`:
    test_fapi_flow). Ours is two-factor sign-in, loa:2."""
    assert par(client, keys, verifier, dpop_key, acr_values=acr_values).status_code == 201


def test_login_only_parameters_are_refused_naming_the_parameter(client, agency_app, keys, verifier, dpop_key):
    response = par(client, keys, verifier, dpop_key, authentication_context_message="Log in")
    body = refused(response, 400, "invalid_request")
    assert "authentication_context_message" in body["error_description"]
    assert "Login apps only" in body["error_description"]


def test_an_app_must_have_exactly_one_purpose(client, db_session, runtime, verifier, dpop_key):
    """Registration refuses a second purpose for a v5 app (consent.apps); one added to the
    database behind its back is refused at PAR too."""
    keys = AgencyKeys()
    flow.setup_app(db_session, runtime, keys)
    loan = "To assess your housing loan application."
    db_session.add(
        Purpose(
            client_id=CLIENT_ID,
            purpose_id="loan",
            description=loan,
            required_attributes=["uinfin"],
            optional_attributes=[],
        )
    )
    db_session.commit()
    refused(par(client, keys, verifier, dpop_key, scope="openid uinfin"), 400, "invalid_request")


# --- DPoP binding ---------------------------------------------------------------------------


def test_neither_a_dpop_proof_nor_dpop_jkt_is_invalid_request(client, agency_app, keys, verifier, dpop_key):
    refused(par(client, keys, verifier, dpop_key, dpop=""), 400, "invalid_request")


def test_dpop_jkt_alone_binds_the_request(client, db_session, agency_app, keys, verifier, dpop_key):
    response = par(client, keys, verifier, dpop_key, dpop="", dpop_jkt=dpop_key.thumbprint())
    assert response.status_code == 201
    # Filtered by client: live-server tests on this worker commit requests of their own apps.
    pushed = db_session.scalars(
        select(AuthorizationRequest).where(AuthorizationRequest.client_id == CLIENT_ID)
    ).one()
    assert pushed.dpop_jkt == dpop_key.thumbprint()


def test_dpop_jkt_and_a_proof_by_another_key_disagree(client, agency_app, keys, verifier, dpop_key):
    other = ECKey.generate_key("P-256").thumbprint()
    refused(par(client, keys, verifier, dpop_key, dpop_jkt=other), 400, "invalid_request")
    refused(par(client, keys, verifier, dpop_key, dpop_jkt="not a thumbprint"), 400, "invalid_request")
    assert par(client, keys, verifier, dpop_key, dpop_jkt=dpop_key.thumbprint()).status_code == 201


@pytest.mark.parametrize(
    "proof",
    [
        lambda key: dpop_proof(key, method="POST", url=TOKEN_URL),
        lambda key: dpop_proof(key, method="GET", url=PAR_URL),
        lambda key: dpop_proof(key, method="POST", url=PAR_URL, iat=now_s() - 200),
        lambda key: dpop_proof(key, method="POST", url=PAR_URL, iat=now_s() + 60),
        lambda key: dpop_proof(key, method="POST", url=PAR_URL, jti=None),
        lambda key: "not-a-proof",
    ],
    ids=["wrong url", "wrong method", "too old", "future", "no jti", "malformed"],
)
def test_a_bad_dpop_proof_is_invalid_dpop_proof(client, agency_app, keys, verifier, dpop_key, proof):
    refused(par(client, keys, verifier, dpop_key, dpop=proof(dpop_key)), 400, "invalid_dpop_proof")


def test_a_replayed_dpop_proof_is_refused(client, agency_app, keys, verifier, dpop_key):
    proof = dpop_proof(dpop_key, method="POST", url=PAR_URL)
    assert par(client, keys, verifier, dpop_key, dpop=proof).status_code == 201
    refused(par(client, keys, verifier, dpop_key, dpop=proof), 400, "invalid_dpop_proof")


def test_two_dpop_headers_are_refused(client, agency_app, keys, verifier, dpop_key):
    headers = [("DPoP", dpop_proof(dpop_key, method="POST", url=PAR_URL)) for _ in range(2)]
    response = client.post("/fapi/par", data=par_form(keys, verifier), headers=headers)
    refused(response, 400, "invalid_dpop_proof")


@pytest.mark.parametrize("curve", ["P-384", "P-521"])
def test_es384_and_es512_dpop_keys_are_accepted(client, agency_app, keys, verifier, curve):
    assert par(client, keys, verifier, ECKey.generate_key(curve)).status_code == 201


def test_client_id_may_be_left_to_the_assertion(client, agency_app, keys, verifier, dpop_key):
    assert par(client, keys, verifier, dpop_key, client_id=None).status_code == 201
    assert CLIENT_ID
