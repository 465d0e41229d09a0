"""An app that publishes its keys at a `jwks_uri`, over real loopback HTTP: the relying party
(examples/fapi_client.py) against a live server, the app's JWKS served by a tiny server the test
controls. An unreachable or garbled JWKS is the client's problem, so PAR and token answer 401
`invalid_client` saying so (never 500), and userinfo 400 `invalid_request` with a DPoP challenge,
as docs/integration-v5.md §6 says. The cache lifetime is `CLIENT_JWKS_TTL_S` (an hour)."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from flask import Flask, Response
from sqlalchemy import func, select, update

from app import create_app
from app.config import Config
from audit.models import AuditEntry
from consent.apps import register_app
from consent.models import AgencyApp
from core.clock import utcnow
from core.errors import ConfigurationError
from examples.fapi_client import FapiClient, FapiError
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.fapi.flow import citizen_with
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration
from tests.servers import serving

REDIRECT_URI = "http://localhost:3080/callback"
SCOPE = ["uinfin", "name"]
# Nested deeper than Python's JSON parser recurses (a RecursionError, not a ValueError), yet small.
DEEP = b"[" * 30_000 + b"]" * 30_000  # within MAX_BYTES


@dataclass
class JwksEndpoint:
    """The app's jwks_uri: serves `body` with `status` and counts the fetches."""

    url: str = ""
    body: bytes = b""
    status: int = 200
    hits: int = 0


@pytest.fixture
def endpoint() -> Iterator[JwksEndpoint]:
    state = JwksEndpoint()

    def build(url: str) -> Flask:
        jwks_app = Flask("client-jwks")

        @jwks_app.get("/jwks")
        def jwks():
            state.hits += 1
            return Response(state.body, state.status, mimetype="application/json")

        return jwks_app

    with serving(build) as (url, _app):
        state.url = f"{url}/jwks"
        yield state


@pytest.fixture(scope="module")
def uncached(base_config, engine) -> Iterator[str]:
    """A second live server that trusts a fetched JWKS for no time at all (CLIENT_JWKS_TTL_S=0),
    so a JWKS that goes away between PAR and token, or token and userinfo, is noticed at once."""

    def build(url: str) -> Flask:
        return create_app(base_config.replace(public_base_url=url, client_jwks_ttl_s=0), engine=engine)

    with serving(build) as (url, _app):
        yield url


@dataclass
class Integrator:
    keys: AgencyKeys
    client_id: str
    uinfin: str
    totp: str

    def client(self, base_url: str) -> FapiClient:
        return FapiClient(
            issuer=f"{base_url}/fapi",
            client_id=self.client_id,
            redirect_uri=REDIRECT_URI,
            signing_key=self.keys.signing,
            encryption_key=self.keys.encryption,
        )

    def sign_in_and_approve(self, base_url: str, login) -> dict[str, str]:
        browser = Browser(base_url)
        return browser.follow_to_app(
            browser.get(login.authorization_url),
            uinfin=self.uinfin,
            totp=self.totp,
            approve=[],
            redirect_uri=REDIRECT_URI,
        )


