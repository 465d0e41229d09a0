"""private_key_jwt client assertions (RFC 7523) as the MyInfo v4 connector signs them, and the
client JWKS they are checked against, inline or from a real loopback jwks_uri."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import string
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from app.oauth.client_auth import ClientAuthError, verify_client_assertion
from app.oauth.jwks import MAX_BYTES, JwksCache, JwksError, JwksResolver

CLIENT_ID = "STG2-MYINFO-SELF-TEST"
TOKEN_URL = "https://consentry.example/com/v4/token"


class MemoryReplay:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dt.datetime] = {}

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        if (namespace, jti) in self.seen:
            return False
        self.seen[namespace, jti] = expires_at
        return True


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class JwksServer:
    """A client's JWKS endpoint on loopback; tests change `body` to rotate keys."""

    def __init__(self) -> None:
        self.body: bytes = b'{"keys": []}'
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def serve(self, *keys: ECKey) -> None:
        self.body = json.dumps(jwks_of(*keys)).encode()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def client_key(kid: str, use: str = "sig") -> ECKey:
    alg = "ES256" if use == "sig" else "ECDH-ES+A256KW"
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": use, "alg": alg})


def jwks_of(*keys: ECKey) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def make_assertion(key, now, *, kid="__key__", claims=None, drop=(), alg="ES256"):
    """The connector's assertion: header typ/alg/kid, claims sub jti aud iss iat exp cnf."""
    iat = int(now.timestamp())
    jti = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    payload = {"sub": CLIENT_ID, "jti": jti, "aud": TOKEN_URL, "iss": CLIENT_ID, "iat": iat, "exp": iat + 300}
    payload["cnf"] = {"jkt": ECKey.generate_key("P-256").thumbprint()}
    payload.update(claims or {})
    for name in drop:
        payload.pop(name)
    header = {"typ": "JWT", "alg": alg}
    if kid is not None:
        header["kid"] = key.kid if kid == "__key__" else kid
    return jws.serialize_compact(header, json.dumps(payload), key, algorithms=[alg])


@pytest.fixture
def sig() -> ECKey:
    return client_key("agency-sig-1")


@pytest.fixture
def enc() -> ECKey:
    return client_key("agency-enc-1", "enc")


@pytest.fixture
def resolver(sig, enc) -> JwksResolver:
    return JwksResolver(jwks=jwks_of(sig, enc))


@pytest.fixture
def replay() -> MemoryReplay:
    return MemoryReplay()


def verify(assertion, now, replay, jwks, **overrides):
    options = {"client_id": CLIENT_ID, "audience": TOKEN_URL, "jwks": jwks, "now": now, "replay": replay}
    return verify_client_assertion(assertion, **(options | overrides))


def test_connector_assertion_selected_by_kid_is_accepted(sig, resolver, now, replay):
    claims = verify(make_assertion(sig, now), now, replay, resolver)
    assert claims["sub"] == claims["iss"] == CLIENT_ID
    assert "jkt" in claims["cnf"]
    ((namespace, jti), expires_at) = next(iter(replay.seen.items()))
    assert (namespace, jti) == (f"client_assertion:{CLIENT_ID}", claims["jti"])
    assert expires_at >= now + dt.timedelta(seconds=300)


def test_connector_default_kid_is_the_key_thumbprint(sig, resolver, now, replay):
    assertion = make_assertion(sig, now, kid=sig.thumbprint())
    assert verify(assertion, now, replay, resolver)["sub"] == CLIENT_ID


def test_assertion_without_kid_is_tried_against_every_signing_key(sig, resolver, now, replay):
    assert verify(make_assertion(sig, now, kid=None), now, replay, resolver)


@pytest.mark.parametrize(
    "aud", [[TOKEN_URL, "https://other.example/"], "https://CONSENTRY.example:443/com/v4/token?x=1"]
)
def test_audience_may_be_a_list_or_differ_only_in_normalisation(sig, resolver, now, replay, aud):
    assert verify(make_assertion(sig, now, claims={"aud": aud}), now, replay, resolver)


