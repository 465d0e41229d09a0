"""The demo agency app (examples/housing_grant) pre-fills its form through a live Consentry: the
citizen signs in, shares some optional fields, and the form shows verified values read-only and
leaves what was not shared for the citizen to type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consent.apps import register_app
from core.clock import utcnow
from examples.housing_grant.app import create_demo_agency_app
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth import flow
from tests.servers import serving

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"


@pytest.fixture
def agency(live, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    rt = live.app.extensions["consentry"]
    document = json.loads(EXAMPLE.read_text())
    with serving(lambda url: create_demo_agency_app(live.url, base_url=url)) as (url, _app):
        with rt.sessions() as session:
            kids = flow.platform_kids(session)
            document["redirect_uris"] = [f"{url}/callback"]
            register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
            session.commit()
            citizen = flow.setup_citizen(session, rt)
            uinfin = reveal_uinfin(rt.vault, citizen)
            totp = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow()).totp_secret
            session.commit()
        yield url, uinfin, totp
        with rt.sessions() as session:
            flow.forget_committed(session, citizen_id=citizen.id, kids=kids, client_id=document["client_id"])


def test_the_demo_form_is_prefilled_with_what_the_citizen_shared(live, agency):
    url, uinfin, totp = agency
    browser = Browser(live.url)
    start = browser.http.post(f"{url}/retrieve", allow_redirects=False, timeout=10)
    assert start.status_code == 303
    params = browser.follow_to_app(
        browser.get(start.headers["Location"]),
        uinfin=uinfin,
        totp=totp,
        approve=["marital"],
        redirect_uri=f"{url}/callback",
    )
    page = browser.http.get(f"{url}/callback", params=params, timeout=10)
    assert page.status_code == 200
    assert f'value="{uinfin}" readonly' in page.text
    assert "Government-verified" in page.text
    assert page.text.count("Not shared: please fill in.") == 3  # noa-basic, cpfbalances, hdbownership
