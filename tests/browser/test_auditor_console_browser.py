"""The auditor console's questions in a real Chromium: filter the log by an app's name, verify the
log now and watch the run finish, open a report and download it as CSV. Every page is checked
with axe-core, for console errors and CSP violations."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from playwright.sync_api import expect

from audit.log import Event, append
from consent.models import AgencyApp
from core.clock import utcnow
from tests.factories import make_staff

PASSWORD = "correct horse battery staple"


@pytest.fixture
def console_world(live_app):
    """An auditor, an app with a name, and a few releases to it today, committed."""
    runtime = live_app.extensions["consentry"]
    username, app_id = f"auditor-{uuid.uuid4().hex[:8]}", f"app-{uuid.uuid4().hex[:6]}"
    name = f"Childcare Subsidy {uuid.uuid4().hex[:4]}"
    with runtime.sessions() as session:
        now = utcnow()
        auditor = make_staff(
            session, runtime.config.secret_key, roles=("auditor",), username=username, password=PASSWORD
        )
        session.add(
            AgencyApp(
                client_id=app_id,
                name=name,
                agency="MSF",
                redirect_uris=["https://example.test/cb"],
                allowed_attributes=["name"],
                jwks=None,
                jwks_uri=None,
                profiles=["myinfo-v4"],
            )
        )
        for attributes in (("name",), ("name", "sex")):
            event = Event(
                kind="disclosure",
                citizen_ref="e" * 64,
                app_id=app_id,
                purpose="subsidy",
                outcome="released",
                attributes=attributes,
                details={"asked": ["name", "sex", "dob"]},
            )
            append(session, event, now=now)
        session.commit()
    return username, auditor.totp, app_id, name


def test_auditor_console_journey(tab, console_world):
    username, totp, app_id, name = console_world
    page = tab.page
    tab.goto("/staff/sign-in?next=/auditor/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Search the audit log")).to_be_visible()

    page.get_by_label("App", exact=True).select_option(label=f"{name} ({app_id})")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"app_id={app_id}"))
    expect(page.locator("tbody tr")).to_have_count(2)
    assert tab.axe_violations() == []

    page.get_by_role("link", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="Verify the log")).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_role("heading", name=re.compile(r"Verification run \d+"))).to_be_visible()
    expect(page.locator("main .govuk-tag")).to_have_text(
        "Passed", timeout=30_000
    )  # the page refreshes itself
    assert tab.axe_violations() == []

    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="Apps that asked for more than they used").click()
    expect(page.locator("tbody")).to_contain_text(name)
    assert tab.axe_violations() == []
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(info.value.path().read_text())))
    assert rows[0][:2] == ["App", "App id"]
    mine = next(r for r in rows if r[1] == app_id)
    assert mine[0] == name and mine[3] == "Date of birth"
    assert tab.problems == []
