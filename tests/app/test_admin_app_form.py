"""Registering an agency app on the admin form, through the Flask test client with CSRF on: every
problem at once next to its field and nothing written; a good form registers, audits and lands on
the app's page; "Add another purpose"; a jwks_uri fetched live (a real loopback server);
forged posts; who may use the form; the app's page with its recent releases and refusals."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid

import pytest
from flask import Flask, jsonify
from sqlalchemy import func, select

from app.admin.app_form import live_key_problems
from audit.app_activity import app_activity
from audit.log import Event, append
from audit.models import AuditEntry
from audit.tree import tree_size
from consent.apps import get_app
from consent.models import AgencyApp
from core.clock import utcnow
from tests.consent.test_apps_and_consents import JWKS
from tests.http.staff_flow import csrf_token
from tests.http.test_operator_pages import operator_login
from tests.servers import serving

NEW = "/admin/apps/-/new"


def good_form(client_id: str, **overrides) -> dict:
    return {
        "client_id": client_id,
        "name": "Childcare subsidy",
        "agency": "Social and Family Development",
        "redirect_uris": "https://childcare.example.gov/callback\nhttp://localhost:3001/callback",
        "profiles": ["myinfo-v4"],
        "keys": "jwks",
        "jwks": json.dumps(JWKS),
        "jwks_uri": "",
        "purpose-0-id": "subsidy",
        "purpose-0-description": "To work out your childcare subsidy.",
        "purpose-0-required": ["uinfin", "name"],
        "purpose-0-optional": ["regadd"],
        "action": "register",
        **overrides,
    }


def post(client, form: dict):
    return client.post(NEW, data={"csrf_token": csrf_token(client, NEW), **form})


def errors_on(page: str) -> dict[str, str]:
    """Each field's error message as shown next to it: {input id: text}."""
    found = re.findall(r'<p id="([\w-]+)-error" class="govuk-error-message">(.*?)</p>', page, re.DOTALL)
    return {name: html.unescape(re.sub(r"<[^>]+>|\s+", " ", text)).strip() for name, text in found}


def app_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AgencyApp))


def test_every_problem_is_shown_at_once_next_to_its_field_and_nothing_is_written(as_admin, db_session):
    before, log_size = app_count(db_session), tree_size(db_session)
    form = good_form(
        "x",  # too short
        name="",
        agency="A",
        redirect_uris="http://childcare.example.gov/callback",  # http off loopback
        profiles=[],
        jwks='{"keys": [',  # not JSON
        **{
            "purpose-0-id": "sub sidy",
            "purpose-0-description": "short",
            "purpose-0-required": ["uinfin", "name"],
            "purpose-0-optional": ["name"],  # both required and optional
        },
    )
    response = post(as_admin, form)
    assert response.status_code == 400
    shown = errors_on(response.text)
    assert set(shown) >= {
        "client_id", "name", "agency", "redirect_uris", "profiles", "jwks",
        "purpose-0-id", "purpose-0-description", "purpose-0-optional",
    }  # fmt: skip
    assert "loopback" in shown["redirect_uris"] and "not JSON" in shown["jwks"]
    assert "Principal name" in shown["purpose-0-optional"]  # by its label, not its code
    summary = re.search(r'govuk-error-summary__list">(.*?)</ul>', response.text, re.DOTALL).group(1)
    for field in ("client_id", "name", "redirect_uris", "profiles", "jwks", "purpose-0-id"):
        assert f'href="#{field}"' in summary
    assert 'value="sub sidy"' in response.text and "short</textarea>" in response.text  # kept as typed
    assert (app_count(db_session), tree_size(db_session)) == (before, log_size)


def test_a_good_form_registers_the_app_audits_it_and_shows_its_page(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    response = post(as_admin, good_form(client_id))
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/apps/{client_id}"
    app = get_app(db_session, client_id)
    assert (app.name, app.profiles, app.jwks_uri) == ("Childcare subsidy", ["myinfo-v4"], None)
    assert app.redirect_uris == ["https://childcare.example.gov/callback", "http://localhost:3001/callback"]
    assert app.allowed_attributes == ["name", "regadd", "uinfin"]
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.app_id == client_id, AuditEntry.kind == "admin_action")
    ).one()
    assert (entry.outcome, json.loads(entry.body)["details"]["via"]) == ("registered", "admin_page")
    page = as_admin.get(response.headers["Location"])
    assert "Childcare subsidy is registered" in page.text and "Recent activity" in page.text


