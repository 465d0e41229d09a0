"""Notices in a real Chromium: a real pre-fill (MyInfo v4: sign in, remember the decision,
share; the app redeems the code and fetches the person), the outbox worker delivers over SMTP to
a local aiosmtpd sink, the citizen opens the one-tap link from the mail, confirms, and the
consent is withdrawn; the link then says it was used. The settings page too. axe on each page."""

# ruff: noqa: F811 - the consent browser test's fixtures, imported by name
from __future__ import annotations

import re
import secrets

import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import expect
from sqlalchemy import select

from app.notices.wiring import build_mailer
from consent.models import Consent
from core.clock import utcnow
from notifications.delivery import SmtpSender, SmtpSettings
from notifications.sink import SinkHandler, start_sink
from notifications.worker import deliver_due
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.fields import declare
from tests.browser.test_consent_browser import (  # noqa: F401 - fixtures
    agency_server,
    gate,
    journey,
    sign_in,
    start,
)

LINK = re.compile(r"(http://\S+/citizen/withdraw-link/\S+)")


@pytest.fixture
def sink():
    controller = start_sink(SinkHandler())
    yield controller
    controller.stop()


def deliver(live, sink) -> None:
    rt = live.app.extensions["consentry"]
    sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{sink.port}", timeout_s=5))
    with live.app.app_context():
        deliver_due(
            rt.writer_sessions, build_mailer(rt, sender), now=utcnow(), worker="browser-test", batch=500
        )


def test_a_notice_arrives_and_its_one_tap_link_withdraws_the_consent(
    tab, gate, journey, live, sink, monkeypatch
):
    rt = live.app.extensions["consentry"]
    address = f"notice-{secrets.token_hex(4)}@example.com"
    with rt.sessions() as session:
        citizen = find_citizen_by_uinfin(session, vault=rt.vault, uinfin=journey.uinfin)
        declare(
            session,
            vault=rt.vault,
            catalogue=rt.catalogue,
            citizen=citizen,
            attribute="email",
            value={"value": address},
            now=utcnow(),
        )
        session.commit()
        citizen_id = citizen.id

    page = tab.page
    verifier = start(page, journey, state="st-notice")
    sign_in(page, journey)
    page.get_by_label("3 months").check()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    params = gate.last_params()
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    dpop_key = ECKey.generate_key("P-256")
    token = journey.app.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    journey.app.fetch_person(token["access_token"], dpop_key=dpop_key, scope=token["scope"].split())

    deliver(live, sink)
    mails = [m for m in sink.handler.received() if m.rcpt_tos == [address]]
    subjects = sorted(m.message["Subject"] for m in mails)
    assert subjects == [
        "Housing grant application received your details",
        "You let Housing grant application get your details without asking",
    ]
    release_mail = next(m for m in mails if "received" in m.message["Subject"])
    link = LINK.search(release_mail.text()).group(1)
    assert link.startswith(tab.base_url + "/citizen/withdraw-link/")

    page.context.clear_cookies()  # a phone's mail app: not signed in
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Withdraw your consent for Housing grant application?"
    )
    assert tab.axe_violations() == [], "confirmation page"
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_role("heading", name="Consent withdrawn")).to_be_visible()
    assert tab.axe_violations() == [], "withdrawn page"
    with rt.sessions() as session:
        consent = session.scalars(
            select(Consent).where(Consent.citizen_id == citizen_id, Consent.remembered.is_(True))
        ).one()
        assert consent.revoked_at is not None

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has already been used")
    assert tab.axe_violations() == [], "used link page"
    page.goto(tab.base_url + "/citizen/withdraw-link/forged.token")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    assert tab.problems == []


def test_the_settings_page(tab, gate, journey):
    page = tab.page
    page.goto(tab.base_url + "/citizen/sign-in?next=/citizen/settings/notifications")
    sign_in(page, journey)
    expect(page.get_by_role("heading", level=1)).to_have_text("Notification settings")
    assert tab.axe_violations() == [], "settings page"
    page.get_by_label("Once a day").check()
    page.get_by_label(re.compile("Do not email me")).check()
    expect(page.get_by_label("English", exact=True)).to_be_checked()  # never chosen: mails in English
    page.get_by_label("中文", exact=True).check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Your notification settings are saved.")).to_be_visible()
    expect(page.get_by_label("Once a day")).to_be_checked()
    expect(page.get_by_label("中文", exact=True)).to_be_checked()  # the page itself stays English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert tab.axe_violations() == [], "settings page, saved"
    assert tab.problems == []
