"""An app's webhook set on the staff admin pages, through the Flask test client with CSRF on: the
same rule as `consentry apps webhook` (https; plain http only to loopback, and not in production),
a refused address next to its field with nothing written, every change an `admin_action` entry,
and the registration form's optional webhook address."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from audit.tree import tree_size
from consent.apps import get_app
from consent.models import AgencyApp
from tests.app.test_admin_app_form import NEW, errors_on, good_form, post
from tests.app.test_admin_apps import audit_outcomes
from tests.http.staff_flow import csrf_token
from tests.http.test_operator_pages import operator_login

CLIENT_ID = "housing-grant-app"
PAGE = f"/admin/apps/{CLIENT_ID}/webhook"


def save(client, url: str, action: str = "save", **extra):
    data = {"csrf_token": csrf_token(client, PAGE), "webhook_url": url, "action": action, **extra}
    return client.post(PAGE, data=data)


def webhook_of(db_session, client_id: str = CLIENT_ID) -> str | None:
    db_session.expire_all()
    return get_app(db_session, client_id).webhook_url


def summary_links(page: str) -> list[str]:
    summary = re.findall(r"govuk-error-summary__list.*?</ul>", page, re.DOTALL)[0]
    return re.findall(r'href="#([\w-]+)"', summary)


def test_set_then_remove_a_webhook_from_the_apps_page_each_audited(as_admin, db_session, registered):
    since = tree_size(db_session)
    page = as_admin.get(f"/admin/apps/{CLIENT_ID}")
    assert "the app is not told when its consents change" in page.text and f'href="{PAGE}"' in page.text

    response = save(as_admin, "  https://housing.example.gov/consent-events  ")
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/apps/{CLIENT_ID}"
    assert webhook_of(db_session) == "https://housing.example.gov/consent-events"
    page = as_admin.get(response.headers["Location"])
    assert (
        "webhook is saved" in page.text and "https://housing.example.gov/consent-events</code>" in page.text
    )
    assert 'value="https://housing.example.gov/consent-events"' in as_admin.get(PAGE).text

    assert save(as_admin, "", action="remove").status_code == 303
    assert webhook_of(db_session) is None
    assert audit_outcomes(db_session, CLIENT_ID, since) == ["webhook_set", "webhook_removed"]
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.seq >= since)).all()
    details = [json.loads(e.body)["details"] for e in entries if e.kind == "admin_action"]
    assert [(d["action"], d["via"], d["actor"][:6]) for d in details] == [
        ("app_webhook_set", "admin_page", "staff:"),
        ("app_webhook_removed", "admin_page", "staff:"),
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://housing.example.gov/events", "must use https"),
        ("https://user:secret@housing.example.gov/events", "no user, password"),
        ("https://housing.example.gov/events#part", "#fragment"),
        ("ftp://housing.example.gov/events", "must use https"),
        ("", "Enter the https address"),
        ("https://housing.example.gov/" + "e" * 500, "Longer than maximum length 500"),
    ],
)
def test_a_refused_address_is_shown_next_to_the_field_and_writes_nothing(
    as_admin, db_session, registered, url, message
):
    size = tree_size(db_session)
    response = save(as_admin, url)
    assert response.status_code == 400
    assert message in errors_on(response.text)["webhook_url"]
    assert summary_links(response.text) == ["webhook_url"] and 'id="webhook_url"' in response.text
    assert (webhook_of(db_session), tree_size(db_session)) == (None, size)


def test_plain_http_to_loopback_is_for_development_only(as_admin, db_session, registered, monkeypatch, app):
    assert save(as_admin, "http://127.0.0.1:8001/events").status_code == 303
    assert webhook_of(db_session) == "http://127.0.0.1:8001/events"
    rt = app.extensions["consentry"]
    monkeypatch.setattr(rt, "config", rt.config.replace(env="production"))
    assert "http://localhost" not in as_admin.get(PAGE).text  # the hint no longer offers it
    response = save(as_admin, "http://localhost:8001/events")
    assert response.status_code == 400 and "must use https" in errors_on(response.text)["webhook_url"]
    assert webhook_of(db_session) == "http://127.0.0.1:8001/events"


def test_a_forged_or_tokenless_post_writes_nothing(as_admin, db_session, registered):
    size = tree_size(db_session)
    assert as_admin.post(PAGE, data={"webhook_url": "https://a.example.gov/e"}).status_code == 400
    forged = save(as_admin, "https://a.example.gov/e", surprise="field")
    assert forged.status_code == 400 and "could not be used (surprise)" in forged.text
    assert save(as_admin, "https://a.example.gov/e", action="delete-app").status_code == 400
    assert (webhook_of(db_session), tree_size(db_session)) == (None, size)


def test_only_admins_may_change_a_webhook(client, db_session, registered):
    assert client.get(PAGE).status_code == 302  # to the staff sign-in
    assert operator_login(client, "operator").status_code == 303
    assert client.get(PAGE).status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    data = {"csrf_token": token, "webhook_url": "https://a.example.gov/e"}
    assert client.post(PAGE, data=data).status_code == 403
    assert webhook_of(db_session) is None


def test_an_unknown_apps_webhook_page_is_a_404(as_admin):
    assert as_admin.get("/admin/apps/no-such-app/webhook").status_code == 404


# The registration form's optional webhook address


def test_the_registration_form_saves_a_webhook_and_audits_it(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    since = tree_size(db_session)
    response = post(as_admin, good_form(client_id, webhook_url="https://childcare.example.gov/events"))
    assert response.status_code == 303
    assert webhook_of(db_session, client_id) == "https://childcare.example.gov/events"
    assert audit_outcomes(db_session, client_id, since) == ["registered", "webhook_set"]


def test_the_registration_form_without_a_webhook_sets_none(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    assert post(as_admin, good_form(client_id, webhook_url="")).status_code == 303
    assert webhook_of(db_session, client_id) is None


def test_a_refused_webhook_on_the_registration_form_registers_nothing(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    size = tree_size(db_session)
    response = post(as_admin, good_form(client_id, webhook_url="http://childcare.example.gov/events"))
    assert response.status_code == 400
    assert "must use https" in errors_on(response.text)["webhook_url"]
    assert "webhook_url" in summary_links(response.text)
    assert 'value="http://childcare.example.gov/events"' in response.text  # kept as typed
    assert db_session.get(AgencyApp, client_id) is None and tree_size(db_session) == size
    assert NEW in response.text
