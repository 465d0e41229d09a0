"""Fixtures tests/app shares: an app built with some config changed; the admin pages' signed-in
admin and registered example app."""

from __future__ import annotations

import pytest

from app import create_app
from consent.apps import register_app
from tests.consent.test_apps_and_consents import document
from tests.http.test_operator_pages import operator_login


@pytest.fixture
def client_with(base_config, engine, sessions):
    """`client_with(**changes)`: a test client of an app built with those config changes (tighter
    limits, shorter sessions), on the test's database; each app is closed after the test."""
    made = []

    def make(**changes):
        application = create_app(base_config.replace(**changes), engine=engine)
        application.extensions["consentry"].use_sessions(sessions)
        made.append(application)
        return application.test_client()

    yield make
    for application in made:
        application.extensions["consentry"].close()


@pytest.fixture
def as_admin(client):
    """The test client, signed in as a member of staff with the admin role."""
    assert operator_login(client, "admin").status_code == 303
    return client


@pytest.fixture
def registered(db_session, runtime, now):
    """The housing grant app of tests.consent's example document, registered and committed."""
    app = register_app(db_session, document=document(), catalogue=runtime.catalogue, now=now)
    db_session.commit()
    return app
