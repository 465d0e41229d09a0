"""Partial consent at userinfo (issue 16, item 1), the v4 person API's rule: what was requested
and approved goes out, a declined item (a sub-attribute such as `cpfbalances.oa` too) is simply
absent, and the audit entry records what was asked beside what went."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from audit.models import AuditEntry
from consent.grant_models import IssuedToken
from tests.fapi import flow


def last_disclosure(db_session) -> dict:
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.kind == "disclosure").order_by(AuditEntry.seq.desc()).limit(1)
    ).one()
    return json.loads(entry.body)


def person_info(client, keys, tokens, dpop_key, platform_jwks) -> dict:
    response = flow.userinfo(client, tokens["access_token"], dpop_key)
    assert response.status_code == 200, response.text
    body, _, _ = flow.open_nested(response.get_data(as_text=True), keys, platform_jwks)
    return body["person_info"]


def test_a_declined_sub_attribute_is_absent_and_the_audit_shows_asked_and_released(
    client, db_session, keys, citizen, verifier, dpop_key, platform_jwks
):
    # flow.SCOPE is "openid uinfin name regadd cpfbalances.oa"; the citizen unticks cpfbalances.
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key, attributes=["regadd"])["code"]
    tokens = flow.get_tokens(client, keys, code, verifier, dpop_key)
    assert tokens["scope"] == "openid uinfin name regadd"

    assert set(person_info(client, keys, tokens, dpop_key, platform_jwks)) == {"uinfin", "name", "regadd"}
    recorded = last_disclosure(db_session)
    assert recorded["attributes"] == ["name", "regadd", "uinfin"]
    assert recorded["details"]["asked"] == ["cpfbalances.oa", "name", "regadd", "uinfin"]
    assert "sub_attributes" not in recorded["details"]


def test_a_token_issued_before_requested_scopes_were_kept_releases_what_it_grants(
    client, db_session, keys, citizen, verifier, dpop_key, platform_jwks
):
    code = flow.get_code(client, citizen.id, keys, verifier, dpop_key)["code"]
    tokens = flow.get_tokens(client, keys, code, verifier, dpop_key)
    db_session.execute(update(IssuedToken).values(requested_scope=None))
    db_session.commit()

    person = person_info(client, keys, tokens, dpop_key, platform_jwks)

    assert set(person) == {"uinfin", "name", "regadd", "cpfbalances"}
    assert set(person["cpfbalances"]) == {"oa", "lastupdated", "source", "classification"}
    assert last_disclosure(db_session)["details"]["asked"] == ["cpfbalances.oa", "name", "regadd", "uinfin"]
