"""app.oauth.fast_jose against joserfc: the same bytes where they are deterministic, and every
output opened and verified by joserfc; signature checks agree with joserfc's on good and bad
input."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from types import SimpleNamespace

import pytest
from joserfc import jwe, jws
from joserfc.jwk import ECKey
from joserfc.util import json_b64encode

from app.oauth import fast_jose
from app.oauth.access_tokens import issue_access_token
from app.oauth.dpop import DPoPError, _imported_key, _verified_proof, thumbprint
from app.oauth.jwks import extract_jws, verify_es

CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ANOTHER_PAYLOAD = base64.urlsafe_b64encode(b'{"a":2}').decode().rstrip("=")


def segment_json(segment: str | bytes) -> dict:
    text = segment if isinstance(segment, str) else segment.decode()
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.fixture(scope="module")
def signing() -> ECKey:
    return ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)


def test_sign_es256_writes_joserfcs_header_and_payload_and_joserfc_verifies_it(signing):
    header = {"alg": "ES256", "kid": signing.kid, "typ": "JWT"}
    payload = json.dumps({"name": "Tan Ah Kow", "note": "ünïcode ✓"}, ensure_ascii=False).encode()
    ours = fast_jose.sign_es256(header, payload, signing)
    theirs = jws.serialize_compact(header, payload, signing, algorithms=["ES256"])
    assert ours.rsplit(b".", 1)[0] == theirs.encode().rsplit(b".", 1)[0]
    assert len(ours.rsplit(b".", 1)[1]) == len(theirs.rsplit(".", 1)[1])  # 64 bytes R||S
    opened = jws.deserialize_compact(ours, signing, algorithms=["ES256"])
    assert opened.payload == payload and opened.headers() == header


@pytest.mark.parametrize("typ", ["JWT", "at+jwt"])
def test_an_access_token_is_joserfcs_jws_and_joserfc_verifies_it(signing, typ):
    grant = SimpleNamespace(
        citizen_id="c-1", scope=["name"], client_id="app", purpose_id="p", subentity="T08GB0001A"
    )
    token, claims = issue_access_token(
        SimpleNamespace(signing_key=lambda: signing),
        grant=grant,  # type: ignore[arg-type]
        jkt="thumbprint",
        issuer="https://consentry.example/com/v4",
        audience="https://consentry.example/com/v4/person",
        now=dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC),
        ttl=dt.timedelta(minutes=30),
        typ=typ,
    )
    header = {"alg": "ES256", "kid": signing.kid, "typ": typ}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    theirs = jws.serialize_compact(header, payload, signing, algorithms=["ES256"])
    assert token.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    opened = jws.deserialize_compact(token, signing, algorithms=["ES256"])
    assert opened.headers() == header and json.loads(opened.payload) == claims
    assert claims["subentity"] == "T08GB0001A" and claims["exp"] - claims["iat"] == 1800


def test_sign_es256_refuses_other_algorithms_and_encryption_keys(signing):
    with pytest.raises(ValueError):
        fast_jose.sign_es256({"alg": "ES384"}, b"{}", signing)
    enc_only = ECKey.generate_key("P-256", {"use": "enc"}, auto_kid=True)
    with pytest.raises(Exception, match="enc"):
        fast_jose.sign_es256({"alg": "ES256"}, b"{}", enc_only)


@pytest.mark.parametrize(
    ("alg", "enc", "curve"),
    list(itertools.product(fast_jose.KEY_WRAP_BITS, fast_jose.GCM_BITS, ("P-256", "P-384", "P-521"))),
)
def test_encrypt_ecdh_es_kw_is_opened_by_joserfc_with_joserfcs_protected_header(alg, enc, curve):
    key = ECKey.generate_key(curve, {"use": "enc", "alg": alg}, auto_kid=True)
    header = {"alg": alg, "enc": enc, "cty": "JWT", "kid": key.kid}
    plaintext = b"eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl" * 50
    ours = fast_jose.encrypt_ecdh_es_kw(header, plaintext, key)
    opened = jwe.decrypt_compact(ours, key, algorithms=[alg, enc])
    assert opened.plaintext == plaintext
    protected = ours.split(".")[0]
    ours_header = segment_json(protected)
    # Byte for byte what joserfc encodes for this header and ephemeral key ...
    assert protected.encode() == json_b64encode({**header, "epk": ours_header["epk"]})
    # ... and the members in the order joserfc writes them, the ephemeral key's too.
    theirs = jwe.encrypt_compact(header, plaintext, key, algorithms=[alg, enc])
    theirs_header = segment_json(theirs.split(".")[0])
    assert list(ours_header) == list(theirs_header)
    assert list(ours_header["epk"]) == list(theirs_header["epk"])
    assert len(ours_header["epk"]["x"]) == len(theirs_header["epk"]["x"])  # full-length coordinates
    assert [len(part) for part in ours.split(".")[1:3]] == [len(part) for part in theirs.split(".")[1:3]]


def test_encrypt_refuses_what_it_does_not_do_and_a_signing_key():
    key = ECKey.generate_key("P-256", {"use": "enc"}, auto_kid=True)
    assert not fast_jose.supports("ECDH-ES", "A256GCM")
    assert not fast_jose.supports("ECDH-ES+A256KW", "A256CBC-HS512")
    with pytest.raises(ValueError):
        fast_jose.encrypt_ecdh_es_kw({"alg": "ECDH-ES+A256KW", "enc": "A256CBC-HS512"}, b"x", key)
    sig_only = ECKey.generate_key("P-256", {"use": "sig"}, auto_kid=True)
    with pytest.raises(Exception, match="sig"):
        fast_jose.encrypt_ecdh_es_kw({"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}, b"x", sig_only)


def _joserfc_verdict(token: str, key: ECKey, alg: str) -> bool:
    try:
        obj = jws.extract_compact(token.encode())
        return jws.validate_compact(obj, key, algorithms=[alg])
    except Exception:  # any refusal is a refusal
        return False


def _tampered(token: str) -> list[str]:
    head, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    return [
        f"{head}.{payload}.{flipped}",  # another signature
        f"{head}.{payload}.{signature[:-4]}",  # too short
        f"{head}.{payload}.{signature}AAAA",  # too long
        f"{head}.{payload}.{signature[:-1]}+",  # not base64url
        f"{head}.{ANOTHER_PAYLOAD}.{signature}",
    ]


@pytest.mark.parametrize("alg", list(CURVES))
def test_verify_es_agrees_with_joserfc(alg):
    key = ECKey.generate_key(CURVES[alg], {"use": "sig"}, auto_kid=True)
    other = ECKey.generate_key(CURVES[alg], {"use": "sig"}, auto_kid=True)
    token = jws.serialize_compact({"alg": alg}, b'{"a":1}', key, algorithms=[alg])
    public = ECKey.import_key(key.as_dict(private=False))
    cases = [(token, public, True), (token, other, False)]
    cases += [(bad, public, False) for bad in _tampered(token)]
    for value, check_key, expected in cases:
        assert _joserfc_verdict(value, check_key, alg) is expected
        try:
            obj, _claims = extract_jws(value, algorithms=(alg,))
        except ValueError:
            assert not expected
            continue
        assert verify_es(obj, check_key) is expected, value


def test_verify_es_refuses_keys_joserfc_refuses():
    key = ECKey.generate_key("P-256", auto_kid=True)
    token = jws.serialize_compact({"alg": "ES256"}, b'{"a":1}', key, algorithms=["ES256"])
    obj, _claims = extract_jws(token)
    members = key.as_dict(private=False)
    refused = [
        ECKey.import_key({**members, "use": "enc"}),  # an encryption key
        ECKey.import_key({**members, "key_ops": ["encrypt"]}),  # not for verifying
        ECKey.import_key({**members, "alg": "ES384"}),  # another algorithm's key
        ECKey.generate_key("P-384", auto_kid=True),  # another curve
    ]
    for public in refused:
        assert _joserfc_verdict(token, public, "ES256") is False
        assert verify_es(obj, public) is False
    assert verify_es(obj, ECKey.import_key(members)) is True


def _proof(key: ECKey, jwk: dict) -> str:
    return jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, b'{"jti":"x"}', key, algorithms=["ES256"]
    )


def test_a_proof_key_is_imported_once_and_its_thumbprint_is_rfc7638s():
    key = ECKey.generate_key("P-256", auto_kid=True)
    jwk = {**key.as_dict(private=False), "kid": "k1", "use": "sig", "alg": "ES256"}
    _claims, jkt = _verified_proof(_proof(key, jwk), ("ES256",))
    hits = _imported_key.cache_info().hits
    _claims, jkt_again = _verified_proof(_proof(key, jwk), ("ES256",))
    assert _imported_key.cache_info().hits == hits + 1
    assert jkt == jkt_again == thumbprint(jwk) == key.thumbprint()


def test_a_private_or_off_curve_proof_key_is_refused_every_time():
    key = ECKey.generate_key("P-256", auto_kid=True)
    private = key.as_dict(private=True)
    public = key.as_dict(private=False)
    off_curve = {**public, "y": public["x"]}
    for jwk in (private, off_curve, off_curve, {**public, "crv": "P-384"}):
        with pytest.raises(DPoPError, match="jwk"):
            _verified_proof(_proof(key, jwk), ("ES256",))
