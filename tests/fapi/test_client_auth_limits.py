"""Rate limits around client authentication at the token endpoints (MyInfo v4, Myinfo v5) and
Myinfo v5's PAR endpoint: a client's own limit is charged only after it has authenticated, so a
flood of junk assertions naming its public client_id cannot lock it out; failed authentications
are limited per client address (through trusted proxies), answered 429 with Retry-After in the
RFC 6749 shape, and another address is not affected."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest
from joserfc.jwk import ECKey

from tests.fapi import flow
from tests.oauth import flow as v4
from tests.oauth.flow import CLIENT_ID, AgencyKeys

ATTACKER, OTHER, APP_SERVER = "203.0.113.66", "198.51.100.7", "127.0.0.1"
ENDPOINTS = ("v4 token", "v5 par", "v5 token")


@pytest.fixture
def rt(app, monkeypatch):
    runtime = app.extensions["consentry"]
    # Every call in one fixed window, however long the test takes to get there.
    moment = dt.datetime.now(dt.UTC).replace(second=1, microsecond=0)
    monkeypatch.setattr(runtime.rate_limiter, "_clock", lambda: moment)
    return runtime


def failures_allowed(rt, limit: int) -> None:
    rt.config = rt.config.replace(client_auth_failure_limit=limit)


def junk(client, endpoint: str, address: str, **environ):
    """A request naming the real client, its assertion signed by a stranger's key."""
    stranger = AgencyKeys(signing=ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True))
    base = {"environ_base": {"REMOTE_ADDR": address, **environ}}
    if endpoint == "v4 token":
        form = v4.token_form(stranger, "no-such-code", secrets.token_hex(32), ECKey.generate_key("P-256"))
        return client.post("/com/v4/token", data=form, **base)
    forged = flow.assertion(stranger.signing)
    if endpoint == "v5 par":
        form = flow.par_form(stranger, flow.verifier(), client_assertion=forged)
        return client.post("/fapi/par", data=form, **base)
    form = flow.token_form(
        stranger, "no-such-code", flow.verifier(), client_id=CLIENT_ID, client_assertion=forged
    )
    return client.post("/fapi/token", data=form, **base)


def genuine(
    client, endpoint: str, *, keys, citizen, dpop_key, address: str = APP_SERVER
) -> Callable[[], object]:
    """The real client's request, prepared (a code obtained first): call it to send."""
    base = {"environ_base": {"REMOTE_ADDR": address}}
    if endpoint == "v4 token":
        verifier = secrets.token_hex(32)
        form = v4.token_form(keys, v4.get_code(client, citizen.id, verifier), verifier, dpop_key)
        proof = flow.dpop_proof(dpop_key, method="POST", url=v4.TOKEN_URL)
        return lambda: client.post("/com/v4/token", data=form, headers={"DPoP": proof}, **base)
    verifier = flow.verifier()
    if endpoint == "v5 par":
        form = flow.par_form(keys, verifier)
        proof = flow.dpop_proof(dpop_key, method="POST", url=flow.PAR_URL)
        return lambda: client.post("/fapi/par", data=form, headers={"DPoP": proof}, **base)
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    form = flow.token_form(keys, code, verifier)
    proof = flow.dpop_proof(dpop_key, method="POST", url=flow.TOKEN_URL)
    return lambda: client.post("/fapi/token", data=form, headers={"DPoP": proof}, **base)


def refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error and body["error_description"], body
    return body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_junk_assertions_naming_a_client_do_not_spend_its_limit(
    client, rt, monkeypatch, agency_app, keys, citizen, dpop_key, endpoint
):
    rt.config = rt.config.replace(token_rate_limit=2)
    failures_allowed(rt, 1000)
    send = genuine(client, endpoint, keys=keys, citizen=citizen, dpop_key=dpop_key)
    for n in range(8):  # from many addresses, as a botnet would
        refused(junk(client, endpoint, f"203.0.113.{n}"), 401, "invalid_client")
    response = send()
    assert response.status_code in (200, 201), response.text


def test_the_client_limit_still_holds_for_the_authenticated_client(
    client, rt, agency_app, keys, citizen, dpop_key
):
    rt.config = rt.config.replace(token_rate_limit=1)
    sends = [genuine(client, "v5 par", keys=keys, citizen=citizen, dpop_key=dpop_key) for _ in range(2)]
    assert sends[0]().status_code == 201
    limited = sends[1]()
    refused(limited, 429, "slow_down")
    assert int(limited.headers["Retry-After"]) > 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_failed_authentications_are_limited_per_address(
    client, rt, monkeypatch, agency_app, keys, citizen, dpop_key, endpoint
):
    failures_allowed(rt, 3)
    send = genuine(client, endpoint, keys=keys, citizen=citizen, dpop_key=dpop_key, address=ATTACKER)
    for _ in range(3):
        refused(junk(client, endpoint, ATTACKER), 401, "invalid_client")
    for response in (junk(client, endpoint, ATTACKER), send()):  # then even a good request waits
        body = refused(response, 429, "slow_down")
        assert 0 < int(response.headers["Retry-After"]) <= 60
        assert set(body) >= {"error", "error_description"}
    refused(junk(client, endpoint, OTHER), 401, "invalid_client")
    other = genuine(client, endpoint, keys=keys, citizen=citizen, dpop_key=dpop_key, address=OTHER)
    assert other().status_code in (200, 201)


def test_the_address_is_the_one_trusted_proxies_saw(client, rt, monkeypatch, agency_app):
    failures_allowed(rt, 2)
    rt.config = rt.config.replace(trusted_proxy_hops=1)

    def through_proxy(claimed: str, seen: str):
        forwarded = {"HTTP_X_FORWARDED_FOR": f"{claimed}, {seen}"}
        return junk(client, "v4 token", "10.0.0.1", **forwarded)

    for claimed in ("192.0.2.1", "192.0.2.2"):  # what the client writes itself is not believed
        refused(through_proxy(claimed, ATTACKER), 401, "invalid_client")
    refused(through_proxy("192.0.2.3", ATTACKER), 429, "slow_down")
    refused(through_proxy("192.0.2.3", OTHER), 401, "invalid_client")
