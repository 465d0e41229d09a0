"""Fuzzing the MyInfo v4 endpoints (authorize, token, person) through the Flask test client.

Each test registers an app, makes a citizen and runs the real flow once, so the fuzzer starts from
values that pass: a registered client, a code (already redeemed), a DPoP-bound access token, keys
that sign assertions and proofs the server accepts. Every example then keeps some of those and
garbles the rest: random and duplicated parameters, huge values, wrong content types,
JWT-looking strings, and JWTs *validly signed* over mutated headers and claims (so the claim
checks behind the signature run too), deeply nested JSON, odd path segments.

Whatever comes in: never a 5xx; every 4xx JSON body from token and person names an "error" and an
"error_description"; authorize redirects only to the consent screen or a registered redirect
URI; and person data (application/jose) goes out only for a request that is valid in every part,
which the fuzzer also generates, as a control, and which must then succeed.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from agency_connectors.refresh import refresh_citizen
from app.oauth.dpop import access_token_hash
from app.oauth.wire import split_scope
from consent.grants import pkce_challenge
from examples.myinfo_v4_client import ASSERTION_TYPE
from tests.factories import make_citizen
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, OPTIONAL, PERSON_URL, PURPOSE, REDIRECT_URI, REQUIRED, TOKEN_URL

FUZZ = settings(
    max_examples=150,
    deadline=None,
    # The fixtures (app, citizen, keys, token) are made once and shared by every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # nothing written into the working tree
)
REGISTERED_URIS = (REDIRECT_URI, "http://localhost:3001/callback?tenant=a")
# The wire parameters (spec §4.1, §4.2), spelled out rather than imported: the test is about them.
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "scope",
    "purpose_id",
    "code_challenge",
    "code_challenge_method",
    "response_type",
    "state",
    "subentity",
)
TOKEN_PARAMS = (
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "code_verifier",
    "client_assertion_type",
    "client_assertion",
)
ATTRIBUTES = REQUIRED + OPTIONAL + ["vehicles", "passportnumber", "email"]

# --- building blocks --------------------------------------------------------------------------

# What can travel in an HTTP header (latin-1, no control characters but tab).
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",), include_characters="\t"))
# Any text, NUL often (PostgreSQL can neither store nor compare it; SQLite does not mind).
ANY_TEXT = st.text(max_size=80) | st.text(max_size=20).map(lambda t: t + "\x00")
HUGE = st.sampled_from([4097, 8193, 70_000]).map(lambda n: "A" * n)  # past each length limit
NESTED = st.integers(500, 4000).map(lambda n: "[" * n + "]" * n) | st.integers(500, 2500).map(
    lambda n: '{"a":' * n + "1" + "}" * n
)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(header: Any, payload: bytes, key: ECKey) -> str:
    """A compact JWS over any header and payload bytes, with a valid ES256 signature by `key`
    (joserfc would refuse to build many of these)."""
    head = b64(json.dumps(header).encode()) if not isinstance(header, bytes) else b64(header)
    signing_input = f"{head}.{b64(payload)}".encode("ascii")
    r, s = decode_dss_signature(key.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{signing_input.decode()}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


SEGMENT = (
    st.binary(max_size=120).map(b64)
    | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ %", max_size=80)
    | JSON.map(lambda value: b64(json.dumps(value).encode()))
    | NESTED.map(lambda text: b64(text.encode()))
)
JWT_LOOKING = st.builds("{}.{}.{}".format, SEGMENT, SEGMENT, SEGMENT) | st.lists(SEGMENT, max_size=5).map(
    ".".join
)


@st.composite
def mutated(draw, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with some members deleted or given random JSON values, and a few added."""
    out = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(base)), unique=True, max_size=len(base))):
        if draw(st.booleans()):
            del out[name]
        else:
            out[name] = draw(JSON | ANY_TEXT)
    out.update(draw(st.dictionaries(st.sampled_from(["crit", "b64", "nbf", "kid", "cnf", "x", "zip"]), JSON)))
    return out


@st.composite
def signed_payload(draw, header: dict[str, Any], claims: dict[str, Any], key: ECKey) -> str:
    """A JWS signed by `key` whose header and claims are mutated, or whose payload is not a claims
    object at all (deeply nested JSON, a list, bytes)."""
    head = draw(mutated(header) | st.just(header))
    body = draw(
        mutated(claims).map(lambda c: json.dumps(c).encode())
        | NESTED.map(str.encode)
        | JSON.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=60)
    )
    return signed(head, body, key)