def test_rs256_is_refused(now, replay):
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
    with pytest.raises(ClientAuthError, match="ES256"):
        verify(make_assertion(rsa, now, alg="RS256"), now, replay, JwksResolver(jwks=jwks_of(rsa)))


def test_encryption_key_cannot_sign_an_assertion(enc, resolver, now, replay):
    # The same private key stripped of use/alg, so joserfc lets us sign with it.
    signer = ECKey.import_key({k: v for k, v in enc.as_dict(private=True).items() if k not in ("use", "alg")})
    with pytest.raises(ClientAuthError, match="no signing key"):
        verify(make_assertion(signer, now), now, replay, resolver)


def test_signature_by_another_key_under_a_known_kid_is_refused(resolver, now, replay):
    impostor = client_key("agency-sig-1")
    with pytest.raises(ClientAuthError, match="signature"):
        verify(make_assertion(impostor, now), now, replay, resolver)


@pytest.mark.parametrize(
    "aud", ["https://consentry.example/com/v4/person", "https://evil.example/com/v4/token", ["x"], None]
)
def test_wrong_audience_is_refused(sig, resolver, now, replay, aud):
    with pytest.raises(ClientAuthError, match="aud"):
        verify(make_assertion(sig, now, claims={"aud": aud}), now, replay, resolver)


def test_assertion_expired_five_minutes_ago_is_refused(sig, resolver, now, replay):
    assertion = make_assertion(sig, now - dt.timedelta(minutes=10))
    with pytest.raises(ClientAuthError, match="expired"):
        verify(assertion, now, replay, resolver)


def test_assertion_issued_a_minute_in_the_future_is_refused(sig, resolver, now, replay):
    assertion = make_assertion(sig, now + dt.timedelta(seconds=60))
    with pytest.raises(ClientAuthError, match="not valid yet"):
        verify(assertion, now, replay, resolver)


def test_lifetime_over_300_seconds_is_refused(sig, resolver, now, replay):
    iat = int(now.timestamp())
    assertion = make_assertion(sig, now, claims={"exp": iat + 301})
    with pytest.raises(ClientAuthError, match="lifetime"):
        verify(assertion, now, replay, resolver)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": ["sub"]}, "sub"),
        ({"claims": {"sub": "OTHER-CLIENT"}}, "sub"),
        ({"claims": {"iss": "OTHER-CLIENT"}}, "iss"),
        ({"drop": ["jti"]}, "jti"),
        ({"drop": ["iat"]}, "iat"),
        ({"claims": {"exp": "soon"}}, "exp"),
    ],
)
def test_missing_or_wrong_claims_are_refused(sig, resolver, now, replay, change, message):
    with pytest.raises(ClientAuthError, match=message):
        verify(make_assertion(sig, now, **change), now, replay, resolver)


def test_assertion_for_another_client_id_is_refused(sig, resolver, now, replay):
    with pytest.raises(ClientAuthError, match="iss"):
        verify(make_assertion(sig, now), now, replay, resolver, client_id="ANOTHER-APP")


def test_replayed_jti_is_refused(sig, resolver, now, replay):
    assertion = make_assertion(sig, now)
    verify(assertion, now, replay, resolver)
    with pytest.raises(ClientAuthError, match="already used"):
        verify(assertion, now + dt.timedelta(seconds=1), replay, resolver)


def test_key_rotation_on_the_clients_side_is_picked_up_by_refresh(jwks_server, now, replay):
    clock = FakeMonotonic()
    old, new = client_key("agency-sig-1"), client_key("agency-sig-2")
    jwks_server.serve(old)
    resolver = JwksResolver(jwks_uri=jwks_server.url, monotonic=clock)
    assert verify(make_assertion(old, now), now, replay, resolver)
    assert jwks_server.hits == 1

    jwks_server.serve(new)  # the client rotates and signs with its new key at once
    clock.t += 2
    with pytest.raises(ClientAuthError, match="no signing key"):
        verify(make_assertion(new, now), now, replay, resolver)
    assert jwks_server.hits == 1, "a refetch within 10 s of the last one is throttled"

    clock.t += 10
    assert verify(make_assertion(new, now), now, replay, resolver)
    assert jwks_server.hits == 2

    clock.t += 11
    with pytest.raises(ClientAuthError, match="no signing key"):
        verify(make_assertion(client_key("never-published"), now), now, replay, resolver)
    assert jwks_server.hits == 3, "an unknown kid refetches once, then fails"


