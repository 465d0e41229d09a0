"""OAuth API benchmark, Myinfo v5 (FAPI 2.0) half: PAR, token and userinfo calls over HTTP, on
the server, database and app of bench/oauth_api.py, right after its MyInfo v4 token and person
phases (the app is registered for both profiles). See bench/README.md.

The client is a relying party as examples/fapi_client.py writes it: every URL from the discovery
document (fetched once, not timed); per login a fresh DPoP key, PKCE S256 verifier, state and
nonce. Timed, with the v4 half's 16 client threads and CPU accounting:

- **PAR**: `POST {pushed_authorization_request_endpoint}` with a private_key_jwt assertion (`aud`
  the issuer) and a DPoP proof by the login's key, both made before the clock starts; 201 counts.
- **token**: the codes come from those pushed requests, as the consent screen issues them: the
  request found by its `request_uri` (what /fapi/auth does) and taken while pending, the citizen's
  consent, `issue_code` (which carries the request's `dpop_jkt` onto the code); the browser steps
  are not measured. Then `POST {token_endpoint}` with the code, PKCE verifier, a fresh assertion
  and a proof by the key the request was pushed with. Each answer carries an ID token (JWE).
- **userinfo**: `GET {userinfo_endpoint}` round-robin over the issued DPoP-bound tokens, with a
  fresh proof (`ath`, unique `jti`) per call made just before the phase; the answer is a JWS
  inside a JWE of `{person_info, iss, sub, aud, iat}`, the same 17 attributes as the v4 person.

One ID token and one userinfo answer are decrypted with the app's key, verified against the
issuer's published JWKS and checked (issuer, audience, subject, nonce, every attribute present).
The userinfo crypto ceiling is the v4 one's with userinfo's own token audience and `typ`, DPoP
policy and sealing (`app.fapi.tokens.userinfo`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import httpx
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.orm import Session

from consent.grant_models import AuthorizationRequest
from consent.grants import find_pushed_request, pending_request, pkce_challenge
from consent.models import AgencyApp, Purpose

from .common import log
from .oauth_ceiling import CryptoPath
from .oauth_client import (
    Token,
    client_assertion,
    dpop_proof,
    first_response,
    issued_tokens,
    jwt_claims,
    open_sealed,
    resource_calls,
    token_requests,
)
from .oauth_phases import Call, Outcome, RateWindows, phase_report, run_phase
from .oauth_seed import Citizenry, Code, RequestOpener, mint_codes
from .oauth_server import Server
from .oauth_settings import (
    ASSERTION_TYPE,
    CEILING_BASE,
    PAR_LIMIT,
    PHASE_DEADLINE_S,
    REDIRECT_URI,
    SCOPE,
    TOKEN_LIMIT,
    V5,
    Sizes,
)

# The longest lifetime v5 accepts (SP-CA: exp - iat <= 120 s): assertions are made before a phase
# that may run PHASE_DEADLINE_S.
ASSERTION_LIFETIME_S = 120
ID_JWE_ENC = "A256CBC-HS512"  # the ID token's content encryption (SP-IDT)
DPOP_SCHEME = "DPoP"


@dataclasses.dataclass(frozen=True)
class Issuer:
    """What discovery told the relying party."""

    issuer: str
    par: str
    token: str
    userinfo: str
    keys: KeySet


@dataclasses.dataclass(frozen=True)
class Login:
    """One login's secrets, as examples/fapi_client.Login keeps them; `request_uri` once pushed."""

    state: str
    nonce: str
    verifier: str
    dpop_key: ECKey
    request_uri: str = ""


