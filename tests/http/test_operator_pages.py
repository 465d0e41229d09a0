"""The operator pages through the Flask test client, CSRF on: every post carries the token the page
handed out, exactly as a browser would."""

from __future__ import annotations

import re

import pytest

from app.security import SECURITY_HEADERS
from profile_store.citizens import reveal_uinfin
from profile_store.fields import declare
from tests.factories import fresh_uinfin, make_citizen
from tests.http.staff_flow import csrf_token, new_staff, staff_login


def operator_login(client, *roles: str):
    """Sign a new member of staff (by default an operator) in; the sign-in's response."""
    return staff_login(client, new_staff(client, *(roles or ("operator",))))


@pytest.fixture
def signed_in(client):
    assert operator_login(client).status_code == 303
    return client


@pytest.fixture
def citizen(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return citizen


def look_up(
    client, citizen, *, reason: str = "support_case", reason_text: str = "case 1234", uinfin: str = ""
):
    """Open the citizen's record as an operator does: the national id and a reason, posted."""
    uinfin = uinfin or reveal_uinfin(client.application.extensions["consentry"].vault, citizen)
    form = {"csrf_token": csrf_token(client, "/operator/"), "uinfin": uinfin, "reason": reason}
    return client.post("/operator/lookup", data={**form, "reason_text": reason_text})


def refresh_profile(client, citizen):
    """Look the citizen up (with a reason), then refresh them from the agencies."""
    assert look_up(client, citizen).status_code == 303
    page = f"/operator/citizens/{citizen.id}"
    return client.post(f"{page}/refresh", data={"csrf_token": csrf_token(client, page)})


def test_landing_page_is_public_and_links_to_the_staff_sign_in(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Consentry" in response.text and 'href="/staff/sign-in"' in response.text


def test_healthz_says_ok(client):
    """Liveness only; the database is /readyz's (tests/app/test_metrics.py)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_sign_in_with_password_and_code_opens_the_search_page(client):
    response = operator_login(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/operator/"
    page = client.get("/operator/")
    assert page.status_code == 200
    assert "Find a citizen" in page.text and "Sign out" in page.text


def test_the_old_operator_sign_in_address_leads_to_the_staff_sign_in(client):
    response = client.get("/operator/login")
    assert response.status_code == 301 and response.headers["Location"] == "/staff/sign-in"


def test_sign_in_starts_a_fresh_session(client):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    operator_login(client)
    with client.session_transaction() as session:
        assert "planted" not in session
    assert client.get("/operator/").status_code == 200


def test_a_wrong_code_shows_the_form_again_with_one_error(client):
    staff = new_staff(client, "operator")
    response = staff_login(client, staff, code="000000")
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text and 'href="#username"' in response.text
    assert "The username, password or code is not correct" in response.text
    assert "<title>Error: " in response.text
    assert client.get("/operator/").status_code == 302


def test_empty_fields_are_each_named_and_unknown_fields_refused(client):
    token = csrf_token(client, "/staff/sign-in")
    response = client.post("/staff/sign-in", data={"csrf_token": token, "username": "", "password": ""})
    assert response.status_code == 400
    for field in ("username", "password", "code"):
        assert f'href="#{field}"' in response.text
    form = {"csrf_token": token, "username": "x", "password": "x", "code": "123456", "admin": "1"}
    assert client.post("/staff/sign-in", data=form).status_code == 400
    assert client.get("/operator/").status_code == 302


@pytest.mark.parametrize("path", ["/operator/", "/operator/citizens/00000000-0000-0000-0000-000000000000"])
def test_signed_out_pages_redirect_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in?next=")


def test_signed_out_posts_redirect_to_sign_in(client, citizen):
    token = csrf_token(client, "/staff/sign-in")
    for path in ("/operator/lookup", f"/operator/citizens/{citizen.id}/refresh"):
        response = client.post(path, data={"csrf_token": token, "uinfin": fresh_uinfin()})
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/staff/sign-in"


def test_sign_out_ends_the_session(signed_in):
    response = signed_in.post("/staff/sign-out", data={"csrf_token": csrf_token(signed_in, "/operator/")})
    assert response.status_code == 303
    assert signed_in.get("/operator/").status_code == 302
    assert "You have signed out" in signed_in.get("/staff/sign-in").text


@pytest.mark.parametrize("entered", ["S1234567A", "hello", "", "S123"])
def test_lookup_of_a_malformed_id_explains_the_format(signed_in, entered):
    token = csrf_token(signed_in, "/operator/")
    form = {"csrf_token": token, "uinfin": entered, "reason": "support_case"}
    response = signed_in.post("/operator/lookup", data=form)
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text and 'href="#uinfin"' in response.text
    assert "NRIC or FIN" in response.text


def test_lookup_of_an_unknown_id_says_so(signed_in):
    token = csrf_token(signed_in, "/operator/")
    form = {"csrf_token": token, "uinfin": fresh_uinfin(), "reason": "legal_request"}
    response = signed_in.post("/operator/lookup", data=form)
    assert response.status_code == 404
    assert "No citizen with this NRIC or FIN is known to Consentry" in response.text


def test_lookup_redirects_to_the_pseudonymous_id_never_the_national_id(signed_in, citizen, runtime):
    uinfin = reveal_uinfin(runtime.vault, citizen)
    token = csrf_token(signed_in, "/operator/")
    response = signed_in.post(
        "/operator/lookup",
        data={"csrf_token": token, "uinfin": f"  {uinfin.lower()} ", "reason": "correction_request"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/operator/citizens/{citizen.id}"
    assert uinfin not in response.headers["Location"]


def test_a_profile_not_looked_up_with_a_reason_is_not_shown(signed_in, citizen):
    response = signed_in.get(f"/operator/citizens/{citizen.id}")
    assert response.status_code == 302 and response.headers["Location"] == "/operator/"
    assert "Say why you are looking at this record first" in signed_in.get("/operator/").text


def test_profile_before_any_refresh_shows_everything_unavailable(signed_in, citizen, runtime):
    assert look_up(signed_in, citizen).status_code == 303
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
    look_up(signed_in, citizen)
    page = signed_in.get(f"/operator/citizens/{citizen.id}").text
    assert "Declared by the citizen" in page and "Declared by citizen" in page
    assert "tan.ah.kow@example.com" not in page, "masked until revealed"
    page = reveal(signed_in, citizen, "email")
    assert "tan.ah.kow@example.com" in page


def reveal(client, citizen, attribute: str) -> str:
    page = f"/operator/citizens/{citizen.id}"
    response = client.post(
        f"{page}/reveal", data={"csrf_token": csrf_token(client, page), "attribute": attribute}
    )
    assert response.status_code == 303, response.text[:500]
    return client.get(page).text


def test_every_value_is_masked_until_revealed(signed_in, citizen, runtime):
    uinfin = reveal_uinfin(runtime.vault, citizen)
    refresh_profile(signed_in, citizen)
    page = signed_in.get(f"/operator/citizens/{citizen.id}").text
    assert uinfin not in page
    assert f"••••{uinfin[-4:]}" in page
    assert "Masked: only part of it is shown." in page
    assert page.count(">Show in full<") > 5


def test_a_post_without_the_csrf_token_is_refused(signed_in, citizen):
    look_up(signed_in, citizen)
    response = signed_in.post(f"/operator/citizens/{citizen.id}/refresh")
    assert response.status_code == 400
    assert "The form expired or was not sent by this site" in response.text
    assert "Fetched just now" not in signed_in.get(f"/operator/citizens/{citizen.id}").text


def test_sign_in_without_the_csrf_token_is_refused(client):
    staff = new_staff(client, "operator")
    form = {"username": staff.username, "password": staff.password, "code": staff.next_code()}
    response = client.post("/staff/sign-in", data=form)
    assert response.status_code == 400
    assert client.get("/operator/").status_code == 302


@pytest.mark.parametrize(
    ("path", "signed_in_first"),
    [("/", False), ("/staff/sign-in", False), ("/operator/", True), ("/no/such/page", False)],
)
def test_pages_carry_the_security_headers_and_no_inline_script_or_style(client, path, signed_in_first):
    if signed_in_first:
        operator_login(client)
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    if path.startswith(("/operator", "/staff")):
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
