"""The v5 metadata document (snapshot) and JWKS, and that what it advertises is what is enforced."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.fapi.scopes import parse_scope, supported_scopes
from tests.fapi import flow

SNAPSHOT = Path(__file__).with_name("snapshots") / "discovery-v5.json"


def test_discovery_document_snapshot(client):
    response = client.get("/fapi/.well-known/openid-configuration")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    document = response.get_json()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # then review the diff and commit it
        SNAPSHOT.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert document == json.loads(SNAPSHOT.read_text()), "discovery-v5.json changed: update it if intended"
    assert client.get("/.well-known/oauth-authorization-server/fapi").get_json() == document


def test_the_issuer_and_every_endpoint_are_ours_and_routed(client):
    document = client.get("/fapi/.well-known/openid-configuration").get_json()
    assert document["issuer"] == flow.ISSUER
    for name, method in [
        ("pushed_authorization_request_endpoint", "POST"),
        ("token_endpoint", "POST"),
        ("userinfo_endpoint", "GET"),
        ("authorization_endpoint", "GET"),
        ("jwks_uri", "GET"),
    ]:
        path = document[name].removeprefix("http://localhost")
        response = client.open(path, method=method)
        assert response.status_code not in (404, 405), name


def test_one_jwks_at_three_addresses(client):
    keys = client.get("/.well-known/keys.json").get_json()
    assert client.get("/.well-known/keys").get_json() == keys
    assert client.get("/fapi/.well-known/keys").get_json() == keys
    assert all("d" not in key and key["kid"] for key in keys["keys"])
    assert "sig" in {key["use"] for key in keys["keys"]}


def test_every_advertised_scope_is_one_par_accepts(runtime):
    """No scope value is advertised that the scope check would refuse as unknown (an app's own
    allowance narrows it further), and sub-attributes appear only under our own attributes."""
    supported = supported_scopes(runtime.catalogue)
    assert parse_scope(" ".join(supported), runtime.catalogue).values == supported
    assert "cpfbalances.oa" in supported and "ltavocationallicences.tdvl.status" not in supported
