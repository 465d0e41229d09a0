"""The operator pages through the Flask test client, CSRF on: every post carries the token the page
handed out, exactly as a browser would."""

from __future__ import annotations

import re

import pytest

from app.security import SECURITY_HEADERS
from profile_store.citizens import reveal_uinfin
from profile_store.fields import declare
from tests.factories import fresh_uinfin, make_citizen

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    match = CSRF_INPUT.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def operator_login(client, password: str | None = None):
    password = (
        password
        if password is not None
        else client.application.extensions["consentry"].config.operator_password
    )
    return client.post(
        "/operator/login", data={"csrf_token": csrf_token(client, "/operator/login"), "password": password}
    )


@pytest.fixture
def signed_in(client):
    assert operator_login(client).status_code == 303
    return client


@pytest.fixture
def citizen(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return citizen


def refresh_profile(client, citizen):
    page = f"/operator/citizens/{citizen.id}"
    return client.post(f"{page}/refresh", data={"csrf_token": csrf_token(client, page)})


def test_landing_page_is_public_and_links_to_the_operator_pages(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Consentry" in response.text and 'href="/operator/"' in response.text


def test_healthz_says_ok(client):
    """Liveness only; the database is /readyz's (tests/app/test_metrics.py)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_sign_in_with_the_right_password_opens_the_search_page(client):
    response = operator_login(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/operator/"
    page = client.get("/operator/")
    assert page.status_code == 200
    assert "Find a citizen" in page.text and "Sign out" in page.text


def test_sign_in_starts_a_fresh_session(client):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    operator_login(client)
    with client.session_transaction() as session:
        assert "planted" not in session
    assert client.get("/operator/").status_code == 200


def test_wrong_password_shows_the_form_again_with_an_error(client):
    response = operator_login(client, "not-the-password")
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text
    assert 'href="#password"' in response.text
    assert "govuk-error-message" in response.text and "The password is not correct" in response.text
    assert "<title>Error: " in response.text
    assert client.get("/operator/").status_code == 302


def test_empty_password_and_unknown_fields_are_refused(client):
    token = csrf_token(client, "/operator/login")
    assert client.post("/operator/login", data={"csrf_token": token, "password": ""}).status_code == 400
    response = client.post("/operator/login", data={"csrf_token": token, "password": "x", "admin": "1"})
    assert response.status_code == 400
    assert client.get("/operator/").status_code == 302


@pytest.mark.parametrize("path", ["/operator/", "/operator/citizens/00000000-0000-0000-0000-000000000000"])
def test_signed_out_pages_redirect_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/operator/login"


def test_signed_out_posts_redirect_to_sign_in(client, citizen):
    token = csrf_token(client, "/operator/login")
    for path in ("/operator/lookup", f"/operator/citizens/{citizen.id}/refresh"):
        response = client.post(path, data={"csrf_token": token, "uinfin": fresh_uinfin()})
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/operator/login"


def test_sign_out_ends_the_session(signed_in):
    response = signed_in.post("/operator/logout", data={"csrf_token": csrf_token(signed_in, "/operator/")})
    assert response.status_code == 303
    assert signed_in.get("/operator/").status_code == 302
    assert "You have signed out" in signed_in.get("/operator/login").text


@pytest.mark.parametrize("entered", ["S1234567A", "hello", "", "S123"])
def test_lookup_of_a_malformed_id_explains_the_format(signed_in, entered):
    token = csrf_token(signed_in, "/operator/")
    response = signed_in.post("/operator/lookup", data={"csrf_token": token, "uinfin": entered})
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text and 'href="#uinfin"' in response.text
    assert "NRIC or FIN" in response.text


def test_lookup_of_an_unknown_id_says_so(signed_in):
    token = csrf_token(signed_in, "/operator/")
    response = signed_in.post("/operator/lookup", data={"csrf_token": token, "uinfin": fresh_uinfin()})
    assert response.status_code == 404
    assert "No citizen with this NRIC or FIN is known to Consentry" in response.text


def test_lookup_redirects_to_the_pseudonymous_id_never_the_national_id(signed_in, citizen, runtime):
    uinfin = reveal_uinfin(runtime.vault, citizen)
    token = csrf_token(signed_in, "/operator/")
    response = signed_in.post(
        "/operator/lookup", data={"csrf_token": token, "uinfin": f"  {uinfin.lower()} "}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/operator/citizens/{citizen.id}"
    assert uinfin not in response.headers["Location"]


def test_profile_of_an_unknown_citizen_is_a_404_page(signed_in):
    response = signed_in.get("/operator/citizens/no-such-citizen")
    assert response.status_code == 404
    assert "govuk-heading-l" in response.text


def test_profile_before_any_refresh_shows_everything_unavailable(signed_in, citizen, runtime):
    response = signed_in.get(f"/operator/citizens/{citizen.id}")
    assert response.status_code == 200
    assert "Not fetched" in response.text and "Never fetched" in response.text
    assert response.text.count(">Unavailable<") == len(runtime.catalogue.names())


def test_refresh_shows_provenance_and_a_success_banner(signed_in, citizen, runtime):
    response = refresh_profile(signed_in, citizen)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/operator/citizens/{citizen.id}"
    page = signed_in.get(response.headers["Location"]).text
    assert "Profile refreshed from all 8 agencies" in page
    for code in runtime.catalogue.source_agencies():
        assert runtime.catalogue.agencies[code].name in page
    assert "Government-verified" in page
    assert "Fetched just now" in page
    assert ">Unavailable<" in page, "attributes only a citizen can declare stay unavailable"
    assert "govuk-tag--green" in page and "govuk-tag--red" not in page
    assert "Profile refreshed" not in signed_in.get(f"/operator/citizens/{citizen.id}").text, "flashed once"


def test_a_failing_agency_is_named_with_its_reason(signed_in, citizen, simulators):
    simulators.set_fault("tax", outage=True)
    response = refresh_profile(signed_in, citizen)
    page = signed_in.get(response.headers["Location"]).text
    assert "Refreshed, with problems" in page
    assert "1 of 8 agencies did not answer" in page
    assert "Tax Authority: http_503" in page
    assert "govuk-tag--red" in page and "The last attempt failed for: Tax Authority" in page


def test_declared_values_say_so(signed_in, citizen, db_session, runtime, now):
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": "tan.ah.kow@example.com"},
        now=now,
    )
    db_session.commit()
    page = signed_in.get(f"/operator/citizens/{citizen.id}").text
    assert "Declared by the citizen" in page and "Declared by citizen" in page
    assert "tan.ah.kow@example.com" in page


def test_highly_sensitive_values_are_masked_but_for_their_last_four_characters(signed_in, citizen, runtime):
    uinfin = reveal_uinfin(runtime.vault, citizen)
    refresh_profile(signed_in, citizen)
    page = signed_in.get(f"/operator/citizens/{citizen.id}").text
    assert uinfin not in page
    assert f"••••{uinfin[-4:]}" in page
    assert "Masked: only the last 4 characters are shown." in page


def test_a_post_without_the_csrf_token_is_refused(signed_in, citizen):
    response = signed_in.post(f"/operator/citizens/{citizen.id}/refresh")
    assert response.status_code == 400
    assert "The form expired or was not sent by this site" in response.text
    assert "Fetched just now" not in signed_in.get(f"/operator/citizens/{citizen.id}").text


def test_sign_in_without_the_csrf_token_is_refused(client, app):
    response = client.post(
        "/operator/login", data={"password": app.extensions["consentry"].config.operator_password}
    )
    assert response.status_code == 400
    assert client.get("/operator/").status_code == 302


@pytest.mark.parametrize(
    ("path", "signed_in_first"),
    [("/", False), ("/operator/login", False), ("/operator/", True), ("/no/such/page", False)],
)
def test_pages_carry_the_security_headers_and_no_inline_script_or_style(client, path, signed_in_first):
    if signed_in_first:
        operator_login(client)
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    if path.startswith("/operator"):
        assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert 'type="module" src="/static/app.js"' in html


def test_the_profile_page_has_no_inline_script_or_style_either(signed_in, citizen):
    refresh_profile(signed_in, citizen)
    html = signed_in.get(f"/operator/citizens/{citizen.id}").text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html