@pytest.fixture
def integrator(live, endpoint) -> Integrator:
    """A v5 app whose keys are at `endpoint`, and a citizen who can sign in. Registered with an
    inline JWKS, then moved to the jwks_uri: registration takes https URIs only, while the
    resolver also takes loopback http (for tests and demos)."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    endpoint.body = json.dumps(keys.jwks()).encode()
    client_id = f"jwks-uri-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(
            keys, client_id=client_id, redirect_uris=[REDIRECT_URI], profiles=["myinfo-v5"]
        )
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.execute(
            update(AgencyApp).where(AgencyApp.client_id == client_id).values(jwks=None, jwks_uri=endpoint.url)
        )
        session.commit()
        citizen = citizen_with(session, rt, "name")
        uinfin = reveal_uinfin(rt.vault, citizen)
        totp = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow()).totp_secret
        session.commit()
    return Integrator(keys, client_id, uinfin, totp)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: the port is bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks"


def refused_as_invalid_client(caught: pytest.ExceptionInfo[FapiError], mentions: str) -> None:
    assert caught.value.status == 401, caught.value
    body = caught.value.body
    assert set(body) == {"error", "error_description"} and body["error"] == "invalid_client"
    assert mentions in body["error_description"], body


def test_keys_at_a_jwks_uri_work_through_the_whole_flow_and_are_fetched_once(live, integrator, endpoint):
    client = integrator.client(live.url)
    login = client.begin(scope=SCOPE)
    result = client.finish(login, integrator.sign_in_and_approve(live.url, login))
    assert result.person_info["uinfin"]["value"] == integrator.uinfin
    # PAR and token verified assertions, token and userinfo encrypted to the app's key: one fetch,
    # the rest from the cache (an hour by default).
    assert endpoint.hits == 1


@pytest.mark.parametrize(
    ("status", "body", "mentions"),
    [
        (200, b"<html>Service Unavailable</html>", "not JSON"),
        (200, b'{"keys": "none"}', "'keys' list"),
        (200, DEEP, "not JSON"),
        (200, b"\xff\xfe\x00garbage", "not JSON"),
        (503, b'{"keys": []}', "answered HTTP 503, not 200"),
        (200, b'{"keys": []}', "no signing key"),
    ],
    ids=["html", "no keys list", "nested too deep", "not utf-8", "503", "empty"],
)
def test_a_garbled_jwks_at_par_is_invalid_client(live, integrator, endpoint, status, body, mentions):
    endpoint.status, endpoint.body = status, body
    with pytest.raises(FapiError) as caught:
        integrator.client(live.url).begin(scope=SCOPE)
    refused_as_invalid_client(caught, mentions)


def test_an_unreachable_jwks_uri_at_par_is_invalid_client_and_not_retried_at_once(live, integrator):
    rt = live.app.extensions["consentry"]
    with rt.sessions() as session:
        session.execute(
            update(AgencyApp)
            .where(AgencyApp.client_id == integrator.client_id)
            .values(jwks_uri=closed_port_url())
        )
        session.commit()
    client = integrator.client(live.url)
    with pytest.raises(FapiError) as caught:
        client.begin(scope=SCOPE)
    refused_as_invalid_client(caught, "jwks_uri could not be fetched (ConnectError)")
    with pytest.raises(FapiError) as again:  # within the refetch throttle: no second connection
        client.begin(scope=SCOPE)
    refused_as_invalid_client(again, "failed less than 10 s ago")


def test_a_jwks_gone_by_the_token_request_is_invalid_client(uncached, integrator, endpoint):
    client = integrator.client(uncached)
    login = client.begin(scope=SCOPE)
    params = integrator.sign_in_and_approve(uncached, login)
    endpoint.body = b"{not json"
    with pytest.raises(FapiError) as caught:
        client.token(login, params["code"])
    refused_as_invalid_client(caught, "not JSON")
    assert endpoint.hits == 2  # CLIENT_JWKS_TTL_S=0: fetched at PAR and again at token
    with pytest.raises(FapiError) as throttled:  # a failed fetch is not retried for 10 s
        client.token(login, params["code"])
    refused_as_invalid_client(throttled, "failed less than 10 s ago")
    assert endpoint.hits == 2


def disclosures(live, client_id: str) -> int:
    with live.app.extensions["consentry"].sessions() as session:
        query = select(func.count()).where(AuditEntry.kind == "disclosure", AuditEntry.app_id == client_id)
        return session.scalar(query.select_from(AuditEntry))


def test_a_jwks_gone_by_userinfo_is_invalid_request_with_a_dpop_challenge(
    live, uncached, integrator, endpoint
):
    client = integrator.client(uncached)
    login = client.begin(scope=SCOPE)
    tokens = client.token(login, integrator.sign_in_and_approve(uncached, login)["code"])
    before = disclosures(live, integrator.client_id)  # the ID token's own, if it carried sub_attributes
    endpoint.status = 500
    url = client.metadata()["userinfo_endpoint"]
    access_token = tokens["access_token"]
    response = httpx.get(
        url,
        headers={
            "Authorization": f"DPoP {access_token}",
            "DPoP": client.dpop_proof(login.dpop_key, "GET", url, access_token=access_token),
        },
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the client jwks_uri answered HTTP 500, not 200",
    }
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_request"') and "jwks_uri" in challenge
    assert response.headers["Cache-Control"] == "no-store"
    assert disclosures(live, integrator.client_id) == before  # nothing left, so nothing on record


def test_client_jwks_ttl_comes_from_the_environment():
    assert Config.from_env({}).client_jwks_ttl_s == 3600
    assert Config.from_env({"CLIENT_JWKS_TTL_S": "600"}).client_jwks_ttl_s == 600
    with pytest.raises(ConfigurationError, match="CLIENT_JWKS_TTL_S"):
        Config.from_env({"CLIENT_JWKS_TTL_S": "-1"})
