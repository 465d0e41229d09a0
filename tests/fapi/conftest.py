"""Fixtures of the Myinfo v5 tests: an agency app registered for v4 and v5 with its own keys, a
citizen with agency data, a PKCE verifier and the login's DPoP key."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey

from tests.fapi import flow
from tests.oauth.flow import AgencyKeys


@pytest.fixture
def keys() -> AgencyKeys:
    return AgencyKeys()


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
def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


@pytest.fixture
def platform_jwks(client) -> dict:
    return client.get("/.well-known/keys").get_json()