def test_fetched_keys_are_cached_for_an_hour_by_default(sig, jwks_server, now, replay):
    clock = FakeMonotonic()
    jwks_server.serve(sig)
    resolver = JwksResolver(jwks_uri=jwks_server.url, monotonic=clock)
    for _ in range(3):
        verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 1
    clock.t += 3599  # the v5 spec's hour: a client rotating its keys plans around it
    verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 1
    clock.t += 1
    verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 2


def test_the_ttl_is_the_callers(sig, jwks_server, now, replay):
    clock = FakeMonotonic()
    jwks_server.serve(sig)
    resolver = JwksResolver(jwks_uri=jwks_server.url, monotonic=clock, ttl_s=300)
    verify(make_assertion(sig, now), now, replay, resolver)
    clock.t += 300
    verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 2


def test_failing_jwks_uri_is_a_client_auth_error_and_is_not_hammered(sig, jwks_server, now, replay):
    clock = FakeMonotonic()
    jwks_server.status = 500
    resolver = JwksResolver(jwks_uri=jwks_server.url, monotonic=clock)
    for _ in range(3):
        with pytest.raises(ClientAuthError, match="client keys unavailable"):
            verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 1

    jwks_server.status = 200
    jwks_server.serve(sig)
    clock.t += 10
    assert verify(make_assertion(sig, now), now, replay, resolver)
    assert jwks_server.hits == 2


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"keys": {}}',
        b"not json",
        json.dumps({"keys": [{"kty": "EC"}] * 65}).encode(),
        b'{"keys": [], "pad": "' + b"x" * MAX_BYTES + b'"}',
    ],
)
def test_malformed_or_oversized_jwks_documents_are_refused(jwks_server, body):
    jwks_server.body = body
    with pytest.raises(JwksError):
        JwksResolver(jwks_uri=jwks_server.url).signing_keys()


def test_jwks_keeps_only_public_p256_keys(sig, enc):
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa"})
    leaked = {**client_key("leaked").as_dict(private=True)}
    resolver = JwksResolver(jwks={"keys": [rsa.as_dict(), leaked, *jwks_of(sig, enc)["keys"]]})
    assert [key.kid for key in resolver.signing_keys()] == ["agency-sig-1"]
    assert resolver.encryption_key().kid == "agency-enc-1"
    assert not resolver.encryption_key().is_private


def test_missing_encryption_key_is_a_jwks_error(sig):
    with pytest.raises(JwksError, match="encryption"):
        JwksResolver(jwks=jwks_of(sig)).encryption_key()


@pytest.mark.parametrize(
    "uri", ["http://agency.example/jwks.json", "ftp://127.0.0.1/jwks.json", "https:///jwks.json"]
)
def test_jwks_uri_must_be_https_except_on_loopback(uri):
    with pytest.raises(JwksError, match="https"):
        JwksResolver(jwks_uri=uri)


def test_jwks_cache_keeps_a_resolver_per_client_until_its_registration_changes(sig, enc):
    cache = JwksCache()
    try:
        first = cache.resolver("app-1", jwks=jwks_of(sig))
        assert cache.resolver("app-1", jwks=jwks_of(sig)) is first
        assert cache.resolver("app-2", jwks=jwks_of(sig)) is not first
        changed = cache.resolver("app-1", jwks=jwks_of(sig, enc))
        assert changed is not first and changed.encryption_key().kid == "agency-enc-1"
    finally:
        cache.close()
