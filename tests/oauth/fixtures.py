"""Fixtures of every MyInfo v4 test (registered in tests/conftest.py): an agency app with its own
keys, a citizen with agency data, a PKCE verifier and a DPoP key. Modules that need another app
or citizen (tests/fapi) define their own, which take precedence."""

from __future__ import annotations

import secrets

import pytest
from joserfc.jwk import ECKey

from tests.oauth import flow
from tests.oauth.flow import AgencyKeys


@pytest.fixture
def keys() -> AgencyKeys:
    return AgencyKeys()


@pytest.fixture
def agency_app(db_session, runtime, keys):
    return flow.setup_app(db_session, runtime, keys)


@pytest.fixture
def citizen(db_session, runtime, agency_app):
    return flow.setup_citizen(db_session, runtime)


@pytest.fixture
def verifier() -> str:
    return secrets.token_hex(32)


@pytest.fixture
def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)
