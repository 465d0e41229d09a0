"""Fixtures the admin pages' tests share (test_admin_apps, test_admin_app_form, test_admin_webhook)."""

from __future__ import annotations

import pytest

from consent.apps import register_app
from tests.consent.test_apps_and_consents import document
from tests.http.test_operator_pages import operator_login


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