def drive_v5(runtime, server: Server, people: Citizenry, size: Sizes, windows: RateWindows) -> dict[str, Any]:
    """PAR, token and userinfo phases, each after a warm-up of its own; the results as
    bench/oauth_phases.py's `phase_report` shapes them, plus the userinfo crypto path."""
    issuer = _discover(server)
    logins = [_login() for _ in range(size.warmup + size.tokens)]
    warm_logins, timed_logins = logins[: size.warmup], logins[size.warmup :]

    windows.wait_for_room(PAR_LIMIT, len(logins))
    warm_par = run_phase(server, _par_calls(issuer, people, warm_logins), keep=len(warm_logins), ok=201)
    windows.record(PAR_LIMIT, warm_par)
    log(f"oauth: v5 PAR phase ({len(timed_logins)} calls)")
    made = time.monotonic()
    par_calls = _par_calls(issuer, people, timed_logins)
    deadline = made + PHASE_DEADLINE_S
    par = run_phase(server, par_calls, keep=len(par_calls), ok=201, deadline=deadline, runtime=runtime)
    windows.record(PAR_LIMIT, par)

    log("oauth: v5: minting codes from the pushed requests")
    warm_pushed, pushed = _pushed(warm_par, warm_logins), _pushed(par, timed_logins)
    codes = mint_codes(runtime, people, len(warm_pushed) + len(pushed), _pushed_request(warm_pushed + pushed))
    warm_codes, timed_codes = codes[: len(warm_pushed)], codes[len(warm_pushed) :]

    # Warm-up: the v5 views' first calls; then one ID token and one userinfo answer checked.
    windows.wait_for_room(TOKEN_LIMIT, len(codes))
    warm_token = run_phase(
        server, _token_calls_v5(issuer, people, warm_codes, warm_pushed), keep=len(warm_codes)
    )
    windows.record(TOKEN_LIMIT, warm_token)
    warm_tokens = issued_tokens(warm_token, [login.dpop_key for login in warm_pushed], len(warm_codes))
    _check_id_token(issuer, people, warm_token, warm_pushed)
    warm_userinfo = run_phase(server, _userinfo_calls(issuer, warm_tokens, size.warmup), keep=1)
    claims = _open_userinfo(issuer, people, first_response(warm_userinfo), warm_tokens)

    log(f"oauth: v5 token phase ({len(timed_codes)} calls)")
    made = time.monotonic()
    token_calls = _token_calls_v5(issuer, people, timed_codes, pushed)
    deadline = made + PHASE_DEADLINE_S
    token = run_phase(server, token_calls, keep=len(token_calls), deadline=deadline, runtime=runtime)
    windows.record(TOKEN_LIMIT, token)
    tokens = issued_tokens(token, [login.dpop_key for login in pushed], len(timed_codes))
    log(f"oauth: v5 userinfo phase ({size.persons} calls)")
    made = time.monotonic()
    userinfo_calls = _userinfo_calls(issuer, tokens, size.persons)
    userinfo = run_phase(server, userinfo_calls, deadline=made + PHASE_DEADLINE_S, runtime=runtime)
    timed = {
        "par": (par, len(par_calls)),
        "token": (token, len(token_calls)),
        "userinfo": (userinfo, len(userinfo_calls)),
    }
    warm = {"par": warm_par, "token": warm_token, "userinfo": warm_userinfo}
    return {
        **phase_report(V5, timed, warm=warm),
        "response_bytes": len(first_response(warm_userinfo)),
        "crypto_path": _crypto_path(claims),
    }


def _discover(server: Server) -> Issuer:
    """The issuer's discovery document and published keys, as a relying party caches them."""
    issuer = f"{server.base_url}/fapi"
    meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    if meta.get("issuer") != issuer:
        raise RuntimeError(f"discovery names issuer {meta.get('issuer')!r}, not {issuer!r}")
    keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=10).json())
    return Issuer(
        issuer=issuer,
        par=meta["pushed_authorization_request_endpoint"],
        token=meta["token_endpoint"],
        userinfo=meta["userinfo_endpoint"],
        keys=keys,
    )


def _login() -> Login:
    return Login(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
        dpop_key=ECKey.generate_key("P-256"),  # one fresh key per login (SP-DPOP)
    )


def _par_calls(issuer: Issuer, people: Citizenry, logins: Sequence[Login]) -> list[Call]:
    """One pushed request per login, bound to its DPoP key by the proof; signed now."""
    calls = []
    for login in logins:
        form = {
            "response_type": "code",
            "client_id": people.client_id,
            "scope": " ".join(["openid", *SCOPE]),
            "redirect_uri": REDIRECT_URI,
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": pkce_challenge(login.verifier),
            "code_challenge_method": "S256",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": _assertion(issuer, people),
        }
        proof = dpop_proof(login.dpop_key, method="POST", url=issuer.par)
        calls.append(Call("POST", issuer.par, {"DPoP": proof, "Accept": "application/json"}, form))
    return calls


def _assertion(issuer: Issuer, people: Citizenry) -> str:
    return client_assertion(people, audience=issuer.issuer, lifetime_s=ASSERTION_LIFETIME_S)


