"""Schemathesis against the live /openapi.json: every documented operation, on a real loopback
server, with a bounded number of generated requests each (valid ones, then invalid ones). No
answer may be a 5xx, and every answer must conform to the document: a documented status, its
content type, its headers and its body schema.

The server is this module's own, on the session's database, so its limits can be raised: junk
client assertions would otherwise spend the failed-authentication allowance (30 a minute per
address) and turn most answers into 429s. Its requests claim a documentation address (TEST-NET-2)
through one trusted proxy hop, so the failures they cost count against that address, never
against the loopback address other tests' servers see.

Without credentials nearly every answer would be a refusal, so the valid requests carry real ones
where the document says how to authenticate: a signed-in citizen's session (the citizen API), a
registered app's client assertion (the agency apps' endpoints and v4 token), and an access token
with a fresh DPoP proof (v4 person), all from one real MyInfo v4 flow run first. So the success
shapes (history, consents, receipts, consent status, the person JWE) are checked against the
document too, not only the error shapes.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from joserfc import jwt
from joserfc.jwk import ECKey
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from app import create_app
from app.developers.openapi import operation_count
from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import ASSERTION_TYPE, MyInfoV4Client, dpop_proof
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration, setup_citizen
from tests.servers import serving

CLIENT_ADDRESS = "198.51.100.23"
REDIRECT_URI = "http://localhost:3001/callback"
# Operations authenticated by the app's client assertion, and the `aud` each expects (a path).
ASSERTED = {
    "POST /com/v4/token": "/com/v4/token",
    "POST /api/agency-apps/receipts": "/api/agency-apps/receipts",
    "POST /api/agency-apps/receipts/{seq}": "/api/agency-apps/receipts",
    "POST /api/agency-apps/consents/status": "/api/agency-apps/consents/status",
}
CITIZEN_API = ("GET /api/citizen/disclosures", "GET /api/citizen/consents")
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(base_config, engine) -> Iterator[tuple[str, object]]:
    def build(url: str):
        config = base_config.replace(
            public_base_url=url,
            trusted_proxy_hops=1,
            client_auth_failure_limit=1_000_000,
            token_rate_limit=1_000_000,
        )
        return create_app(config, engine=engine)

    with serving(build) as (url, app):
        yield url, app


@dataclass(frozen=True)
class Credentials:
    base: str
    client_id: str
    keys: AgencyKeys
    citizen_cookie: str
    access_token: str
    sub: str
    dpop_key: ECKey

    def assertion(self, path: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.base + path,
            "jti": secrets.token_urlsafe(20),
            "iat": now,
            "exp": now + 120,
        }
        return jwt.encode({"alg": "ES256", "kid": self.keys.signing.kid}, claims, self.keys.signing)


@pytest.fixture(scope="module")
def credentials(api, monkeypatch_module) -> Credentials:
    """One real MyInfo v4 flow on the module's server: a registered app, a citizen who signs in
    and consents, and the DPoP-bound access token the app gets."""
    url, app = api
    monkeypatch_module.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    rt, keys = app.extensions["consentry"], AgencyKeys()
    client_id = f"openapi-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(keys, client_id=client_id, redirect_uris=[REDIRECT_URI])
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = setup_citizen(session, rt)
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    client = MyInfoV4Client(
        base_url=url,
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        signing_key=keys.signing,
        encryption_key=keys.encryption,
    )
    authorize, verifier = client.authorization_url(scope=["uinfin", "name", "regadd"], purpose_id="grant")
    browser = Browser(url)
    params = browser.follow_to_app(
        browser.get(authorize),
        uinfin=uinfin,
        totp=enrolment.totp_secret,
        approve=["regadd"],
        redirect_uri=REDIRECT_URI,
    )
    dpop_key = ECKey.generate_key("P-256")
    token = client.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    payload = token["access_token"].split(".")[1]
    sub = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return Credentials(
        base=url,
        client_id=client_id,
        keys=keys,
        citizen_cookie=browser.http.cookies["session"],
        access_token=token["access_token"],
        sub=sub,
        dpop_key=dpop_key,
    )


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def authenticate(case, credentials: Credentials) -> dict:
    """Give a valid case the credentials its operation needs; the extra headers and cookies."""
    label, headers, cookies = case.operation.label, {}, {}
    if label in CITIZEN_API:
        cookies["session"] = credentials.citizen_cookie
    if label in ASSERTED and isinstance(case.body, dict):
        case.body.update(
            client_id=credentials.client_id,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=credentials.assertion(ASSERTED[label]),
        )
    if label == "POST /com/v4/token":
        url = f"{credentials.base}/com/v4/token"
        headers["DPoP"] = dpop_proof(credentials.dpop_key, method="POST", url=url)
    if label == "GET /com/v4/person/{sub}":
        case.path_parameters["sub"] = credentials.sub
        url = f"{credentials.base}/com/v4/person/{credentials.sub}"
        token = credentials.access_token
        headers["Authorization"] = f"DPoP {token}"
        headers["DPoP"] = dpop_proof(credentials.dpop_key, method="GET", url=url, access_token=token)
    return {"headers": headers, "cookies": cookies}


def test_every_documented_operation_answers_as_documented(api, credentials):
    schema = schemathesis.openapi.from_url(f"{api[0]}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == operation_count(schema.raw_schema)
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    spent: Counter[str] = Counter()
    successes: Counter[str] = Counter()

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            started = time.monotonic()
            run = _runner(
                operation,
                mode,
                examples,
                credentials,
                cases=cases,
                statuses=statuses,
                failures=failures,
                successes=successes,
            )
            try:
                run()
            except Unsatisfiable:
                # Nothing invalid to send: an operation without parameters or body (a key set).
                assert mode is GenerationMode.NEGATIVE, operation.label
            spent[operation.label] += time.monotonic() - started

    total = sum(cases.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} test cases, {len(failures)} failures")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print("slowest:", [(label, round(seconds, 1)) for label, seconds in spent.most_common(5)])
    print("\n".join(failures))
    assert all(cases[operation.label] > 0 for operation in operations)
    assert failures == []
    # The credentials worked: each authenticated API answered some valid requests with success.
    for label in (*CITIZEN_API, "GET /com/v4/person/{sub}", "POST /api/agency-apps/consents/status"):
        assert successes[label] > 0, label


def _runner(operation, mode, examples, credentials, *, cases, statuses, failures, successes):
    """A Hypothesis test sending `examples` generated requests of `operation` in `mode`."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case) -> None:
        cases[operation.label] += 1
        extra = authenticate(case, credentials) if mode is GenerationMode.POSITIVE else {}
        headers = {"X-Forwarded-For": CLIENT_ADDRESS, **extra.get("headers", {})}
        response = case.call(headers=headers, cookies=extra.get("cookies"), timeout=30)
        statuses[response.status_code] += 1
        successes[operation.label] += response.status_code < 300
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # the checks' failures: collected, so one run reports them all
            failures.append(f"{operation.label} [{mode.value}]: {response.status_code}: {str(exc)[:600]}")

    return exercise