@dataclass
class Part:
    """One part of a request and whether it is the valid one."""

    value: Any
    valid: bool


def part(valid: st.SearchStrategy, *invalid: st.SearchStrategy) -> st.SearchStrategy[Part]:
    return valid.map(lambda v: Part(v, True)) | st.one_of(*invalid).map(lambda v: Part(v, False))


def assert_sound(response, *, oauth_json: bool = True) -> dict | None:
    """No 5xx and no person data; a 4xx JSON body names the error. Returns the JSON body, if any."""
    assert response.status_code < 500, (response.status_code, response.get_data()[:500])
    assert response.mimetype != "application/jose", response.status_code
    body = response.get_json(silent=True) if response.mimetype == "application/json" else None
    if oauth_json and 400 <= response.status_code < 500 and body is not None:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert isinstance(body.get("error_description"), str) and body["error_description"], body
    return body


# --- the flow once, to fuzz around ------------------------------------------------------------


@dataclass
class Flow:
    keys: flow.AgencyKeys
    dpop_key: ECKey
    verifier: str
    code: str  # redeemed once already
    access_token: str
    sub: str
    granted: list[str]


@pytest.fixture
def ran(app, client, db_session, runtime, monkeypatch) -> Flow:
    # The fuzzer sends hundreds of token requests a minute, most failing client authentication;
    # the limits are tested elsewhere (tests/fapi/test_client_auth_limits.py).
    rt = app.extensions["consentry"]
    rt.config = rt.config.replace(token_rate_limit=100_000, client_auth_failure_limit=100_000)
    keys, dpop_key, verifier = flow.AgencyKeys(), ECKey.generate_key("P-256"), secrets.token_hex(32)
    flow.setup_app(db_session, runtime, keys)
    citizen = make_citizen(db_session, runtime.vault)
    # Only the agency behind what is granted below (uinfin, name, regadd): one call, not eight.
    refresh_citizen(
        db_session,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        now=flow._now(),
        agencies=["identity"],
    )
    db_session.commit()
    code = flow.get_code(client, citizen.id, verifier, attributes=["regadd"])
    token = flow.get_token(client, keys, code, verifier, dpop_key)
    return Flow(
        keys=keys,
        dpop_key=dpop_key,
        verifier=verifier,
        code=code,
        access_token=token["access_token"],
        sub=flow.token_sub(token["access_token"]),
        granted=token["scope"].split(),
    )


def dpop_claims(*, htm: str, htu: str, access_token: str | None = None) -> dict[str, Any]:
    now = int(time.time())
    claims = {"htu": htu, "htm": htm, "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 120}
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    return claims


def dpop_header(key: ECKey) -> dict[str, Any]:
    return {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}


def fresh_proof(key: ECKey, **claims: Any) -> str:
    return signed(dpop_header(key), json.dumps(dpop_claims(**claims)).encode(), key)


# --- token ------------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded; charset=latin-1",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "text/plain",
        "",
    ]
) | HEADER_TEXT.filter(lambda t: "\t" not in t)


TOKEN_AXES = ("param", "assertion", "duplicate", "unknown", "content_type", "raw_body", "dpop")