def test_a_client_id_taken_is_a_409_next_to_the_field(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    assert post(as_admin, good_form(client_id)).status_code == 303
    again = post(as_admin, good_form(client_id, name="Another name"))
    assert again.status_code == 409 and "registered already" in errors_on(again.text)["client_id"]
    assert get_app(db_session, client_id).name == "Childcare subsidy"


def test_add_another_purpose_keeps_what_was_typed_and_saves_nothing(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    response = post(as_admin, good_form(client_id, action="add-purpose"))
    assert response.status_code == 200
    assert 'name="purpose-1-id"' in response.text and f'value="{client_id}"' in response.text
    assert db_session.get(AgencyApp, client_id) is None
    two = good_form(
        client_id,
        **{
            "purpose-1-id": "review",
            "purpose-1-description": "To review your subsidy each year.",
            "purpose-1-required": ["sex"],
        },
    )
    assert post(as_admin, two).status_code == 303
    assert get_app(db_session, client_id).allowed_attributes == ["name", "regadd", "sex", "uinfin"]


def test_a_v5_app_with_two_purposes_is_told_so_on_the_purpose(as_admin):
    form = good_form(
        f"form-{uuid.uuid4().hex[:8]}",
        profiles=["myinfo-v5"],
        **{
            "purpose-1-id": "other",
            "purpose-1-description": "Another reason, too.",
            "purpose-1-required": ["sex"],
        },
    )
    response = post(as_admin, form)
    assert response.status_code == 400
    assert "exactly one purpose" in errors_on(response.text)["purpose-0"]


@pytest.fixture(scope="module")
def key_server():
    """A real HTTP server on loopback publishing key sets: a good one, one lacking the
    encryption key, and a 404."""

    def build(_url: str) -> Flask:
        keys = Flask("keys")
        signing = {"keys": [k for k in JWKS["keys"] if k.get("use") != "enc"]}
        keys.add_url_rule("/good.json", "good", lambda: jsonify(JWKS))
        keys.add_url_rule("/sig-only.json", "sig_only", lambda: jsonify(signing))
        return keys

    with serving(build) as (url, _):
        yield url


def test_a_jwks_uri_is_fetched_live_and_must_hold_both_keys(key_server):
    assert live_key_problems(f"{key_server}/good.json", ["myinfo-v4"]) == []
    (missing,) = live_key_problems(f"{key_server}/sig-only.json", ["myinfo-v4"])
    assert "needs an encryption key" in missing and "fetched just now" in missing
    (absent,) = live_key_problems(f"{key_server}/nothing.json", ["myinfo-v4"])
    assert "HTTP 404" in absent


def test_an_unreachable_jwks_uri_is_refused_on_the_form(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    form = good_form(client_id, keys="jwks_uri", jwks="", jwks_uri="https://127.0.0.1:9/jwks.json")
    response = post(as_admin, form)
    assert response.status_code == 400
    assert "could not be fetched" in errors_on(response.text)["jwks_uri"]
    assert db_session.get(AgencyApp, client_id) is None


@pytest.mark.parametrize(
    "forged",
    [
        {"keys": "both"},
        {"surprise": "field"},
        {"action": "delete-everything"},
        {"purpose-0-id": "x" * 101},
    ],
)
def test_a_forged_post_is_a_400_form_page_that_writes_nothing(as_admin, db_session, forged):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    response = post(as_admin, good_form(client_id, **forged))
    assert response.status_code == 400 and "govuk-error-summary" in response.text
    assert "<h1" in response.text and db_session.get(AgencyApp, client_id) is None
    links = re.findall(r"govuk-error-summary__list.*?</ul>", response.text, re.DOTALL)[0]
    assert all(f'id="{target}"' in response.text for target in re.findall(r'href="#([\w-]+)"', links))


def test_a_post_without_the_csrf_token_is_refused(as_admin, db_session):
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    assert as_admin.post(NEW, data=good_form(client_id)).status_code == 400
    assert db_session.get(AgencyApp, client_id) is None


@pytest.mark.parametrize("role", ["operator", "auditor"])
def test_other_roles_get_a_403_page_and_the_attempt_is_audited(client, db_session, role):
    assert operator_login(client, role).status_code == 303
    since, client_id = tree_size(db_session), f"form-{uuid.uuid4().hex[:8]}"
    page = client.get(NEW)
    assert page.status_code == 403 and "does not have the admin role" in page.text
    for path in ("/admin/apps/", "/admin/apps/-/import", "/admin/staff/"):
        assert client.get(path).status_code == 403, path
    token = (
        csrf_token(client, "/staff/sign-in")
        if role == "x"
        else re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    )
    assert client.post(NEW, data={"csrf_token": token, **good_form(client_id)}).status_code == 403
    assert db_session.get(AgencyApp, client_id) is None
    denied = db_session.scalars(
        select(AuditEntry).where(AuditEntry.seq >= since, AuditEntry.outcome == "access_denied")
    ).all()
    assert any(json.loads(e.body)["details"]["endpoint"] == "admin.register" for e in denied)


def test_signed_out_the_form_sends_you_to_sign_in(client):
    response = client.get(NEW)
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/sign-in")


# The app's page: recent releases and refusals


def test_activity_counts_releases_and_refusals_by_error_over_24_hours_and_7_days(db_session, now):
    app_id = f"act-{uuid.uuid4().hex[:8]}"
    at = now - dt.timedelta(hours=1)
    for _ in range(3):
        append(db_session, Event(kind="disclosure", app_id=app_id, outcome="released"), now=at)
    append(
        db_session,
        Event(kind="disclosure", app_id=app_id, outcome="released"),
        now=now - dt.timedelta(days=3),
    )
    append(db_session, Event(kind="consent_declined", app_id=app_id, outcome="declined"), now=at)
    refused = Event(kind="admin_action", app_id=app_id, outcome="refused", details={"error": "bad_client"})
    append(db_session, refused, now=now - dt.timedelta(days=2))
    append(
        db_session,
        Event(kind="disclosure", app_id=app_id, outcome="released"),
        now=now - dt.timedelta(days=8),
    )
    append(db_session, Event(kind="disclosure", app_id="someone-else", outcome="released"), now=at)
    day, week = app_activity(db_session, app_id=app_id, now=now)
    assert (day.released, day.refused, day.errors) == (3, 1, [("access_denied", 1)])
    assert (week.released, week.refused) == (4, 2)
    assert sorted(week.errors) == [("access_denied", 1), ("bad_client", 1)]
    assert week.error_rate == pytest.approx(2 / 6) and day.error_rate == pytest.approx(1 / 4)
    assert app_activity(db_session, app_id="no-such-app", now=now)[0].error_rate is None


def test_the_app_page_shows_its_activity_and_links_to_the_audit_log(as_admin, db_session):
    now = utcnow()  # the page counts back from the real time
    client_id = f"form-{uuid.uuid4().hex[:8]}"
    assert post(as_admin, good_form(client_id)).status_code == 303
    append(db_session, Event(kind="disclosure", app_id=client_id, outcome="released"), now=now)
    append(db_session, Event(kind="consent_declined", app_id=client_id, outcome="declined"), now=now)
    db_session.commit()
    page = as_admin.get(f"/admin/apps/{client_id}").text
    table = re.search(r'<table[^>]*id="activity".*?</table>', page, re.DOTALL).group(0)
    cells = [
        re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", table, re.DOTALL)
    ]
    assert cells[4:8] == ["24 hours", "1", "1", "50%"]
    assert '<code class="app-wrap">access_denied</code>: 1' in page
    assert f'href="/auditor/?app_id={client_id}"' in page


def test_an_unknown_app_page_is_a_404(as_admin):
    assert as_admin.get("/admin/apps/no-such-app-here").status_code == 404
