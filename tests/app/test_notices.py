"""Notices in the app: the release and the remembered consent enqueue theirs in their own
transaction; the settings page; the one-tap withdraw link (good, forged, reused, expired)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from consent.models import Consent
from core.clock import utcnow
from notifications.links import link_key, make_link_token
from notifications.models import NotificationPreference, Outbox
from tests.oauth import flow
from tests.oauth.flow import CSRF_INPUT, get_code, get_person, get_token


def outbox(db_session, citizen_id: str) -> list[Outbox]:
    query = select(Outbox).where(Outbox.citizen_id == citizen_id).order_by(Outbox.id)
    return list(db_session.scalars(query.execution_options(populate_existing=True)))


def count(db_session, kind: str) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == kind))


def test_a_release_enqueues_its_notice_with_names_and_ids_only(
    client, db_session, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier, attributes=["regadd"])
    token = get_token(client, keys, code, verifier, dpop_key)
    assert outbox(db_session, citizen.id) == []  # "this request only": no consent notice
    response = get_person(client, token["access_token"], dpop_key, scope="uinfin name regadd")
    assert response.status_code == 200
    [notice] = outbox(db_session, citizen.id)
    assert notice.template == "release" and notice.kind == "email" and notice.state == "pending"
    assert notice.params["app_name"] == "Housing grant application"
    assert notice.params["attributes"] == ["name", "regadd", "uinfin"]
    assert set(notice.params) == {"app_name", "agency", "attributes", "consent_id", "purpose_id", "at"}


def test_a_failed_release_leaves_no_notice(
    client, db_session, keys, citizen, verifier, dpop_key, monkeypatch
):
    from app.oauth import release

    code = get_code(client, citizen.id, verifier, attributes=["regadd"])
    token = get_token(client, keys, code, verifier, dpop_key)
    before = count(db_session, "disclosure")
    original = release.notify_release

    def then_fail(session, rel, *, now):
        original(session, rel, now=now)
        session.flush()  # the notice is written ...
        raise RuntimeError("the release fails after its notice")  # ... and the transaction fails

    monkeypatch.setattr(release, "notify_release", then_fail)
    response = get_person(client, token["access_token"], dpop_key, scope="uinfin name regadd")
    assert response.status_code == 500
    assert outbox(db_session, citizen.id) == []
    assert count(db_session, "disclosure") == before


def test_a_remembered_consent_enqueues_its_notice(client, db_session, citizen, verifier):
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    params = flow.redirect_params(flow.decide(client, path, attributes=["regadd"], remember="3m"))
    assert "code" in params
    [notice] = outbox(db_session, citizen.id)
    assert notice.template == "consent_remembered"
    consent = db_session.get(Consent, notice.params["consent_id"])
    assert consent.remembered and notice.params["expires_at"] == consent.expires_at.isoformat()


def test_settings_page_saves_the_choice_with_csrf(client, db_session, citizen):
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/settings/notifications")
    assert page.status_code == 200 and "Notification settings" in page.text
    assert "There is no email address on your profile" in page.text or "Emails go to" in page.text
    refused = client.post("/citizen/settings/notifications", data={"mode": "digest"})
    assert refused.status_code == 400
    assert db_session.get(NotificationPreference, citizen.id) is None
    csrf = CSRF_INPUT.search(page.text).group(1)
    bad = client.post("/citizen/settings/notifications", data={"mode": "loud", "csrf_token": csrf})
    assert bad.status_code == 400 and "Choose how you want to get notices" in bad.text
    saved = client.post(
        "/citizen/settings/notifications",
        data={"mode": "digest", "skip_own_recent": "yes", "csrf_token": csrf},
    )
    assert saved.status_code == 303
    prefs = db_session.get(NotificationPreference, citizen.id)
    db_session.refresh(prefs)
    assert (prefs.mode, prefs.skip_own_recent) == ("digest", True)
    assert "Your notification settings are saved." in client.get("/citizen/settings/notifications").text


def test_settings_need_a_signed_in_citizen(client):
    assert client.get("/citizen/settings/notifications").status_code in (302, 303)


@pytest.fixture
def remembered(client, db_session, citizen, verifier) -> Consent:
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    flow.decide(client, path, attributes=["regadd"], remember="3m")
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    with client.session_transaction() as session:
        session.clear()  # the link works without signing in
    return consent


def link(app, consent_id: str, *, now: dt.datetime | None = None) -> str:
    key = link_key(app.extensions["consentry"].config.secret_key)
    return f"/citizen/withdraw-link/{make_link_token(key, consent_id=consent_id, now=now or utcnow())}"


def confirm(client, path: str):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": CSRF_INPUT.search(page.text).group(1)})


def test_the_one_tap_link_confirms_then_withdraws_once(app, client, db_session, remembered):
    path = link(app, remembered.id)
    page = client.get(path)
    assert "Withdraw your consent for Housing grant application?" in page.text
    assert client.post(path, data={}).status_code == 400  # no CSRF token: nothing happens
    db_session.refresh(remembered)
    assert remembered.revoked_at is None
    revoked_before = count(db_session, "consent_revoked")

    done = confirm(client, path)
    assert done.status_code == 200 and "Consent withdrawn" in done.text
    db_session.refresh(remembered)
    assert remembered.revoked_at is not None
    assert count(db_session, "consent_revoked") == revoked_before + 1

    again = client.get(path)
    assert again.status_code == 410 and "This link has already been used" in again.text
    reposted = client.post(path, data={"csrf_token": CSRF_INPUT.search(page.text).group(1)})
    assert reposted.status_code == 410
    assert count(db_session, "consent_revoked") == revoked_before + 1


def test_a_forged_link_changes_nothing(app, client, db_session, remembered):
    path = link(app, remembered.id)
    body, mac = path.rsplit("/", 1)[1].split(".")
    forged_body = link(app, "another-consent").rsplit("/", 1)[1].split(".")[0]
    for token in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}AA", "nonsense", "a.b.c", body):
        page = client.get(f"/citizen/withdraw-link/{token}")
        assert page.status_code == 404 and "This link does not work" in page.text
    other_key = make_link_token(b"k" * 32, consent_id=remembered.id, now=utcnow())
    assert client.get(f"/citizen/withdraw-link/{other_key}").status_code == 404
    db_session.refresh(remembered)
    assert remembered.revoked_at is None


def test_an_expired_link_changes_nothing(app, client, db_session, remembered):
    path = link(app, remembered.id, now=utcnow() - dt.timedelta(days=7, seconds=1))
    page = client.get(path)
    assert page.status_code == 410 and "This link has expired" in page.text
    posted = client.post(path, data={"csrf_token": "x"})
    assert posted.status_code in (400, 410)
    db_session.refresh(remembered)
    assert remembered.revoked_at is None