@st.composite
def token_request(draw, ran: Flow) -> tuple[list[tuple[str, str]] | bytes, str, str | None]:
    """(form pairs or raw body, content type, DPoP header): the valid request with up to three of
    its axes broken, so most examples get deep (with none broken, only the used code is wrong)."""
    broken = set(draw(st.lists(st.sampled_from(TOKEN_AXES), max_size=3)))
    # A third of the examples break the client assertion alone or the DPoP proof alone, so that
    # many reach each of those checks (mixed with other axes, few did: a run could see none).
    broken = draw(st.sampled_from([{"assertion"}, {"dpop"}, broken, broken, broken, broken]))
    attacker = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "jti": secrets.token_urlsafe(16)}
    claims |= {"iat": now, "exp": now + 300, "cnf": {"jkt": ran.dpop_key.thumbprint()}}
    header = {"alg": "ES256", "typ": "JWT", "kid": ran.keys.signing.kid}
    form = {
        "grant_type": "authorization_code",
        "code": ran.code,
        "redirect_uri": draw(st.sampled_from(REGISTERED_URIS)),
        "client_id": CLIENT_ID,
        "code_verifier": ran.verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed(header, json.dumps(claims).encode(), ran.keys.signing),
    }
    if "param" in broken:
        for name in draw(st.lists(st.sampled_from(TOKEN_PARAMS), min_size=1, max_size=3, unique=True)):
            value = draw(st.none() | ANY_TEXT | HUGE | JWT_LOOKING)
            form = {k: v for k, v in form.items() if k != name} if value is None else {**form, name: value}
    if "assertion" in broken:  # validly signed (by the client or a stranger) over mutated content
        key = draw(st.sampled_from([ran.keys.signing, attacker]))
        form["client_assertion"] = draw(signed_payload(header, claims, key))
    pairs = list(form.items())
    if "duplicate" in broken:
        pairs += [
            (name, draw(st.just(form.get(name, "")) | ANY_TEXT))
            for name in draw(st.lists(st.sampled_from(TOKEN_PARAMS), min_size=1, max_size=2))
        ]
    if "unknown" in broken:
        pairs += draw(st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=3))
    pairs = draw(st.permutations(pairs))
    body: list[tuple[str, str]] | bytes = draw(st.binary(max_size=300)) if "raw_body" in broken else pairs
    content_type = draw(CONTENT_TYPES) if "content_type" in broken else "application/x-www-form-urlencoded"
    dpop: str | None = fresh_proof(ran.dpop_key, htm="POST", htu=TOKEN_URL)
    if "dpop" in broken:
        proof_key = draw(st.sampled_from([ran.dpop_key, attacker]))
        base = dpop_claims(htm="POST", htu=TOKEN_URL)
        dpop = draw(
            st.none()
            | signed_payload(dpop_header(proof_key), base, proof_key)
            | st.just(fresh_proof(attacker, htm="POST", htu=TOKEN_URL))
            | JWT_LOOKING
            | HEADER_TEXT
            | HUGE
        )
    return body, content_type, dpop


def test_fuzz_token_endpoint(client, ran):
    seen: Counter[str] = Counter()

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        body, content_type, dpop = data.draw(token_request(ran))
        raw = urlencode(body).encode() if isinstance(body, list) else body
        headers = {"DPoP": dpop} if dpop is not None else {}
        response = client.post("/com/v4/token", data=raw, content_type=content_type, headers=headers)
        assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:500])
        body_json = assert_sound(response)
        assert body_json is not None, response.get_data()[:200]
        seen[body_json["error"]] += 1

    run()
    # The fuzzer got past content type, parameters, client authentication and DPoP to the code.
    assert seen["invalid_grant"] > 0 and seen["invalid_client"] > 0 and seen["invalid_dpop_proof"] > 0, seen


# --- person -----------------------------------------------------------------------------------

ODD_SUBS = st.sampled_from(
    ["..", ".", "%2e%2e", "a%2Fb", "%00", "%ff", "%", "%zz", "~", "a b", "%20", "\u00e9", "x" * 5000]
)


PERSON_AXES = (
    "token",
    "scheme",
    "authorization",
    "sub",
    "scope",
    "duplicate",
    "subentity",
    "unknown",
    "proof",
)


