"""The demo agency app (examples/housing_grant) pre-fills its form through a live Consentry: the
citizen signs in, shares some optional fields, and the form shows verified values read-only and
leaves what was not shared for the citizen to type."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.demo import seed_example_app
from consent.apps import get_app
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
    """The demo agency app on a free port (never 3001), registered as `consentry demo
    --agency-port` registers it: by `seed_example_app`, not by a test's own document."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    rt = live.app.extensions["consentry"]
    document = json.loads(EXAMPLE.read_text())
    with serving(lambda url: create_demo_agency_app(live.url, base_url=url)) as (url, _app):
        with rt.sessions() as session:
            kids = flow.platform_kids(session)
        with live.app.app_context():
            seed_example_app(urlsplit(url).port)
        with rt.sessions() as session:
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


@pytest.mark.parametrize("port", [3001, 3017])
def test_the_demo_registers_the_example_app_on_its_agency_port(app, db_session, port):
    """`consentry demo --agency-port 3017` used to register http://127.0.0.1:3001/callback anyway;
    seeding again with another port updates the registration."""
    with app.app_context():
        seed_example_app(3001)
        seed_example_app(port)
    db_session.expire_all()
    registered = get_app(db_session, json.loads(EXAMPLE.read_text())["client_id"])
    assert registered.redirect_uris == [f"http://127.0.0.1:{port}/callback"]
