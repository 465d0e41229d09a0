"""What the person endpoint releases and when: stale fields refreshed within a time budget, consent
expiry, signing-key rotation with overlap, and the shapes clients depend on (snapshots)."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from audit.models import AuditEntry
from consent.grant_models import IssuedToken
from consent.models import Consent
from core.crypto.platform_key_model import PlatformKey
from core.crypto.platform_keys import rotate
from tests.oauth import flow
from tests.oauth.flow import get_code, get_person, get_token, open_person

SNAPSHOTS = Path(__file__).with_name("snapshots")


@pytest.fixture
def token(client, keys, citizen, dpop_key) -> str:
    verifier = secrets.token_hex(32)
    code = get_code(client, citizen.id, verifier)
    return get_token(client, keys, code, verifier, dpop_key)["access_token"]


def configure(app, **changes: Any) -> None:
    runtime = app.extensions["consentry"]
    runtime.config = runtime.config.replace(**changes)


def jwks(client) -> dict:
    return client.get("/.well-known/keys.json").get_json()


def last_entry(db_session, kind: str) -> dict:
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.kind == kind).order_by(AuditEntry.seq.desc()).limit(1)
    ).one()
    return json.loads(entry.body)


# --- freshness ------------------------------------------------------------------------------


def test_fresh_fields_go_out_without_calling_any_agency(app, client, keys, token, dpop_key, simulators):
    before = simulators.stats()
    open_person(get_person(client, token, dpop_key, scope="name regadd"), keys, jwks(client))
    assert simulators.stats() == before


def test_stale_fields_are_refreshed_from_their_agencies_first(
    app, client, db_session, keys, token, dpop_key, simulators
):
    configure(app, person_refresh_max_age_s=0)
    before = simulators.stats()
    person, _ = open_person(get_person(client, token, dpop_key, scope="name noa-basic"), keys, jwks(client))
    after = simulators.stats()
    asked = {agency for agency in after if after[agency]["requests"] > before[agency]["requests"]}
    assert asked == {"identity", "tax"}, "only the agencies owning the requested fields"
    assert person["name"]["lastupdated"]
    refreshed = last_entry(db_session, "profile_refreshed")
    assert sorted(refreshed["details"]["agencies"]) == ["identity", "tax"]


def test_a_slow_agency_costs_at_most_the_budget_and_its_stored_value_goes_out(
    app, client, db_session, keys, token, dpop_key, simulators
):
    stored, _ = open_person(get_person(client, token, dpop_key, scope="name"), keys, jwks(client))
    configure(app, person_refresh_max_age_s=0, person_refresh_budget_s=0.3)
    simulators.set_fault("identity", latency_ms=3000)
    started = time.perf_counter()
    person, _ = open_person(get_person(client, token, dpop_key, scope="name"), keys, jwks(client))
    elapsed = time.perf_counter() - started
    assert elapsed < 2.5, "the release does not wait for the agency's timeout"
    assert person["name"] == stored["name"], "the stored value, with its true lastupdated"
    refreshed = last_entry(db_session, "profile_refreshed")
    assert refreshed["details"]["failed"] == {"identity": "over_budget"}


# --- consent expiry and key rotation --------------------------------------------------------


def test_an_expired_consent_stops_its_tokens(client, db_session, token, dpop_key):
    consent_id = db_session.get(IssuedToken, flow.token_claims(token)["jti"]).consent_id
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db_session.execute(update(Consent).where(Consent.id == consent_id).values(expires_at=past))
    db_session.commit()
    response = get_person(client, token, dpop_key, scope="name")
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"


def test_rotation_keeps_old_tokens_working_through_the_overlap_and_not_after(
    app, client, db_session, runtime, keys, token, dpop_key
):
    old_kid = flow.jws_header(token)["kid"]
    now = dt.datetime.now(dt.UTC)
    rotate(db_session, keyring=runtime.vault.keyring, use="sig", now=now)
    db_session.commit()
    platform = app.extensions["consentry"].platform_keys
    platform.forget()
    published = {key["kid"] for key in jwks(client)["keys"]}
    assert old_kid in published and len(published) >= 2
    response = get_person(client, token, dpop_key, scope="name")
    open_person(response, keys, jwks(client))
    assert flow.inner_jws_kid(response, keys) != old_kid, "new releases are signed with the new key"

    # Withdrawn (as `keys rotate --overlap-minutes 0` does to a compromised key): its tokens die.
    withdrawn = now - dt.timedelta(seconds=1)
    db_session.execute(update(PlatformKey).where(PlatformKey.kid == old_kid).values(retire_at=withdrawn))
    db_session.commit()
    platform.forget()
    assert old_kid not in {key["kid"] for key in jwks(client)["keys"]}
    refused = get_person(client, token, dpop_key, scope="name")
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"


# --- snapshots ------------------------------------------------------------------------------


def shape(value: Any) -> Any:
    """The structure of a JSON value with its leaves replaced by their type names."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def check_snapshot(name: str, actual: Any) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # then review the diff and commit it
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no snapshot {name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert actual == json.loads(path.read_text()), f"{name} changed: update the snapshot if intended"


def test_discovery_document_snapshot(client):
    check_snapshot(
        "discovery-v4.json", client.get("/.well-known/oauth-authorization-server/com/v4").get_json()
    )


def test_person_response_shape_snapshot(client, keys, token, dpop_key):
    # Attributes whose shape is the same for every synthetic citizen (an address may be either
    # type, a tax record absent): the snapshot must not depend on which citizen a test drew.
    scope = "uinfin name"
    person, header = open_person(get_person(client, token, dpop_key, scope=scope), keys, jwks(client))
    fixed = {name: header[name] for name in ("alg", "enc", "cty")}
    header_shape = {**fixed, "kid": shape(header["kid"]), "epk": sorted(header["epk"])}
    check_snapshot("person-v4-shape.json", {"jwe_header": header_shape, "person": shape(person)})
