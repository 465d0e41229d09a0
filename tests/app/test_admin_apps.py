"""The agency-app admin pages through the Flask test client, CSRF on: operator sign-in required,
register and update from a pasted document, disable and enable after a confirmation, every write
audited, every refusal a 4xx that writes nothing."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from audit.tree import tree_size
from consent.apps import find_purpose, get_app, register_app, registration_document
from consent.consents import grant_consent
from consent.models import AgencyApp
from tests.consent.test_apps_and_consents import document
from tests.factories import make_citizen
from tests.http.test_operator_pages import csrf_token, operator_login

LIST = "/admin/apps/"
NEW = "/admin/apps/-/import"  # the JSON import; the form is tests/app/test_admin_app_form.py
TEXTAREA = re.compile(r'<textarea[^>]*id="document"[^>]*>(.*?)</textarea>', re.DOTALL)


def post_document(client, path: str, doc, *, token: bool = True):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    data = {"document": text, **({"csrf_token": csrf_token(client, path)} if token else {})}
    return client.post(path, data=data)


@pytest.fixture
def audit_since(db_session) -> int:
    """The log's size as the test starts: live-server tests on the same worker commit entries for
    the demo app's client id too, and those are not this test's."""
    return tree_size(db_session)


def audit_outcomes(db_session, client_id: str, since: int) -> list[str]:
    query = (
        select(AuditEntry.outcome)
        .where(AuditEntry.app_id == client_id, AuditEntry.seq >= since)
        .order_by(AuditEntry.seq)
    )
    return list(db_session.scalars(query))


def audit_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEntry))


def app_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AgencyApp))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LIST),
        ("get", NEW),
        ("get", "/admin/apps/housing-grant-app"),
        ("get", "/admin/apps/housing-grant-app/edit"),
        ("get", "/admin/apps/housing-grant-app/disable"),
    ],
)
def test_every_page_needs_an_admin_sign_in(client, registered, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in")


def test_a_post_without_sign_in_writes_nothing(client, db_session, registered):
    token = csrf_token(client, "/staff/sign-in")
    response = client.post(
        NEW, data={"csrf_token": token, "document": json.dumps(document(client_id="x-y-z"))}
    )
    assert response.status_code == 302
    response = client.post("/admin/apps/housing-grant-app/disable", data={"csrf_token": token})
    assert response.status_code == 302
    db_session.expire_all()
    assert app_count(db_session) == 1 and not get_app(db_session, "housing-grant-app").disabled


def test_register_from_a_pasted_document_is_listed_and_audited(as_admin, db_session, audit_since):
    response = post_document(as_admin, NEW, document(client_id="pasted-app"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/apps/pasted-app")

    page = as_admin.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Housing grant application is registered" in page.text
    assert "Principal name" in page.text  # the catalogue's description of `name`
    assert "https://grants.example.gov/callback" in page.text
    assert "s1</code>: use sig" in page.text  # JWKS summary: kid, use, alg only
    assert '"x"' not in page.text and "&#34;x&#34;" not in page.text

    listing = as_admin.get(LIST)
    assert "pasted-app" in listing.text and "Enabled" in listing.text
    assert get_app(db_session, "pasted-app").name == "Housing grant application"
    assert audit_outcomes(db_session, "pasted-app", audit_since) == ["registered"]
    body = db_session.scalar(select(AuditEntry.body).where(AuditEntry.app_id == "pasted-app"))
    details = json.loads(body)["details"]
    assert details.pop("actor").startswith("staff:")
    assert details == {"action": "app_registered", "via": "admin_page"}


def test_the_documented_example_registers_from_the_page(as_admin, db_session):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
    response = post_document(as_admin, NEW, example.read_text(encoding="utf-8"))
    assert response.status_code == 303
    assert find_purpose(db_session, "housing-grant-demo", "grant-assessment") is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(document(redirect_uris=["http://grants.example.gov/cb"])), "http is allowed only on a"),
        (
            json.dumps(
                document(allowed_attributes=["uinfin", "name", "noa-basic", "cpfbalances", "shoesize"])
            ),
            "allowed_attributes: unknown",
        ),
        (
            json.dumps(document(purposes=[{"id": "p-one", "description": "short", "required": ["name"]}])),
            "purposes[0].description: Length must be between 10 and 500.",
        ),
        (json.dumps(document(surprise=1)), "surprise: Unknown field."),
        ('{"client_id": "a", ', "The document is not valid JSON"),
        ("[1, 2]", "must be one JSON object"),
        ("   ", "Paste the app"),
        ('{"client_id": NaN}', "NaN is not allowed"),
        ("[" * 60_000 + "]" * 60_000, "at most 100,000 characters"),
        ("[" * 40_000 + "]" * 40_000, "nested too deeply"),
        (json.dumps(document(name="nul\u0000name")), "must not contain NUL"),
        (json.dumps(document(jwks=None, jwks_uri="https://keys.example.gov/" + "k" * 600)), "jwks_uri"),
    ],
)
def test_an_invalid_document_is_a_400_naming_the_problem_and_writes_nothing(
    as_admin, db_session, text, message
):
    before = audit_count(db_session), app_count(db_session)
    response = post_document(as_admin, NEW, text)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert 'class="govuk-error-summary"' in response.text
    assert 'href="#document"' in response.text
    assert "govuk-textarea--error" in response.text
    assert html.unescape(TEXTAREA.search(response.text).group(1)) == text  # kept, to be fixed
    db_session.expire_all()
    assert (audit_count(db_session), app_count(db_session)) == before


def test_an_app_that_cannot_work_is_refused_with_every_problem_on_its_own_line(as_admin, db_session):
    """Issue 12, item 11: the page accepted an empty `jwks` and no profiles. Now every problem is
    listed in the error summary and next to the document, each naming its field."""
    before = audit_count(db_session), app_count(db_session)
    unusable = document(client_id="unusable-app", jwks={"keys": []}, purposes=[], redirect_uris=[])
    response = post_document(as_admin, NEW, unusable)
    assert response.status_code == 400
    expected = [
        "redirect_uris: give 1 to 10 redirect URIs",
        "purposes: give at least one purpose",
        "jwks: myinfo-v4 needs a signing key for client assertions: EC, use &#34;sig&#34;, alg ES256 (P-256)",
        "jwks: myinfo-v4 needs an encryption key: EC P-256, use &#34;enc&#34;, alg ECDH-ES+A256KW",
    ]
    summary = response.text[response.text.index("govuk-error-summary") : response.text.index("<h1")]
    assert re.findall(r'<a href="#document">(.*?)</a>', summary) == expected
    message = re.search(r'<p id="document-error" class="govuk-error-message">(.*?)</p>', response.text, re.S)
    assert message.group(1).split("</span>", 1)[1].strip().split("<br>") == expected
    response = post_document(as_admin, NEW, document(client_id="unusable-app", profiles=[]))
    assert (
        response.status_code == 400 and "profiles: give at least one of myinfo-v4, myinfo-v5" in response.text
    )
    db_session.expire_all()
    assert (audit_count(db_session), app_count(db_session)) == before


def test_an_edit_cannot_make_an_app_unusable(as_admin, db_session, registered):
    response = post_document(as_admin, "/admin/apps/housing-grant-app/edit", document(jwks={"keys": []}))
    assert response.status_code == 400
    assert "jwks: myinfo-v4 needs an encryption key" in html.unescape(response.text)
    db_session.expire_all()
    assert len(get_app(db_session, "housing-grant-app").jwks["keys"]) == 2


def test_a_missing_document_field_or_an_extra_one_is_a_400(as_admin, db_session):
    response = as_admin.post(NEW, data={"csrf_token": csrf_token(as_admin, NEW)})
    assert response.status_code == 400 and "Paste the app" in response.text
    extra = {"csrf_token": csrf_token(as_admin, NEW), "document": json.dumps(document()), "x": "1"}
    response = as_admin.post(NEW, data=extra)
    assert response.status_code == 400 and "The form could not be used (x)" in response.text
    assert app_count(db_session) == 0


def test_registering_an_existing_client_id_is_a_409(as_admin, db_session, registered):
    response = post_document(as_admin, NEW, document(name="Another name"))
    assert response.status_code == 409
    assert "an app with this client_id exists" in response.text
    db_session.expire_all()
    assert get_app(db_session, "housing-grant-app").name == "Housing grant application"


def test_edit_page_holds_the_current_document_and_saving_it_updates(
    as_admin, db_session, registered, audit_since
):
    path = "/admin/apps/housing-grant-app/edit"
    page = as_admin.get(path)
    assert page.status_code == 200
    shown = json.loads(html.unescape(TEXTAREA.search(page.text).group(1)))
    assert shown == registration_document(db_session, "housing-grant-app")

    shown["name"] = "Renamed grant application"
    shown["purposes"][0]["optional"] = ["noa-basic"]
    response = post_document(as_admin, path, shown)
    assert response.status_code == 303
    db_session.expire_all()
    assert get_app(db_session, "housing-grant-app").name == "Renamed grant application"
    assert find_purpose(db_session, "housing-grant-app", "grant").optional_attributes == ["noa-basic"]
    assert audit_outcomes(db_session, "housing-grant-app", audit_since) == ["updated"]


def test_the_registration_document_round_trips(db_session, runtime, registered, now):
    from consent.apps import update_app

    before = registration_document(db_session, "housing-grant-app")
    update_app(db_session, document=before, catalogue=runtime.catalogue, now=now)
    assert registration_document(db_session, "housing-grant-app") == before
    assert "jwks_uri" not in before and before["jwks"]["keys"][0]["kid"] == "s1"


def test_an_edit_cannot_move_to_another_client_id(as_admin, db_session, registered):
    response = post_document(as_admin, "/admin/apps/housing-grant-app/edit", document(client_id="other-app"))
    assert response.status_code == 400
    assert "client_id: must stay" in html.unescape(response.text)
    assert app_count(db_session) == 1


def test_a_refused_update_rolls_back_everything_it_changed(
    as_admin, db_session, runtime, registered, now, audit_since
):
    citizen = make_citizen(db_session, runtime.vault)
    purpose = find_purpose(db_session, "housing-grant-app", "grant")
    grant_consent(
        db_session,
        citizen_id=citizen.id,
        app=registered,
        purpose=purpose,
        requested=["uinfin", "name"],
        approved=["uinfin", "name"],
        remember_for=None,
        now=now,
    )
    db_session.commit()
    dropped = document(
        name="Should not stick",
        purposes=[{"id": "other", "description": "Another purpose entirely.", "required": ["name"]}],
    )
    response = post_document(as_admin, "/admin/apps/housing-grant-app/edit", dropped)
    assert response.status_code == 400
    assert "purpose grant has consents" in response.text
    db_session.expire_all()
    assert get_app(db_session, "housing-grant-app").name == "Housing grant application"
    assert find_purpose(db_session, "housing-grant-app", "other") is None
    assert audit_outcomes(db_session, "housing-grant-app", audit_since) == []


def test_disable_and_enable_after_confirmation_each_audited(as_admin, db_session, registered, audit_since):
    confirm = as_admin.get("/admin/apps/housing-grant-app/disable")
    assert confirm.status_code == 200 and "Yes, disable this app" in confirm.text
    response = as_admin.post(
        "/admin/apps/housing-grant-app/disable",
        data={"csrf_token": csrf_token(as_admin, "/admin/apps/housing-grant-app/disable")},
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert get_app(db_session, "housing-grant-app").disabled
    assert "Disabled" in as_admin.get(LIST).text

    response = as_admin.post(
        "/admin/apps/housing-grant-app/enable",
        data={"csrf_token": csrf_token(as_admin, "/admin/apps/housing-grant-app/enable")},
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert not get_app(db_session, "housing-grant-app").disabled
    assert audit_outcomes(db_session, "housing-grant-app", audit_since) == ["disabled", "enabled"]


def test_posts_without_a_csrf_token_are_400_and_write_nothing(as_admin, db_session, registered):
    before = audit_count(db_session)
    assert post_document(as_admin, NEW, document(client_id="no-csrf"), token=False).status_code == 400
    edit = "/admin/apps/housing-grant-app/edit"
    assert post_document(as_admin, edit, document(name="No CSRF"), token=False).status_code == 400
    assert as_admin.post("/admin/apps/housing-grant-app/disable").status_code == 400
    bad_token = {"csrf_token": "forged"}
    assert as_admin.post("/admin/apps/housing-grant-app/disable", data=bad_token).status_code == 400
    db_session.expire_all()
    app = get_app(db_session, "housing-grant-app")
    assert (app.name, app.disabled, app_count(db_session)) == ("Housing grant application", False, 1)
    assert audit_count(db_session) == before


def test_a_confirmation_with_extra_fields_is_a_400(as_admin, registered):
    path = "/admin/apps/housing-grant-app/disable"
    response = as_admin.post(path, data={"csrf_token": csrf_token(as_admin, path), "disabled": "0"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/apps/no-such-app"),
        ("get", "/admin/apps/no-such-app/edit"),
        ("get", "/admin/apps/no-such-app/disable"),
        ("get", "/admin/apps/no-such-app/enable"),
        ("get", "/admin/apps/no-such-app/remove"),
    ],
)
def test_an_unknown_app_is_a_404_page(as_admin, method, path):
    response = getattr(as_admin, method)(path)
    assert response.status_code == 404
    assert "govuk-heading-l" in response.text


def test_posting_to_an_unknown_app_is_a_404(as_admin, db_session):
    token = csrf_token(as_admin, NEW)
    edit = as_admin.post("/admin/apps/no-such-app/edit", data={"csrf_token": token, "document": "{}"})
    disable = as_admin.post("/admin/apps/no-such-app/disable", data={"csrf_token": token})
    assert (edit.status_code, disable.status_code) == (404, 404)
    assert app_count(db_session) == 0


def test_listing_shows_each_app_with_its_purpose_count(as_admin, db_session, runtime, now):
    two = document(
        client_id="two-purposes",
        name="A second app",
        purposes=[
            {"id": "a-one", "description": "The first purpose here.", "required": ["name"]},
            {"id": "b-two", "description": "The second purpose here.", "optional": ["regadd"]},
        ],
    )
    register_app(db_session, document=two, catalogue=runtime.catalogue, now=now)
    both = document(client_id="both-profiles", name="A third app", profiles=["myinfo-v4", "myinfo-v5"])
    register_app(db_session, document=both, catalogue=runtime.catalogue, now=now)
    db_session.commit()
    page = as_admin.get(LIST).text
    row = page[page.index("two-purposes") :].split("</tr>")[0]
    assert "A second app" in row and "Housing Board" in row and "Profiles: myinfo-v4<" in row
    assert "myinfo-v4, myinfo-v5" in page[page.index("both-profiles") :].split("</tr>")[0]
    assert re.search(r"numeric\">2</td>", row)


def test_the_navigation_links_the_admin_pages_only_once_signed_in(client):
    assert 'href="/admin/apps/"' not in client.get("/").text
    assert operator_login(client, "admin").status_code == 303
    assert 'href="/admin/apps/"' in client.get("/").text
