"""Partial consent at the MyInfo v4 person API works with every client (issue 16, item 1).

The official Node connector (`myinfo-connector-v4-nodejs`) always asks `/person` for its whole
configured `SCOPE`, whatever the citizen approved. An item that was part of the authorisation
request but declined is simply absent from the answer (200 with the approved items, RFC 6749
§3.3); only an item never part of the authorisation is `insufficient_scope`. The audit entry
records what was asked beside what went."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from tests.fapi.flow import citizen_with
from tests.oauth import flow
from tests.oauth.flow import OPTIONAL, REQUIRED, get_code, get_person, get_token, open_person

CONFIGURED_SCOPE = " ".join(REQUIRED + OPTIONAL)  # the connector's SCOPE, sent to authorize and person


def last_disclosure(db_session) -> dict:
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.kind == "disclosure").order_by(AuditEntry.seq.desc()).limit(1)
    ).one()
    return json.loads(entry.body)


def refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error, body
    return body


@pytest.fixture
def jwks(client) -> dict:
    return client.get("/.well-known/keys.json").get_json()


def test_the_official_connector_asking_for_its_whole_scope_gets_the_approved_items(
    client, db_session, keys, citizen, verifier, dpop_key, jwks
):
    """What the connector does, with our own code: authorize with SCOPE, the citizen unticks
    some optional items, then /person?scope=SCOPE with the token, reading only access_token."""
    code = get_code(client, citizen.id, verifier, attributes=["regadd"], scope=CONFIGURED_SCOPE)
    token = get_token(client, keys, code, verifier, dpop_key)
    assert token["scope"].split() == ["uinfin", "name", "regadd"], "the token response says what was granted"

    person, _ = open_person(
        get_person(client, token["access_token"], dpop_key, scope=CONFIGURED_SCOPE), keys, jwks
    )

    assert set(person) == {"uinfin", "name", "regadd"}
    recorded = last_disclosure(db_session)
    assert recorded["attributes"] == ["name", "regadd", "uinfin"], "what went"
    assert recorded["details"]["asked"] == sorted(REQUIRED + OPTIONAL), "what the call asked"


def test_without_scope_the_person_call_asks_for_all_that_was_requested(
    client, db_session, keys, citizen, verifier, dpop_key, jwks
):
    code = get_code(client, citizen.id, verifier, attributes=["noa-basic"])
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    person, _ = open_person(get_person(client, token, dpop_key), keys, jwks)
    assert set(person) == {"uinfin", "name", "noa-basic"}
    assert last_disclosure(db_session)["details"]["asked"] == sorted(REQUIRED + OPTIONAL)


def test_asking_only_for_declined_items_releases_nothing_and_records_the_ask(
    client, db_session, keys, citizen, verifier, dpop_key, jwks
):
    code = get_code(client, citizen.id, verifier, attributes=[])
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    person, _ = open_person(get_person(client, token, dpop_key, scope="regadd cpfbalances"), keys, jwks)
    assert person == {}
    recorded = last_disclosure(db_session)
    assert not recorded.get("attributes"), "nothing went"
    assert recorded["details"]["asked"] == ["cpfbalances", "regadd"]


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        ("uinfin name vehicles", "vehicles"),  # allowed for the app, but not requested this time
        ("uinfin edulevel", "edulevel"),  # not even allowed
        ("uinfin cpfbalances.xx", "cpfbalances.xx"),  # no such sub-attribute
    ],
)
def test_an_item_never_part_of_the_authorisation_is_insufficient_scope(
    client, db_session, keys, citizen, verifier, dpop_key, asked, named
):
    code = get_code(client, citizen.id, verifier, attributes=OPTIONAL)
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    body = refused(get_person(client, token, dpop_key, scope=asked), 403, "insufficient_scope")
    assert body["error_description"] == f"not part of the authorisation request: {named}"


def test_an_item_outside_a_narrower_authorisation_is_refused_though_the_purpose_allows_it(
    client, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier, attributes=["regadd"], scope="uinfin name regadd")
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    refused(
        get_person(client, token, dpop_key, scope="uinfin name regadd noa-basic"), 403, "insufficient_scope"
    )


@pytest.fixture
def saver(db_session, runtime, agency_app):
    """Someone with pension balances, so a narrowed release has something to narrow."""
    return citizen_with(db_session, runtime, "cpfbalances")


def test_a_declined_sub_item_is_absent_and_an_approved_one_is_narrowed(
    client, db_session, keys, saver, dpop_key, jwks
):
    declined_verifier, approved_verifier = flow.secrets.token_hex(32), flow.secrets.token_hex(32)
    code = get_code(client, saver.id, declined_verifier, attributes=["regadd"])
    token = get_token(client, keys, code, declined_verifier, dpop_key)["access_token"]
    person, _ = open_person(get_person(client, token, dpop_key, scope="uinfin cpfbalances.oa"), keys, jwks)
    assert set(person) == {"uinfin"}, "cpfbalances was declined: cpfbalances.oa is absent, not refused"
    assert last_disclosure(db_session)["details"]["asked"] == ["cpfbalances.oa", "uinfin"]

    code = get_code(client, saver.id, approved_verifier, attributes=["cpfbalances"])
    token = get_token(client, keys, code, approved_verifier, dpop_key)["access_token"]
    person, _ = open_person(get_person(client, token, dpop_key, scope="uinfin cpfbalances.oa"), keys, jwks)
    assert set(person["cpfbalances"]) == {"oa", "lastupdated", "source", "classification"}
    recorded = last_disclosure(db_session)
    assert recorded["attributes"] == ["cpfbalances", "uinfin"]
    assert recorded["details"]["sub_attributes"] == ["cpfbalances.oa"]
