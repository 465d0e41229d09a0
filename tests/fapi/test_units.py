"""The pieces v5 adds to the shared modules, one function at a time: the scope language, narrowing
a person to sub-attributes, choosing the client's encryption key, and the v5 client-assertion
policy (ES384/ES512, aud as a string, 120 s)."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from app.fapi.scopes import granted_scope, parse_scope, release_selection
from app.oauth.client_auth import ClientAuthError, claimed_client_id, verify_client_assertion
from app.oauth.jwks import JwksError, JwksResolver
from app.oauth.release import narrow
from app.oauth.wire import OAuthError
from profile_store.catalogue import default_catalogue

ISSUER = "https://consentry.example/fapi"
TOKEN_URL = f"{ISSUER}/token"
CLIENT_ID = "fapi-client"


class MemoryReplay:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        if (namespace, jti) in self.seen:
            return False
        self.seen.add((namespace, jti))
        return True


# --- scopes ---------------------------------------------------------------------------------


def test_parse_scope_keeps_order_drops_duplicates_and_maps_sub_attributes_to_their_parent():
    parsed = parse_scope("openid name cpfbalances.oa name cpfbalances.ma vehicles.make", default_catalogue())
    assert parsed.attributes == ["name", "cpfbalances", "vehicles"]
    assert parsed.values == ["openid", "name", "cpfbalances.oa", "cpfbalances.ma", "vehicles.make"]


@pytest.mark.parametrize(
    "scope", ["", "name", "openid", "openid Name", "openid name.value", "openid cpfbalances.", "openid chas"]
)
def test_parse_scope_refusals_are_invalid_scope(scope):
    with pytest.raises(OAuthError) as refused:
        parse_scope(scope, default_catalogue())
    assert refused.value.code == "invalid_scope"


def test_granted_scope_and_release_selection_follow_the_approved_attributes():
    values = ["openid", "uinfin", "cpfbalances.oa", "cpfbalances.ma", "vehicles.make", "regadd"]
    granted = granted_scope(values, ["uinfin", "cpfbalances"])
    assert granted == "openid uinfin cpfbalances.oa cpfbalances.ma"
    attributes, subfields = release_selection(granted.split(), ["uinfin", "cpfbalances"])
    assert attributes == ["uinfin", "cpfbalances"] and subfields == {"cpfbalances": ["oa", "ma"]}
    whole = release_selection(["openid", "cpfbalances.oa", "cpfbalances"], ["cpfbalances"])
    assert whole == (["cpfbalances"], {})
    assert release_selection(["openid", "regadd"], ["uinfin"]) == ([], {})


def test_narrow_keeps_the_envelope_and_only_the_asked_members():
    envelope = {"lastupdated": "2026-01-02", "source": "1", "classification": "C"}
    person = {
        "cpfbalances": {"oa": {"value": 1}, "ma": {"value": 2}, **envelope},
        "drivinglicence": {"qdl": {"expirydate": {"value": ""}, "classes": []}, **envelope},
        "vehicles": [{"make": {"value": "A"}, "model": {"value": "B"}, **envelope}],
        "hdbownership": {"unavailable": True, **envelope},
        "name": {"value": "TAN AH KOW", **envelope},
    }
    narrowed = narrow(
        person,
        {
            "cpfbalances": ["oa", "ra"],
            "drivinglicence": ["qdl.expirydate", "pdl.expirydate"],
            "vehicles": ["make"],
            "hdbownership": ["address"],
        },
    )
    assert narrowed["cpfbalances"] == {"oa": {"value": 1}, **envelope}
    assert narrowed["drivinglicence"] == {"qdl": {"expirydate": {"value": ""}}, **envelope}
    assert narrowed["vehicles"] == [{"make": {"value": "A"}, **envelope}]
    assert narrowed["hdbownership"] == person["hdbownership"]
    assert narrowed["name"] == person["name"]


# --- the client's keys ----------------------------------------------------------------------


def enc_key(curve: str, alg: str | None, kid: str) -> ECKey:
    params = {"use": "enc", "kid": kid, **({"alg": alg} if alg else {})}
    return ECKey.generate_key(curve, params)


def jwks(*keys: ECKey) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


V5_ALGS = ("ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW")
CURVES = ("P-256", "P-384", "P-521")


def test_the_strongest_encryption_key_wins_for_v5_and_v4_keeps_its_p256_key():
    p256 = enc_key("P-256", "ECDH-ES+A256KW", "p256")
    p384_128 = enc_key("P-384", "ECDH-ES+A128KW", "p384-128")
    p384_256 = enc_key("P-384", None, "p384-default")
    resolver = JwksResolver(jwks=jwks(p256, p384_128, p384_256))
    assert resolver.encryption_key(V5_ALGS, CURVES).kid == "p384-default"
    assert resolver.encryption_key().kid == "p256"
    only_384 = JwksResolver(jwks=jwks(p384_128))
    assert only_384.encryption_key(V5_ALGS, CURVES).kid == "p384-128"
    with pytest.raises(JwksError):
        only_384.encryption_key()


def test_signing_keys_are_matched_to_the_algorithm_by_curve():
    p256 = ECKey.generate_key("P-256", {"use": "sig", "kid": "a"})
    p384 = ECKey.generate_key("P-384", {"use": "sig", "kid": "b"})
    wrong_alg = ECKey.generate_key("P-384", {"use": "sig", "kid": "c"})
    document = jwks(p256, p384)
    document["keys"].append({**wrong_alg.as_dict(private=False), "alg": "ES256"})
    resolver = JwksResolver(jwks=document)
    assert [k.kid for k in resolver.signing_keys()] == ["a"]
    assert [k.kid for k in resolver.signing_keys(("ES384",))] == ["b"]
    assert [k.kid for k in resolver.signing_keys(("ES256", "ES384", "ES512"))] == ["a", "b"]


# --- the v5 client-assertion policy ---------------------------------------------------------


def v5_assertion(key: ECKey, now: dt.datetime, **claims) -> str:
    iat = int(now.timestamp())
    body = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": ISSUER, "jti": secrets.token_hex(16), "iat": iat}
    body["exp"] = iat + 60
    body.update(claims)
    alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.curve_name]
    return jws.serialize_compact({"alg": alg, "kid": key.kid}, json.dumps(body), key, algorithms=[alg])


def verify_v5(token: str, key: ECKey, now: dt.datetime, replay=None):
    return verify_client_assertion(
        token,
        client_id=CLIENT_ID,
        audience=(ISSUER, TOKEN_URL),
        jwks=JwksResolver(jwks=jwks(key)),
        now=now,
        replay=replay or MemoryReplay(),
        max_lifetime_s=120,
        leeway_s=30,
        algorithms=("ES256", "ES384", "ES512"),
        audience_as_string=True,
    )


@pytest.mark.parametrize("curve", CURVES)
def test_v5_assertions_may_be_es256_es384_or_es512(now, curve):
    key = ECKey.generate_key(curve, {"use": "sig", "kid": f"k-{curve}"})
    assert verify_v5(v5_assertion(key, now), key, now)["iss"] == CLIENT_ID
    assert verify_v5(v5_assertion(key, now, aud=TOKEN_URL), key, now)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": [ISSUER]}, "single string"),
        ({"aud": "https://consentry.example/com/v4/token"}, "aud"),
        ({"exp": None}, "numeric"),
        ({"iat": 0, "exp": 200}, "lifetime"),
    ],
)
def test_v5_assertion_refusals(now, claims, why):
    key = ECKey.generate_key("P-256", {"use": "sig", "kid": "k"})
    iat = int(now.timestamp())
    relative = {k: (iat + v if k in ("iat", "exp") and isinstance(v, int) else v) for k, v in claims.items()}
    token = v5_assertion(key, now, **relative)
    if claims.get("exp", 1) is None:
        token = v5_assertion(key, now, exp="never")
    with pytest.raises(ClientAuthError, match=why):
        verify_v5(token, key, now)


def test_claimed_client_id_reads_iss_without_trusting_it(now):
    key = ECKey.generate_key("P-384", {"use": "sig", "kid": "k"})
    assert claimed_client_id(v5_assertion(key, now)) == CLIENT_ID
    assert claimed_client_id("garbage") is None
    assert claimed_client_id(None) is None
