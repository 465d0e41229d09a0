"""'Refresh my record now' and 'Download my data' in a real Chromium: a citizen refreshes with one
agency down (and one slow, so the running page with its "Check again" link is seen), reads each
agency's outcome, and finds the down agency's values kept; then downloads the JSON and the zip and
reads them. axe-core on every page, and at 375 px no sideways scrolling."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from agency_connectors.refresh import refresh_citizen
from agency_connectors.simulators.records import record_for
from core.clock import utcnow
from identity.accounts import enrol
from profile_store.models import Citizen
from tests.browser.test_citizen_portal import PASSWORD, code
from tests.browser.test_citizen_sign_in import Account, fill_sign_in
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases


@pytest.fixture
def account(live_app) -> Iterator[Account]:
    """A citizen fetched from every agency, with a sign-in account, committed for real; removed
    afterwards (their audit entries stay, under a national id no other test uses)."""
    runtime = live_app.extensions["consentry"]
    uinfin, now = fresh_uinfin(), utcnow()
    with runtime.writer_sessions() as session:
        citizen = make_citizen(session, runtime.vault, uinfin=uinfin, now=now)
        refresh_citizen(
            session,
            registry=runtime.connectors,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            now=now,
        )
        enrolment = enrol(session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=now)
        session.commit()
        citizen_id = citizen.id
    yield Account(uinfin, pyotp.TOTP(enrolment.totp_secret))
    with runtime.writer_sessions() as session:
        session.execute(delete(Citizen).where(Citizen.id == citizen_id))
        session.commit()


def test_refresh_with_one_agency_down(tab, phone_tab, live_app, account, simulators):
    simulators.set_fault("identity", outage=True)
    simulators.set_fault("tax", latency_ms=700)
    name = record_for("identity", account.uinfin)["name"]["value"]
    page = tab.page
    tab.goto("/citizen/profile")
    fill_sign_in(page, account, code(account))
    expect(page.get_by_role("heading", name="My profile", exact=True)).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="Refresh my record now").click()

    expect(page.get_by_role("heading", name="Refresh my record")).to_be_visible()
    expect(page.get_by_role("link", name="Check again")).to_be_visible()  # tax takes 0.7 s
    assert tab.axe_violations() == []
    for _ in range(40):
        if page.get_by_role("link", name="Check again").count() == 0:
            break
        time.sleep(0.25)
        page.get_by_role("link", name="Check again").click()
    outcomes = page.get_by_role("table", name="What each agency said")
    expect(outcomes).to_be_visible()
    expect(outcomes.locator("#outcome-identity")).to_contain_text("Not reached")
    expect(outcomes.locator("#outcome-identity")).to_contain_text("We kept the ones we had")
    expect(outcomes.locator("#outcome-tax")).not_to_contain_text("Not reached")
    assert tab.axe_violations() == []

    page.get_by_role("link", name="Back to My profile").click()
    page.locator("summary", has_text="National Identity Registry").click()
    expect(page.locator("#field-name")).to_contain_text(name)
    assert tab.problems == []

    phone = phone_tab.page
    phone_tab.goto("/citizen/refresh")
    fill_sign_in(phone, account, code(account, 1))
    expect(phone.get_by_role("table", name="What each agency said")).to_be_visible()
    assert horizontal_overflow(phone_tab) == []
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []


def test_download_both_files_and_read_them(tab, phone_tab, account):
    name = record_for("identity", account.uinfin)["name"]["value"]
    page = tab.page
    tab.goto("/citizen/")
    fill_sign_in(page, account, code(account))
    page.locator("main").get_by_role("link", name="Download my data").click()
    expect(page.get_by_role("heading", name="Download my data")).to_be_visible()
    assert tab.axe_violations() == []

    with page.expect_download() as got:
        page.get_by_role("button", name="Download as JSON").click()
    assert got.value.suggested_filename == "consentry-my-record.json"
    record = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    profile = {row["attribute"]: row for row in record["profile"]}
    assert profile["name"]["value"]["value"] == name

    with page.expect_download() as got:
        page.get_by_role("button", name="Download as CSV files (zip)").click()
    assert got.value.suggested_filename == "consentry-my-record.zip"
    with zipfile.ZipFile(got.value.path()) as archive:
        names = set(archive.namelist())
        rows = list(csv.DictReader(io.StringIO(archive.read("profile.csv").decode())))
    assert {"profile.csv", "history.csv", "declarations.csv", "consents.csv", "disclosures.csv"} <= names
    assert json.loads({row["attribute"]: row for row in rows}["name"]["value"])["value"] == name
    assert tab.problems == []

    phone = phone_tab.page
    phone_tab.goto("/citizen/download")
    fill_sign_in(phone, account, code(account, 1))
    expect(phone.get_by_role("heading", name="Download my data")).to_be_visible()
    assert horizontal_overflow(phone_tab) == []
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []
