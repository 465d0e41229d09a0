"""The example agency service (examples/housing_grant) against a live Consentry, over real HTTP: the
citizen retrieves their details through Myinfo v4 or v5, sharing some optional items; the form
shows the retrieved ones read-only and asks for the rest; a reload of the callback leads back to
the form; Submit stores the application and shows a reference. (The same journeys in Chromium,
with "Do not share" and axe, are in tests/browser/test_example_service.py.)"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.demo import seed_example_app
from consent.apps import get_app
from core.clock import utcnow
from examples.housing_grant.app import create_demo_agency_app
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.http.citizen_browser import CSRF, PASSWORD, Browser
from tests.oauth import flow
from tests.servers import serving

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
OPTIONAL_NOT_SHARED = {"noa-basic", "cpfbalances", "hdbownership"}
TYPED = {  # what the applicant types for those three
    "noa-basic-amount": "64,400",
    "noa-basic-year": "2025",
    "cpfbalances-oa": "58839.75",
    "cpfbalances-sa": "15349.50",
    "cpfbalances-ma": "20466",
    "hdbownership": "no",
}
RETRIEVED_ROW = re.compile(r'<div class="govuk-summary-list__row" data-item="([a-z-]+)">')
TO_TYPE = re.compile(r'<div class="govuk-!-margin-bottom-6" data-item="([a-z-]+)">')


@dataclass
class Agency:
    url: str
    app: object
    uinfin: str
    totp: str


@pytest.fixture
def agency(live, monkeypatch, tmp_path):
    """The example service on a free port (never 3001) with its own database, registered as
    `consentry demo --agency-port` registers it: by `seed_example_app`, not by a test's own
    document."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    rt = live.app.extensions["consentry"]
    document = json.loads(EXAMPLE.read_text())
    build = lambda url: create_demo_agency_app(live.url, base_url=url, database=tmp_path / "grant.db")  # noqa: E731
    with serving(build) as (url, agency_app):
        with rt.sessions() as session:
            kids = flow.platform_kids(session)
        with live.app.app_context():
            seed_example_app(urlsplit(url).port)
        with rt.sessions() as session:
            citizen = flow.setup_citizen(session, rt)
            uinfin = reveal_uinfin(rt.vault, citizen)
            totp = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow()).totp_secret
            session.commit()
        yield Agency(url, agency_app, uinfin, totp)
        with rt.sessions() as session:
            flow.forget_committed(session, citizen_id=citizen.id, kids=kids, client_id=document["client_id"])


@pytest.fixture
def alone(tmp_path):
    """The service on its own, for what needs no Consentry: (its URL, its app)."""
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing answers

    def build(url: str):
        return create_demo_agency_app(unreachable, base_url=url, database=tmp_path / "grant.db")

    with serving(build) as site:
        yield site


def retrieve(browser: Browser, agency: Agency, *, version: str, approve: list[str]) -> dict[str, str]:
    """From the empty form, through Consentry (sign in, share `approve` of the optional items),
    back to the service's callback: its query parameters."""
    form = browser.http.get(f"{agency.url}/", timeout=10)
    start = browser.submit(f"{agency.url}/retrieve", form, [("version", version)])
    assert start.status_code == 303, start.text[:300]
    return browser.follow_to_app(
        browser.get(start.headers["Location"]),
        uinfin=agency.uinfin,
        totp=agency.totp,
        approve=approve,
        redirect_uri=f"{agency.url}/callback",
    )


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_the_form_is_prefilled_with_what_the_citizen_shared_and_submitted(live, agency, version):
    browser = Browser(live.url)
    params = retrieve(browser, agency, version=version, approve=["marital"])
    back = browser.http.get(f"{agency.url}/callback", params=params, allow_redirects=False, timeout=10)
    assert back.status_code == 303 and back.headers["Location"] == "/"

    form = browser.http.get(f"{agency.url}/", timeout=10)
    retrieved, to_type = set(RETRIEVED_ROW.findall(form.text)), set(TO_TYPE.findall(form.text))
    assert {"uinfin", "name", "marital"} <= retrieved
    assert to_type >= OPTIONAL_NOT_SHARED and not retrieved & to_type
    assert agency.uinfin in form.text and 'name="uinfin"' not in form.text  # shown, not an input
    assert {"v4": "through Myinfo v4.", "v5": "through Myinfo v5 (FAPI 2.0)."}[version] in form.text

    # A reload (or the back button) on the callback: the sign-in is spent, the form is still there.
    again = browser.http.get(f"{agency.url}/callback", params=params, timeout=10)
    assert again.status_code == 200 and again.url == f"{agency.url}/"
    assert agency.uinfin in again.text and "sign-in has ended" not in again.text

    typed = TYPED | _fill_other_unavailable(to_type - OPTIONAL_NOT_SHARED)
    done = browser.submit(f"{agency.url}/submit", again, list(typed.items()))
    assert done.status_code == 303 and done.headers["Location"] == "/confirmation", done.text[:500]
    confirmation = browser.http.get(f"{agency.url}/confirmation", timeout=10)
    reference = re.search(r"<strong>(HG-[A-Z0-9]{4}-[A-Z0-9]{4})</strong>", confirmation.text).group(1)

    stored = agency.app.extensions["housing_grant"]["store"].application(reference)
    assert stored["flow"] == version
    answers = stored["answers"]
    assert answers["uinfin"] == {"source": "myinfo", "value": answers["uinfin"]["value"]}
    assert answers["uinfin"]["value"]["value"] == agency.uinfin  # as received, provenance and all
    assert answers["noa-basic"] == {"source": "applicant", "value": {"amount": "64400.00", "year": "2025"}}
    assert answers["hdbownership"] == {"source": "applicant", "value": "no"}
    assert set(answers) == retrieved | to_type

    # The journey is over: the details are gone from the form.
    assert agency.uinfin not in browser.http.get(f"{agency.url}/", timeout=10).text


def _fill_other_unavailable(names: set[str]) -> dict[str, str]:
    """Answers for any other item the citizen's records do not hold (synthetic people vary)."""
    answers = {
        "dob": {"dob-day": "6", "dob-month": "6", "dob-year": "1990"},
        "regadd": {"regadd-block": "102", "regadd-street": "Bedok North Avenue 4", "regadd-postal": "460102"},
        "marital": {"marital": "1"},
    }
    return {key: value for name in names for key, value in answers.get(name, {}).items()}


def test_a_callback_whose_sign_in_is_gone_leads_to_the_form_with_a_note(alone):
    """A bookmarked or replayed callback in a browser that has no sign-in under way."""
    url, _ = alone
    page = Browser(url).http.get(f"{url}/callback?code=x&state=y&iss=z", timeout=10)
    assert page.status_code == 200 and page.url == f"{url}/"
    assert "That sign-in has ended" in page.text and 'name="uinfin"' in page.text


def test_submitting_an_incomplete_form_shows_each_problem_and_stores_nothing(alone):
    url, agency_app = alone
    browser = Browser(url)
    form = browser.http.get(f"{url}/", timeout=10)
    page = browser.submit(f"{url}/submit", form, [("name", "Tan Ah Kow"), ("regadd-postal", "4601")])
    assert page.status_code == 400
    assert '<a href="#regadd-postal">Enter a postal code of 6 digits, like 460102</a>' in page.text
    assert '<a href="#uinfin">Enter your NRIC or FIN</a>' in page.text
    assert 'value="Tan Ah Kow"' in page.text  # what was typed is kept
    assert '<a href="#name">' not in page.text
    with agency_app.extensions["housing_grant"]["store"]._connection() as db:
        assert db.execute("SELECT count(*) FROM application").fetchone() == (0,)


def test_a_form_without_its_csrf_token_leads_back_to_the_form(alone):
    url, _ = alone
    browser = Browser(url)
    page = browser.http.post(f"{url}/retrieve", data={"version": "v4"}, timeout=10)
    assert page.status_code == 200 and page.url == f"{url}/"
    assert "Your session timed out" in page.text and CSRF.search(page.text)


def test_when_consentry_cannot_be_reached_the_form_says_so(alone):
    url, _ = alone
    browser = Browser(url)
    page = browser.submit(f"{url}/retrieve", browser.http.get(f"{url}/", timeout=10), [("version", "v5")])
    assert page.status_code == 303 and page.headers["Location"] == "/"  # v5 starts with PAR: refused
    form = browser.http.get(f"{url}/", timeout=10)
    assert "Myinfo is not available at the moment" in form.text and 'name="uinfin"' in form.text


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
    assert registered.profiles == ["myinfo-v4", "myinfo-v5"]  # the service offers both flows


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("get", "/no-such-page", 404, "Page not found"),
        ("get", "/submit", 405, "Sorry, that did not work"),
    ],
)
def test_other_errors_are_pages_of_the_service(alone, method, path, status, title):
    url, _ = alone
    page = getattr(Browser(url).http, method)(f"{url}{path}", timeout=10)
    assert page.status_code == status
    assert f'<h1 class="govuk-heading-l">{title}</h1>' in page.text and 'href="/"' in page.text
