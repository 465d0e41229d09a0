"""Fixtures of the Myinfo v5 tests: an agency app registered for v4 and v5, a citizen with pension
balances, and a PKCE verifier as v5 clients make it. The app's keys and the login's DPoP key are
tests/oauth/fixtures.py's."""

from __future__ import annotations

import pytest

from tests.fapi import flow


@pytest.fixture
def agency_app(db_session, runtime, keys):
    return flow.setup_app(db_session, runtime, keys)


@pytest.fixture
def citizen(db_session, runtime, agency_app):
    """Someone with pension balances: flow.SCOPE asks for `cpfbalances.oa`."""
    return flow.citizen_with(db_session, runtime, "cpfbalances")


@pytest.fixture
def verifier() -> str:
    return flow.verifier()


@pytest.fixture
def platform_jwks(client) -> dict:
    return client.get("/.well-known/keys").get_json()