def _pushed(outcome: Outcome, logins: Sequence[Login]) -> list[Login]:
    """The logins whose push succeeded, each with its request_uri."""
    pushed = [
        dataclasses.replace(login, request_uri=json.loads(body)["request_uri"])
        for i, login in enumerate(logins)
        if (body := outcome.responses.get(i)) is not None
    ]
    if not pushed:
        raise RuntimeError(f"no PAR call succeeded: {outcome.statuses} {outcome.bodies[:1]}")
    return pushed


def _pushed_request(logins: Sequence[Login]) -> RequestOpener:
    """The index-th login's pushed request as the consent screen takes it: /fapi/auth finds it by
    request_uri and client, /consent/<id> while it is pending."""

    def open_one(
        session: Session, app: AgencyApp, _purpose: Purpose, index: int, now: dt.datetime
    ) -> tuple[AuthorizationRequest, str]:
        login = logins[index]
        pushed = find_pushed_request(session, login.request_uri, client_id=app.client_id)
        if pushed is None:
            raise RuntimeError("a request_uri PAR returned is unknown to the database")
        return pending_request(session, pushed.id, now=now), login.verifier

    return open_one


def _token_calls_v5(
    issuer: Issuer, people: Citizenry, codes: list[Code], logins: Sequence[Login]
) -> list[Call]:
    keys = [login.dpop_key for login in logins]
    return token_requests(issuer.token, people, codes, keys, lambda _key: _assertion(issuer, people))


def _userinfo_calls(issuer: Issuer, tokens: list[Token], count: int) -> list[Call]:
    return resource_calls(
        tokens, count, lambda _token: issuer.userinfo, headers={"Accept": "application/jwt"}
    )


def _check_id_token(issuer: Issuer, people: Citizenry, outcome: Outcome, logins: Sequence[Login]) -> None:
    """One token answer: DPoP-bound, and its ID token decrypts, verifies and names our issuer, us,
    the login's nonce and the access token's subject."""
    index = min(outcome.responses)
    body = json.loads(outcome.responses[index])
    assert body["token_type"] == DPOP_SCHEME, body["token_type"]
    claims = open_sealed(body["id_token"], people, issuer.keys, enc=ID_JWE_ENC)
    expected = {
        "iss": issuer.issuer,
        "aud": people.client_id,
        "nonce": logins[index].nonce,
        "sub": jwt_claims(body["access_token"])["sub"],
    }
    wrong = {name: claims.get(name) for name, value in expected.items() if claims.get(name) != value}
    assert not wrong, f"ID token claims differ: {wrong}"


def _open_userinfo(issuer: Issuer, people: Citizenry, body: bytes, tokens: list[Token]) -> dict[str, Any]:
    """Decrypt and verify one userinfo answer; check it is ours, about one of our citizens, with
    every attribute asked for. Returns its claims."""
    claims = open_sealed(body, people, issuer.keys)
    assert claims.get("iss") == issuer.issuer and claims.get("aud") == people.client_id, claims.keys()
    assert claims.get("sub") in {token.sub for token in tokens}, "userinfo names another subject"
    assert isinstance(claims.get("iat"), int), "userinfo iat must be a number"
    missing = [name for name in SCOPE if name not in claims.get("person_info", {})]
    assert not missing, f"userinfo person_info lacks {missing}"
    return claims


def _crypto_path(claims: dict[str, Any]) -> CryptoPath:
    """GET /fapi/userinfo (app.fapi.views.userinfo): an `at+jwt` for the userinfo URL, v5's DPoP
    policy, and the {person_info, iss, sub, aud, iat} envelope sealed by app.fapi.tokens."""
    from app.fapi import tokens
    from app.fapi.profile import DPOP

    issuer = f"{CEILING_BASE}/fapi"
    person, sub = claims["person_info"], claims["sub"]
    return CryptoPath(
        api=V5.profile,
        issuer=issuer,
        audience=f"{issuer}/userinfo",
        htu=f"{issuer}/userinfo",
        sub=sub,
        payload=claims,
        seal=lambda rt, app, now: tokens.userinfo(rt, app, person, issuer=issuer, sub=sub, now=now),
        dpop_policy=DPOP,
        jws_typ="at+jwt",
        token_scope=" ".join(["openid", *SCOPE]),
    )