@st.composite
def person_request(draw, ran: Flow, platform_key: ECKey, platform_kid: str) -> tuple[str, dict, bool]:
    """(path with query, headers, whether every part is right): the valid request with up to three
    of its axes broken. Some breakages leave it valid (an unknown parameter, "dpop" in lower case,
    a narrower scope); the oracle follows the server's rules for those."""
    broken = set(draw(st.lists(st.sampled_from(PERSON_AXES), max_size=3)))
    valid = True
    token, scheme, sub = ran.access_token, "DPoP ", ran.sub
    if "token" in broken:
        # Signed with our own key over mutated claims, but with an unknown jti: never releasable.
        forged = {**flow.token_claims(ran.access_token), "jti": secrets.token_urlsafe(24)}
        header = {"alg": "ES256", "kid": platform_kid, "typ": "JWT"}
        token, valid = (
            draw(signed_payload(header, forged, platform_key) | JWT_LOOKING | HEADER_TEXT | HUGE),
            False,
        )
    if "scheme" in broken:
        scheme = draw(st.sampled_from(["dpop ", "DPOP ", "Bearer ", "", "DPoP", "Basic ", "DPoP\t"]))
        valid &= scheme.lower() == "dpop "
    authorization: str | None = scheme + token
    if "authorization" in broken:
        authorization, valid = draw(st.none() | HEADER_TEXT), False
    if "sub" in broken:
        sub, valid = draw(ANY_TEXT.filter(bool).map(lambda s: quote(s, safe="")) | ODD_SUBS), False
    query: list[tuple[str, str]] = []
    if "scope" in broken:
        scope = draw(
            st.lists(st.sampled_from(ATTRIBUTES), max_size=4).map(" ".join)
            | st.lists(st.sampled_from(ran.granted), min_size=1).map(",".join)
            | ANY_TEXT
            | HUGE
        )
        names = split_scope(scope)
        # Asked for at authorisation (flow.authorize: REQUIRED + OPTIONAL) is fine, declined ones
        # are simply absent from the answer (issue 16); anything never asked for is refused.
        valid &= len(scope) <= 4096 and bool(names) and set(names) <= set(REQUIRED + OPTIONAL)
        query.append(("scope", scope))
    if "duplicate" in broken:
        query += [("scope", " ".join(ran.granted))] * 2 if draw(st.booleans()) else [("subentity", "")] * 2
        valid = False
    if "subentity" in broken:  # the token has none, so any value is another one
        query.append(("subentity", draw(ANY_TEXT)))
        valid = False
    if "unknown" in broken:
        unknown = draw(
            st.lists(st.tuples(st.sampled_from(["x", "format", "attributes"]), ANY_TEXT), min_size=1)
        )
        # Ignored, unless it holds a NUL: refused anywhere in a request (app/request_guards.py).
        valid &= not any("\x00" in value for _, value in unknown)
        query += unknown
    query = draw(st.permutations(query))
    htu = f"{PERSON_URL}/{ran.sub}"
    proof: str | None = fresh_proof(ran.dpop_key, htm="GET", htu=htu, access_token=ran.access_token)
    if "proof" in broken:
        attacker = ECKey.generate_key("P-256")
        base = dpop_claims(htm="GET", htu=htu, access_token=ran.access_token)
        proof = draw(
            # Claims fuzzed under another key: every claim check runs before the key binding fails.
            signed_payload(dpop_header(attacker), base, attacker)
            | st.just(fresh_proof(ran.dpop_key, htm="GET", htu=htu + "x", access_token=ran.access_token))
            | st.just(fresh_proof(ran.dpop_key, htm="POST", htu=htu, access_token=ran.access_token))
            | st.just(fresh_proof(ran.dpop_key, htm="GET", htu=htu))
            | JWT_LOOKING
            | HEADER_TEXT
            | HUGE
            | st.none()
        )
        valid = False
    headers = {
        name: value
        for name, value in (("Authorization", authorization), ("DPoP", proof))
        if value is not None
    }
    suffix = draw(st.sampled_from(["", "/"]))
    path = f"/com/v4/person/{sub}{suffix}" + ("?" + urlencode(query) if query else "")
    return path, headers, valid


def test_fuzz_person_endpoint(app, client, ran):
    platform_key = app.extensions["consentry"].platform_keys.signing_key()
    seen: Counter[str] = Counter()

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        path, headers, valid = data.draw(person_request(ran, platform_key, platform_key.kid))
        response = client.get(path, headers=headers)
        if valid:  # the control: a request right in every part gets the data
            assert response.status_code == 200 and response.mimetype == "application/jose", response.text
            seen["released"] += 1
            return
        body = assert_sound(response)
        seen[body["error"] if body else str(response.status_code)] += 1

    run()
    assert seen["invalid_dpop_proof"] > 0 and seen["invalid_token"] > 0, seen


# --- authorize --------------------------------------------------------------------------------


AUTHORIZE_AXES = ("param", "duplicate", "unknown", "garbage")


