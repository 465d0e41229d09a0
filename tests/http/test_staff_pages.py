"""Staff over HTTP (Flask test client, CSRF on): one sign-in for every role, each role reaching
only its own pages (a refusal is a 403 page and an audit entry), a disabled account refused,
every action audited with the member as actor; looking at a citizen needs a reason, is audited
before anything is shown and reaches the citizen's "Who has my data"; each value revealed is
audited; app admins add and disable staff on a page."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
from sqlalchemy import delete

from core.clock import utcnow
from identity.accounts import enrol
from identity.staff import SIGN_IN_FAILED, disable_staff, find_staff
from identity.staff_models import StaffMember
from profile_store.citizens import reveal_uinfin
from profile_store.fields import declare
from profile_store.models import AgencySync
from tests.audit_rows import written_here
from tests.factories import fresh_uinfin, make_citizen
from tests.http.staff_flow import csrf_token, new_staff, signed_in_staff, staff_login
from tests.http.test_operator_pages import look_up

CITIZEN_PASSWORD = "citizen correct horse battery"
# One UTC instant and how each staff page must show it: in DISPLAY_TIMEZONE (default Singapore,
# UTC+8), the zone named on the time (app/display_time.py, `local_time('staff')`).
INSTANT = dt.datetime(2026, 12, 3, 6, 5, tzinfo=dt.UTC)
SHOWN_IN = {
    "Asia/Singapore": "3 Dec 2026 14:05 (Asia/Singapore)",
    "Europe/London": "3 Dec 2026 06:05 (Europe/London)",  # GMT in December
}


@pytest.fixture
def citizen(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return citizen


def entries(db_session, **where) -> list[dict]:
    """The bodies of this test's audit entries, oldest first, matching `where` (kind=...)."""
    return [json.loads(entry.body) for entry in written_here(db_session, **where)]


def outcomes(db_session, actor: str) -> list[str]:
    return [
        e.get("outcome")
        for e in entries(db_session, kind="admin_action")
        if (e.get("details") or {}).get("actor") == actor
    ]


# Sign-in


@pytest.mark.as_owner  # empties the staff table (rolled back): live servers commit members into it
def test_with_no_staff_account_the_sign_in_page_says_how_to_add_the_first_admin(client, db_session):
    db_session.execute(delete(StaffMember))
    db_session.commit()
    assert "consentry staff add NAME --role admin" in client.get("/staff/sign-in").text
    new_staff(client, "admin")
    assert "consentry staff add NAME --role admin" not in client.get("/staff/sign-in").text


def test_sign_in_and_sign_out_are_audited_with_the_member_as_actor(client, db_session):
    staff = signed_in_staff(client, "operator")
    client.post("/staff/sign-out", data={"csrf_token": csrf_token(client, "/operator/")})
    assert outcomes(db_session, f"staff:{staff.id}") == ["staff_signed_in", "staff_signed_out"]


def test_a_failed_sign_in_is_audited_never_with_the_password_or_code(client, db_session):
    staff = new_staff(client, "operator")
    response = staff_login(client, staff, password="the wrong password entirely")
    assert response.status_code == 400 and SIGN_IN_FAILED in response.text
    staff_login(client, new_staff(client, "operator"), username="no.such.person")
    failed = [e for e in entries(db_session, kind="admin_action") if e["outcome"] == "staff_sign_in_failed"]
    assert [e["details"] for e in failed] == [{"actor": f"staff:{staff.id}"}, {"actor": "unknown"}]
    assert "the wrong password entirely" not in json.dumps(failed)


def test_a_disabled_account_cannot_sign_in_and_is_signed_out_at_once(client, db_session):
    staff = signed_in_staff(client, "operator")
    disable_staff(db_session, username=staff.username, now=utcnow())
    db_session.commit()
    assert client.get("/operator/").status_code == 302
    response = staff_login(client, staff)
    assert response.status_code == 400 and SIGN_IN_FAILED in response.text


def test_sign_in_is_limited_per_username(client, app):
    app.extensions["consentry"].config = app.extensions["consentry"].config.replace(sign_in_account_limit=2)
    staff = new_staff(client, "operator")
    for _ in range(2):
        assert staff_login(client, staff, code="000000").status_code == 400
    response = staff_login(client, staff)
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_sign_in_returns_to_the_page_asked_for(client):
    assert client.get("/admin/staff/").headers["Location"] == "/staff/sign-in?next=/admin/staff/"
    staff = new_staff(client, "admin")
    token = csrf_token(client, "/staff/sign-in?next=/admin/staff/")
    form = {"csrf_token": token, "username": staff.username, "password": staff.password}
    response = client.post(
        "/staff/sign-in", data={**form, "code": staff.next_code(), "next": "/admin/staff/"}
    )
    assert response.headers["Location"] == "/admin/staff/"


