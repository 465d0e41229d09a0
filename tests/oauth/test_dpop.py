"""DPoP proofs (RFC 9449) as the MyInfo v4 Node connector builds them, and one refusal per rule."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import string

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from app.oauth.dpop import DPoPError, normalise_url, thumbprint, verify_dpop_proof

TOKEN_URL = "https://consentry.example/com/v4/token"
PERSON_URL = "https://consentry.example/com/v4/person/b6cb9308-733b-42b3-ad38-9b5afc890206"
ACCESS_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


class MemoryReplay:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dt.datetime] = {}

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        if (namespace, jti) in self.seen:
            return False
        self.seen[namespace, jti] = expires_at
        return True


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def random_jti() -> str:
    # The connector: 40 random alphanumerics.
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))


def connector_jwk(key: ECKey) -> dict:
    """The header jwk node-jose emits: the public key plus kid (its thumbprint), use and alg."""
    public = key.as_dict(private=False)
    return {
        "kty": "EC",
        "kid": key.thumbprint(),
        "crv": "P-256",
        "x": public["x"],
        "y": public["y"],
        "use": "sig",
        "alg": "ES256",
    }


def make_proof(
    key: ECKey, now: dt.datetime, *, header=None, claims=None, drop=(), drop_header=(), signer=None, algs=None
):
    iat = int(now.timestamp())
    payload = {"htu": TOKEN_URL, "htm": "POST", "jti": random_jti(), "iat": iat, "exp": iat + 120}
    payload.update(claims or {})
    for name in drop:
        payload.pop(name)
    protected = {"typ": "dpop+jwt", "jwk": connector_jwk(key), "alg": "ES256", **(header or {})}
    for name in drop_header:
        protected.pop(name)
    return jws.serialize_compact(protected, json.dumps(payload), signer or key, algorithms=algs)


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.fixture
def replay() -> MemoryReplay:
    return MemoryReplay()


def verify(proof, now, replay, **overrides):
    options = {"htm": "POST", "htu": TOKEN_URL, "now": now, "replay": replay, **overrides}
    return verify_dpop_proof(proof, **options)


def test_connector_token_proof_is_accepted_and_returns_the_thumbprint(key, now, replay):
    proof = make_proof(key, now)
    jkt = verify(proof, now, replay)
    assert jkt == key.thumbprint() == connector_jwk(key)["kid"]
    ((namespace, _jti),) = replay.seen
    assert namespace == "dpop"
    assert next(iter(replay.seen.values())) == now + dt.timedelta(seconds=125)


def test_connector_person_proof_with_ath_and_bound_key_is_accepted(key, now, replay):
    ath = b64(hashlib.sha256(ACCESS_TOKEN.encode()).digest())
    proof = make_proof(key, now, claims={"htm": "GET", "htu": PERSON_URL, "ath": ath})
    jkt = verify(
        proof,
        now,
        replay,
        htm="GET",
        htu=PERSON_URL,
        access_token=ACCESS_TOKEN,
        expected_jkt=key.thumbprint(),
    )
    assert jkt == key.thumbprint()


def test_htu_is_compared_after_normalisation(key, now, replay):
    proof = make_proof(key, now, claims={"htu": "HTTPS://Consentry.EXAMPLE:443/com/v4/token?x=1#frag"})
    assert verify(proof, now, replay)


def test_proof_within_the_leeway_of_its_age_is_accepted(key, now, replay):
    assert verify(make_proof(key, now - dt.timedelta(seconds=124)), now, replay)
    assert verify(make_proof(key, now + dt.timedelta(seconds=5)), now, replay)


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_wrong_or_missing_typ_is_refused(key, now, replay, typ):
    proof = make_proof(key, now, header={"typ": typ}) if typ else make_proof(key, now, drop_header=["typ"])
    with pytest.raises(DPoPError, match="typ"):
        verify(proof, now, replay)


def test_alg_none_is_refused(key, now, replay):
    signed = make_proof(key, now)
    header = json.loads(base64.urlsafe_b64decode(signed.split(".")[0] + "=="))
    header["alg"] = "none"
    unsigned = f"{b64(json.dumps(header).encode())}.{signed.split('.')[1]}."
    with pytest.raises(DPoPError, match="ES256"):
        verify(unsigned, now, replay)


def test_alg_hs256_is_refused(key, now, replay):
    secret = OctKey.generate_key(256)
    proof = make_proof(key, now, header={"alg": "HS256"}, signer=secret, algs=["HS256"])
    with pytest.raises(DPoPError, match="ES256"):
        verify(proof, now, replay)


def test_alg_rs256_is_refused(key, now, replay):
    rsa = RSAKey.generate_key(2048)
    proof = make_proof(key, now, header={"alg": "RS256"}, signer=rsa, algs=["RS256"])
    with pytest.raises(DPoPError, match="ES256"):
        verify(proof, now, replay)


def test_private_key_in_jwk_is_refused(key, now, replay):
    jwk = {**connector_jwk(key), "d": key.as_dict(private=True)["d"]}
    with pytest.raises(DPoPError, match="private"):
        verify(make_proof(key, now, header={"jwk": jwk}), now, replay)


def test_non_p256_jwk_is_refused(key, now, replay):
    other = ECKey.generate_key("P-384")
    jwk = other.as_dict(private=False)
    with pytest.raises(DPoPError, match="jwk"):
        verify(make_proof(key, now, header={"jwk": jwk}), now, replay)


def test_signature_by_another_key_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="signature"):
        verify(make_proof(key, now, signer=ECKey.generate_key("P-256")), now, replay)


def test_tampered_claims_break_the_signature(key, now, replay):
    header, _payload, signature = make_proof(key, now).split(".")
    forged = {"htu": TOKEN_URL, "htm": "POST", "jti": random_jti(), "iat": int(now.timestamp())}
    with pytest.raises(DPoPError, match="signature"):
        verify(f"{header}.{b64(json.dumps(forged).encode())}.{signature}", now, replay)


def test_wrong_htm_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="htm"):
        verify(make_proof(key, now, claims={"htm": "GET"}), now, replay)


@pytest.mark.parametrize(
    "htu",
    [
        "https://consentry.example/com/v4/person",
        "http://consentry.example/com/v4/token",
        "https://consentry.example:8443/com/v4/token",
        "https://evil.example/com/v4/token",
        "/com/v4/token",
    ],
)
def test_wrong_htu_is_refused(key, now, replay, htu):
    with pytest.raises(DPoPError, match="htu"):
        verify(make_proof(key, now, claims={"htu": htu}), now, replay)


def test_too_old_proof_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="too old"):
        verify(make_proof(key, now - dt.timedelta(seconds=126)), now, replay)


def test_proof_from_the_future_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="future"):
        verify(make_proof(key, now + dt.timedelta(seconds=6)), now, replay)


@pytest.mark.parametrize("exp_offset", [121, -1])
def test_exp_beyond_max_age_or_in_the_past_is_refused(key, now, replay, exp_offset):
    iat = int(now.timestamp()) - 60
    claims = {"iat": iat, "exp": (iat + exp_offset) if exp_offset > 0 else int(now.timestamp()) - 10}
    with pytest.raises(DPoPError, match="exp"):
        verify(make_proof(key, now, claims=claims), now, replay)


@pytest.mark.parametrize("bad", [None, "1795417257", True, float("nan")])
def test_non_numeric_iat_is_refused(key, now, replay, bad):
    proof = (
        make_proof(key, now, claims={"iat": bad}) if bad is not None else make_proof(key, now, drop=["iat"])
    )
    with pytest.raises(DPoPError, match="iat"):
        verify(proof, now, replay)


def test_missing_jti_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="jti"):
        verify(make_proof(key, now, drop=["jti"]), now, replay)


def test_overlong_jti_is_refused(key, now, replay):
    with pytest.raises(DPoPError, match="jti"):
        verify(make_proof(key, now, claims={"jti": "x" * 201}), now, replay)


def test_replayed_jti_is_refused(key, now, replay):
    proof = make_proof(key, now)
    verify(proof, now, replay)
    with pytest.raises(DPoPError, match="already used"):
        verify(proof, now + dt.timedelta(seconds=1), replay)


def test_a_refused_proof_does_not_burn_its_jti(key, now, replay):
    jti = random_jti()
    with pytest.raises(DPoPError, match="htm"):
        verify(make_proof(key, now, claims={"jti": jti, "htm": "GET"}), now, replay)
    assert verify(make_proof(key, now, claims={"jti": jti}), now, replay)


def test_missing_ath_is_refused_when_a_token_is_presented(key, now, replay):
    with pytest.raises(DPoPError, match="ath"):
        verify(make_proof(key, now), now, replay, access_token=ACCESS_TOKEN)


def test_wrong_ath_is_refused(key, now, replay):
    ath = b64(hashlib.sha256(b"another token").digest())
    with pytest.raises(DPoPError, match="ath"):
        verify(make_proof(key, now, claims={"ath": ath}), now, replay, access_token=ACCESS_TOKEN)


def test_key_other_than_the_token_binding_is_refused(key, now, replay):
    other = ECKey.generate_key("P-256").thumbprint()
    with pytest.raises(DPoPError, match="bound"):
        verify(make_proof(key, now), now, replay, expected_jkt=other)


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "x" * 9000, 42])
def test_garbage_is_refused(now, replay, garbage):
    with pytest.raises(DPoPError):
        verify(garbage, now, replay)


def test_thumbprint_ignores_extra_members(key):
    assert thumbprint(connector_jwk(key)) == key.thumbprint()
    # RFC 7638 §3.1 example key.
    rfc = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQ"
        "MicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr"
        "3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(rfc) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/a/B?q=1#f", "https://example.com/a/B"),
        ("http://example.com:80", "http://example.com/"),
        ("http://127.0.0.1:5156/com/v4/token", "http://127.0.0.1:5156/com/v4/token"),
        ("https://[::1]:443/x", "https://[::1]/x"),
    ],
)
def test_normalise_url(url, expected):
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://example.com/", "/relative", "https://", "https://host:99999/"])
def test_normalise_url_refuses_non_http_urls(url):
    with pytest.raises(ValueError):
        normalise_url(url)