@st.composite
def authorize_query(draw, verifier: str) -> str:
    """A valid authorization request's query string with up to three of its axes broken."""
    broken = set(draw(st.lists(st.sampled_from(AUTHORIZE_AXES), max_size=3)))
    others: dict[str, st.SearchStrategy[str]] = {
        "client_id": st.just("nobody-app"),
        "redirect_uri": st.sampled_from([*REGISTERED_URIS, REDIRECT_URI + "/x", "https://evil.example/cb"]),
        "scope": st.lists(st.sampled_from(ATTRIBUTES), max_size=5).map(" ".join),
        "purpose_id": st.just("marketing"),
        "code_challenge_method": st.sampled_from(["plain", "s256"]),
        "response_type": st.just("token"),
        "subentity": st.text(min_size=90, max_size=200),
    }
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": draw(st.sampled_from(REGISTERED_URIS)),
        "scope": " ".join(draw(st.lists(st.sampled_from(REQUIRED + OPTIONAL), min_size=1, unique=True))),
        "purpose_id": PURPOSE,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "response_type": "code",
        "state": draw(ANY_TEXT),
    }
    if draw(st.booleans()):
        params["subentity"] = draw(ANY_TEXT)
    if "param" in broken:
        for name in draw(st.lists(st.sampled_from(AUTHORIZE_PARAMS), min_size=1, max_size=3, unique=True)):
            value = draw(st.none() | ANY_TEXT | HUGE | others.get(name, ANY_TEXT))
            params = (
                {k: v for k, v in params.items() if k != name} if value is None else {**params, name: value}
            )
    pairs = list(params.items())
    if "duplicate" in broken:
        pairs += [
            (name, params.get(name, ""))
            for name in draw(st.lists(st.sampled_from(AUTHORIZE_PARAMS), min_size=1, max_size=2))
        ]
    if "unknown" in broken:
        pairs += draw(st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=3))
    query = urlencode(draw(st.permutations(pairs)))
    if "garbage" in broken:  # broken escapes, empty pairs, raw characters
        garbage = draw(st.text("%&=+;?#/azAZ09\u00e9\x00", max_size=60))
        query = draw(st.sampled_from([garbage, query + "&" + garbage, garbage + "&" + query]))
    return query


def returns_to_app_or_consent(location: str) -> bool:
    if location.startswith("/consent/"):
        return True
    return any(location.startswith(uri + ("&" if "?" in uri else "?")) for uri in REGISTERED_URIS)


def test_fuzz_authorize_endpoint(client, ran):
    seen: Counter[int] = Counter()

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        query = data.draw(authorize_query(ran.verifier))
        response = client.get("/com/v4/authorize", query_string=query)
        assert_sound(response)
        if 300 <= response.status_code < 400:
            assert returns_to_app_or_consent(response.headers["Location"]), response.headers["Location"]
        seen[response.status_code] += 1

    run()
    assert seen[303] > 0 and seen[400] > 0, seen


# --- what the fuzzer found, kept as plain regression tests ----------------------------------
# On PostgreSQL each was a 500: a NUL cannot be stored or even compared (DataError), and
# authorization_requests.subentity holds 100 characters.


def with_nul(value: str) -> str:
    return value + "\x00"


def test_authorize_refuses_values_the_database_cannot_hold(client, ran):
    params = flow.authorize_params(ran.verifier)
    cases = {f"{name} with NUL": {name: with_nul(params.get(name, "x"))} for name in AUTHORIZE_PARAMS}
    cases["subentity of 101 characters"] = {"subentity": "x" * 101}
    for case, override in cases.items():
        response = client.get("/com/v4/authorize?" + urlencode({**params, **override}))
        assert_sound(response)
        # Before the app is known to be the caller's, a page; after, back to the app with the error.
        assert response.status_code in (303, 400), case
        if response.status_code == 303:
            assert "error=invalid_request" in response.headers["Location"], case
    assert client.get("/consent/abc%00def").status_code == 400


def test_token_refuses_nul_characters(client, ran):
    for where in ("client_id", "dpop jti", "assertion jti"):
        form = flow.token_form(ran.keys, ran.code, ran.verifier, ran.dpop_key)
        proof = fresh_proof(ran.dpop_key, htm="POST", htu=TOKEN_URL)
        if where == "client_id":
            form["client_id"] = with_nul(CLIENT_ID)
        elif where == "dpop jti":
            claims = {**dpop_claims(htm="POST", htu=TOKEN_URL), "jti": with_nul("j")}
            proof = signed(dpop_header(ran.dpop_key), json.dumps(claims).encode(), ran.dpop_key)
        else:
            form["client_assertion"] = flow.client_assertion(
                ran.keys, dpop_key=ran.dpop_key, jti=with_nul("j")
            )
        response = flow.post_token(client, form, dpop=proof)
        assert response.status_code in (400, 401), where
        assert_sound(response)


def test_person_refuses_a_nul_in_the_proof_jti(client, ran):
    htu = f"{PERSON_URL}/{ran.sub}"
    claims = {**dpop_claims(htm="GET", htu=htu, access_token=ran.access_token), "jti": with_nul("j")}
    proof = signed(dpop_header(ran.dpop_key), json.dumps(claims).encode(), ran.dpop_key)
    response = flow.get_person(client, ran.access_token, ran.dpop_key, proof=proof)
    assert response.status_code == 401
    assert assert_sound(response)["error"] == "invalid_dpop_proof"