# Roles


@pytest.mark.parametrize(
    ("roles", "path", "needed"),
    [
        (("operator",), "/admin/apps/", "admin"),
        (("operator",), "/admin/staff/", "admin"),
        (("auditor",), "/operator/", "operator"),
        (("admin",), "/operator/", "operator"),
        (("operator", "admin"), "/auditor/", "auditor"),
    ],
)
def test_a_page_of_another_role_is_a_403_and_the_attempt_is_audited(client, db_session, roles, path, needed):
    staff = signed_in_staff(client, *roles)
    response = client.get(path)
    assert response.status_code == 403
    assert f"does not have the {needed} role" in response.text
    denied = [e for e in entries(db_session, kind="admin_action") if e["outcome"] == "access_denied"]
    assert denied[-1]["details"]["actor"] == f"staff:{staff.id}"
    assert denied[-1]["details"]["needed_role"] == needed


def test_an_auditor_cannot_look_a_citizen_up(client, db_session, citizen, runtime):
    signed_in_staff(client, "auditor")
    form = {"csrf_token": csrf_token(client, "/auditor/"), "uinfin": reveal_uinfin(runtime.vault, citizen)}
    response = client.post("/operator/lookup", data={**form, "reason": "support_case"})
    assert response.status_code == 403
    assert entries(db_session, kind="staff_lookup") == []


def test_a_member_with_several_roles_reaches_each_roles_pages(client, db_session):
    staff = signed_in_staff(client, "operator", "admin", "auditor")
    for path in ("/operator/", "/admin/apps/", "/admin/staff/", "/auditor/"):
        assert client.get(path).status_code == 200, path
    menu = client.get("/operator/").text
    assert all(f'href="{p}"' in menu for p in ("/operator/", "/admin/apps/", "/admin/staff/", "/auditor/"))
    searched = entries(db_session, kind="auditor_search")
    assert searched[-1]["details"]["actor"] == f"staff:{staff.id}"


def test_a_forged_post_without_the_csrf_token_is_refused(client, db_session, citizen, runtime):
    signed_in_staff(client, "operator", "admin")
    response = client.post(
        "/operator/lookup", data={"uinfin": reveal_uinfin(runtime.vault, citizen), "reason": "legal_request"}
    )
    assert response.status_code == 400
    form = {"username": "forged.one", "password": "a long enough password", "roles": "admin"}
    assert client.post("/admin/staff/-/new", data=form).status_code == 400
    assert (
        entries(db_session, kind="staff_lookup") == []
        and find_staff(db_session, username="forged.one") is None
    )


# Looking at a citizen


def test_a_lookup_without_a_reason_is_refused_and_shows_nothing(client, db_session, citizen, runtime):
    signed_in_staff(client, "operator")
    uinfin = reveal_uinfin(runtime.vault, citizen)
    response = client.post(
        "/operator/lookup", data={"csrf_token": csrf_token(client, "/operator/"), "uinfin": uinfin}
    )
    assert response.status_code == 400
    assert 'href="#reason"' in response.text and "Choose why you are looking at this record" in response.text
    assert entries(db_session, kind="staff_lookup") == []
    assert client.get(f"/operator/citizens/{citizen.id}").status_code == 302


@pytest.mark.parametrize(
    ("reason", "text", "problem"),
    [
        ("other", "", "Describe the reason"),
        ("other", "x" * 201, "at most 200 characters"),
        ("support_case", "about S1234567D", "Do not put an NRIC or FIN in the reason"),
        ("curiosity", "", "Choose why you are looking at this record"),
    ],
)
def test_a_bad_reason_is_named_next_to_its_field(client, db_session, citizen, reason, text, problem):
    signed_in_staff(client, "operator")
    response = look_up(client, citizen, reason=reason, reason_text=text)
    assert response.status_code == 400 and problem in response.text
    assert entries(db_session, kind="staff_lookup") == []


def test_every_problem_of_a_lookup_is_named_at_once(client):
    signed_in_staff(client, "operator")
    form = {"csrf_token": csrf_token(client, "/operator/"), "uinfin": "S123", "reason": "other"}
    response = client.post("/operator/lookup", data=form)
    for field in ("uinfin", "reason_text"):
        assert f'href="#{field}"' in response.text


