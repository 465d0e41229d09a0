"""The v4 token endpoint's client authentication as a stock client library meets it (issue 16,
item 2): `client_id` may be left out when the assertion names the client (RFC 7521 §4.2), and
every refusal says precisely which check failed, never a secret."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from consent.apps import set_disabled
from examples.myinfo_v4_client import dpop_proof
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, TOKEN_URL, get_code, get_person, open_person, post_token, token_form


def call(client, keys, code, verifier, dpop_key, **overrides):
    form = token_form(keys, code, verifier, dpop_key, **overrides)
    return post_token(client, form, dpop=dpop_proof(dpop_key, method="POST", url=TOKEN_URL))


def refused(response) -> str:
    """The description of a 401 invalid_client."""
    assert response.status_code == 401, response.text
    body = response.get_json()
    assert body["error"] == "invalid_client", body
    return body["error_description"]


def test_a_token_request_without_client_id_completes_the_flow(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier, attributes=["regadd"])
    response = call(client, keys, code, verifier, dpop_key, client_id=None)
    assert response.status_code == 200, response.text
    token = response.get_json()
    jwks = client.get("/.well-known/keys.json").get_json()
    person, _ = open_person(get_person(client, token["access_token"], dpop_key), keys, jwks)
    assert set(person) == {"uinfin", "name", "regadd"}


def assertion_with(keys, dpop_key, **claims) -> str:
    return flow.client_assertion(keys, dpop_key=dpop_key, **claims)


@pytest.mark.parametrize(
    ("claims", "form", "description"),
    [
        (
            {"iss": "nobody-app", "sub": "nobody-app"},
            {"client_id": None},
            'unknown client: no app "nobody-app" is registered',
        ),
        ({}, {"client_id": "nobody-app"}, 'unknown client: no app "nobody-app" is registered'),
        (
            {"sub": "someone-else"},
            {},
            "client_assertion iss and sub must both be the client_id (RFC 7523 §3): "
            'iss is "housing-grant-app", sub is "someone-else"',
        ),
        (
            {"sub": None},
            {"client_id": None},
            'client_assertion sub must be the client_id "housing-grant-app"',
        ),
        (
            {"aud": "http://localhost/com/v4/person"},
            {},
            'client_assertion aud must be http://localhost/com/v4/token, got "http://localhost/com/v4/person"',
        ),
        ({}, {"client_assertion_type": None}, "client_assertion_type is missing"),
        ({}, {"client_assertion": None}, "client_assertion is missing"),
    ],
)
def test_each_identity_check_says_what_failed(
    client, keys, citizen, verifier, dpop_key, claims, form, description
):
    code = get_code(client, citizen.id, verifier)
    overrides = {"client_assertion": assertion_with(keys, dpop_key, **claims), **form}
    assert refused(call(client, keys, code, verifier, dpop_key, **overrides)).startswith(description)


def test_a_long_lived_assertion_is_refused_with_the_numbers(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    now = int(time.time())
    assertion = assertion_with(keys, dpop_key, iat=now, exp=now + 3600)
    description = refused(call(client, keys, code, verifier, dpop_key, client_assertion=assertion))
    assert description == "client_assertion lifetime is too long: max 300 s, got 3600 s"


def test_an_expired_assertion_says_how_long_ago(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    now = int(time.time())
    assertion = assertion_with(keys, dpop_key, iat=now - 400, exp=now - 100)
    description = refused(call(client, keys, code, verifier, dpop_key, client_assertion=assertion))
    assert description.startswith("client_assertion has expired: exp was 10") and description.endswith(
        " s ago"
    )


def test_a_replayed_assertion_is_named_as_such(client, keys, citizen, verifier, dpop_key):
    assertion = assertion_with(keys, dpop_key)
    first = get_code(client, citizen.id, verifier)
    assert call(client, keys, first, verifier, dpop_key, client_assertion=assertion).status_code == 200
    second = get_code(client, citizen.id, verifier)
    description = refused(call(client, keys, second, verifier, dpop_key, client_assertion=assertion))
    assert description.startswith("client_assertion jti was already used")


def test_an_unknown_kid_a_wrong_key_and_a_wrong_alg_are_told_apart(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    now = int(time.time())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "jti": "j1", "iat": now, "exp": now + 300}
    stranger = ECKey.generate_key("P-256")
    unknown = jwt.encode({"alg": "ES256", "kid": "not-published"}, claims, stranger)
    description = refused(call(client, keys, code, verifier, dpop_key, client_assertion=unknown))
    assert description.startswith('no signing key in the client\'s JWKS has kid "not-published"')

    forged = jwt.encode({"alg": "ES256", "kid": keys.signing.kid}, {**claims, "jti": "j2"}, stranger)
    description = refused(call(client, keys, code, verifier, dpop_key, client_assertion=forged))
    expected = "client_assertion signature is invalid: it does not verify with the client's key"
    assert description == f'{expected} "{keys.signing.kid}"'

    rsa = RSAKey.generate_key(2048)
    rs256 = jwt.encode({"alg": "RS256", "kid": "rsa"}, {**claims, "jti": "j3"}, rsa, algorithms=["RS256"])
    description = refused(call(client, keys, code, verifier, dpop_key, client_assertion=rs256))
    assert description == 'client_assertion is not an ES256 JWS: alg "RS256" is not allowed, only ES256'
    # Authlib's default: RS256, and no client_id in the form. The alg is still what is named.
    rs256 = jwt.encode({"alg": "RS256"}, {**claims, "jti": "j4"}, rsa, algorithms=["RS256"])
    without_id = call(client, keys, code, verifier, dpop_key, client_assertion=rs256, client_id=None)
    assert (
        refused(without_id) == 'client_assertion is not an ES256 JWS: alg "RS256" is not allowed, only ES256'
    )
    assert "BEGIN" not in description and stranger.as_dict(private=True)["d"] not in description


def test_a_disabled_app_and_one_not_registered_for_v4_are_told_apart(
    client, db_session, keys, agency_app, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier)
    agency_app.profiles = ["myinfo-v5"]
    db_session.commit()
    description = refused(call(client, keys, code, verifier, dpop_key))
    assert description == 'the app "housing-grant-app" is not registered for myinfo-v4'

    agency_app.profiles = ["myinfo-v4"]
    set_disabled(db_session, client_id=CLIENT_ID, disabled=True, now=flow._now())
    db_session.commit()
    assert refused(call(client, keys, code, verifier, dpop_key)) == 'the app "housing-grant-app" is disabled'