def test_the_lookup_is_audited_before_the_profile_and_the_citizen_sees_it(
    client, db_session, citizen, runtime
):
    staff = signed_in_staff(client, "operator")
    response = look_up(client, citizen, reason="other", reason_text="Call from the citizen, ticket 77")
    assert response.status_code == 303
    (entry,) = entries(db_session, kind="staff_lookup")
    assert entry["citizen_ref"] == citizen.uinfin_digest
    assert entry["details"] == {
        "actor": f"staff:{staff.id}",
        "staff": staff.username,
        "reason": "Other: Call from the citizen, ticket 77",
    }
    assert client.get(response.headers["Location"]).status_code == 200

    uinfin = reveal_uinfin(runtime.vault, citizen)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=CITIZEN_PASSWORD, now=utcnow())
    db_session.commit()
    other = client.application.test_client()
    form = {
        "csrf_token": csrf_token(other, "/citizen/sign-in"),
        "uinfin": uinfin,
        "password": CITIZEN_PASSWORD,
        "code": pyotp.TOTP(enrolment.totp_secret).now(),
    }
    assert other.post("/citizen/sign-in", data=form).status_code == 303
    history = other.get("/citizen/history").text
    assert (
        f"Consentry staff ({staff.username}) looked at your record: Other: Call from the citizen, ticket 77"
        in history
    )


def test_no_audit_entry_no_profile(client, db_session, citizen, monkeypatch):
    signed_in_staff(client, "operator")
    token = csrf_token(client, "/operator/")

    def refuse(*_args, **_kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr("app.operator.views.record", refuse)
    uinfin = reveal_uinfin(client.application.extensions["consentry"].vault, citizen)
    response = client.post(
        "/operator/lookup", data={"csrf_token": token, "uinfin": uinfin, "reason": "legal_request"}
    )
    assert response.status_code == 500
    assert client.get(f"/operator/citizens/{citizen.id}").status_code == 302


def test_revealing_a_value_is_audited_then_shown_in_full(client, db_session, citizen, runtime, now):
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": "mei.ling@example.com"},
        now=now,
    )
    db_session.commit()
    staff = signed_in_staff(client, "operator")
    look_up(client, citizen)
    page = f"/operator/citizens/{citizen.id}"
    assert "mei.ling@example.com" not in client.get(page).text
    response = client.post(
        f"{page}/reveal", data={"csrf_token": csrf_token(client, page), "attribute": "email"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#field-email")
    (entry,) = entries(db_session, kind="staff_reveal")
    assert entry["attributes"] == ["email"] and entry["details"]["actor"] == f"staff:{staff.id}"
    assert entry["citizen_ref"] == citizen.uinfin_digest
    assert "mei.ling@example.com" in client.get(page).text


def test_reveal_needs_a_lookup_first_and_a_known_item(client, db_session, citizen):
    signed_in_staff(client, "operator")
    page = f"/operator/citizens/{citizen.id}"
    token = csrf_token(client, "/operator/")
    assert client.post(f"{page}/reveal", data={"csrf_token": token, "attribute": "email"}).status_code == 404
    look_up(client, citizen)
    assert client.post(f"{page}/reveal", data={"csrf_token": token, "attribute": "nope"}).status_code == 400
    assert client.post(f"{page}/reveal", data={"attribute": "email"}).status_code == 400
    assert entries(db_session, kind="staff_reveal") == []


def test_a_refresh_is_audited_with_the_operator_as_actor(client, db_session, citizen):
    staff = signed_in_staff(client, "operator")
    look_up(client, citizen)
    page = f"/operator/citizens/{citizen.id}"
    assert client.post(f"{page}/refresh", data={"csrf_token": csrf_token(client, page)}).status_code == 303
    (entry,) = entries(db_session, kind="profile_refreshed")
    assert entry["details"]["actor"] == f"staff:{staff.id}"


# Times on staff pages


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def table_row(html: str, heading: str) -> str:
    """The words of the table row whose row heading is `heading`."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        if re.search(rf'<th scope="row"[^>]*>\s*{re.escape(heading)}\s*</th>', row):
            return words(row)
    raise AssertionError(f"no row for {heading}")


def show_times_in(client, zone: str) -> None:
    rt = client.application.extensions["consentry"]
    rt.config = rt.config.replace(display_timezone=zone)


@pytest.mark.parametrize("zone", ["Asia/Singapore", "Europe/London"])
def test_the_operator_page_shows_each_agency_fetch_in_the_display_zone_named(
    client, db_session, citizen, runtime, zone
):
    fetched, failing, never = runtime.catalogue.source_agencies()[:3]
    db_session.add_all([
        AgencySync(citizen_id=citizen.id, agency=fetched, attempted_at=INSTANT, succeeded_at=INSTANT),
        AgencySync(citizen_id=citizen.id, agency=failing, attempted_at=INSTANT, last_error="timeout"),
    ])  # fmt: skip
    db_session.commit()
    show_times_in(client, zone)
    signed_in_staff(client, "operator")
    look_up(client, citizen)
    page = client.get(f"/operator/citizens/{citizen.id}").text
    table = page.split("Agency status", 1)[1].split("</table>", 1)[0]
    shown, name = SHOWN_IN[zone], runtime.catalogue.agencies
    assert "Status and last error Last fetched" in words(table) and "UTC" not in page
    fetched_row = f"{name[fetched].name} OK Last success: {shown} Last attempt: {shown}"
    assert table_row(table, name[fetched].name) == fetched_row
    failing_row = f"{name[failing].name} Failed timeout Last success: never Last attempt: {shown}"
    assert table_row(table, name[failing].name) == failing_row
    never_row = f"{name[never].name} Not fetched Last success: never Last attempt: never"
    assert table_row(table, name[never].name) == never_row


@pytest.mark.parametrize("zone", ["Asia/Singapore", "Europe/London"])
def test_the_staff_list_shows_the_last_sign_in_in_the_display_zone_named(client, db_session, zone):
    member, never = new_staff(client, "operator"), new_staff(client, "auditor")
    db_session.get(StaffMember, member.id).last_login_at = INSTANT
    db_session.commit()
    show_times_in(client, zone)
    signed_in_staff(client, "admin")
    page = client.get("/admin/staff/").text
    assert table_row(page, member.username).startswith(f"{member.username} Operator Active {SHOWN_IN[zone]}")
    assert table_row(page, never.username).startswith(f"{never.username} Auditor Active Never")


# Staff on the admin page


def add_form(client, **fields) -> dict:
    return {"csrf_token": csrf_token(client, "/admin/staff/-/new"), **fields}


def test_an_admin_adds_a_member_who_then_signs_in_with_the_secret_shown_once(client, db_session):
    admin = signed_in_staff(client, "admin")
    form = add_form(
        client, username="new.operator", password="a long enough password", roles=["operator", "auditor"]
    )
    response = client.post("/admin/staff/-/new", data=form)
    assert response.status_code == 201
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', response.text).group(1)
    assert "otpauth://totp/Consentry:new.operator" in response.text
    listed = client.get("/admin/staff/").text
    assert "new.operator" in listed and "Auditor, Operator" in listed and secret not in listed
    (added,) = [e for e in entries(db_session, kind="admin_action") if e["outcome"] == "staff_added"]
    member = find_staff(db_session, username="new.operator")
    assert added["details"] == {
        "actor": f"staff:{admin.id}",
        "staff": f"staff:{member.id}",
        "roles": ["auditor", "operator"],
        "via": "admin_page",
    }
    assert secret not in json.dumps(entries(db_session))
    other = client.application.test_client()
    form = {
        "csrf_token": csrf_token(other, "/staff/sign-in"),
        "username": "new.operator",
        "password": "a long enough password",
        "code": pyotp.TOTP(secret).now(),
    }
    assert other.post("/staff/sign-in", data=form).status_code == 303
    assert other.get("/operator/").status_code == 200


def test_every_problem_with_a_new_member_is_next_to_its_field(client, db_session):
    signed_in_staff(client, "admin")
    response = client.post("/admin/staff/-/new", data=add_form(client, username="X!", password="short"))
    assert response.status_code == 400
    for field in ("username", "password", "roles"):
        assert f'href="#{field}"' in response.text
    assert response.text.count("govuk-error-message") == 3
    response = client.post(
        "/admin/staff/-/new",
        data=add_form(client, username="ok.name", password="a long enough password", roles="boss"),
    )
    assert response.status_code == 400 and "Choose roles from the list" in response.text


def test_a_username_already_taken_is_a_conflict(client):
    admin = signed_in_staff(client, "admin")
    form = add_form(client, username=admin.username, password="a long enough password", roles="operator")
    response = client.post("/admin/staff/-/new", data=form)
    assert response.status_code == 409 and "already exists" in response.text


def test_an_admin_disables_a_member_who_is_signed_out_at_once(client, db_session):
    admin = signed_in_staff(client, "admin")
    operator_browser = client.application.test_client()
    operator = signed_in_staff(operator_browser, "operator")
    page = f"/admin/staff/{operator.username}/disable"
    assert "Disable " in client.get(page).text
    response = client.post(page, data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 303
    assert "disabled and signed out everywhere" in client.get("/admin/staff/").text
    assert operator_browser.get("/operator/").status_code == 302
    (disabled,) = [e for e in entries(db_session, kind="admin_action") if e["outcome"] == "staff_disabled"]
    assert disabled["details"]["actor"] == f"staff:{admin.id}"
    assert disabled["details"]["staff"] == f"staff:{operator.id}"


def test_unknown_members_are_404(client):
    signed_in_staff(client, "admin")
    assert client.get(f"/admin/staff/{fresh_uinfin().lower()}/disable").status_code == 404
