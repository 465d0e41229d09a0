"""An agency app hears of its consents' changes: a withdrawal (and a pause, a narrowing, an expiry)
puts a Security Event Token in the outbox in the change's transaction; the worker signs it with the
platform key and POSTs it to the app's webhook, a real HTTP server on loopback here, retrying a
refusal with the same `jti`. And the expiry sweep: the citizen's reminder 14 days ahead, then the
expiry on the record (entry, receipt, the app's event), each once."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select

from app.notices.sweep import sweep
from app.notices.wiring import build_mailer, build_webhooks
from audit.models import AuditEntry
from consent.models import Consent
from core.clock import utcnow
from notifications.models import Outbox
from notifications.webhooks import CONTENT_TYPE, EVENT_TYPE
from notifications.worker import Policy, deliver_due
from tests.app.test_consent_lifecycle_http import only_consent, post_form, standing
from tests.oauth.flow import CLIENT_ID


class Receiver:
    """The app's webhook: records each POST and answers with the next status in `answers`."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.posts.append((dict(self.headers), body))
                self.send_response(received.answers.pop(0) if received.answers else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/consentry-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def set_webhook(app, *args: str):
    return app.test_cli_runner().invoke(args=["apps", "webhook", CLIENT_ID, *args])


def events(db_session, consent_id: str) -> list[Outbox]:
    query = select(Outbox).where(Outbox.kind == "webhook").order_by(Outbox.id)
    rows = db_session.scalars(query.execution_options(populate_existing=True))
    return [row for row in rows if row.params["consent_id"] == consent_id]


def deliver(app, now: dt.datetime):
    rt = app.extensions["consentry"]
    with app.app_context():
        return deliver_due(
            rt.writer_sessions,
            build_mailer(rt),
            webhooks=build_webhooks(rt),
            now=now,
            worker="webhook-test",
            batch=1000,
            policy=Policy(jitter=lambda: 1.0),
        )


def opened(client, token: bytes) -> tuple[dict, dict]:
    keys = KeySet.import_key_set(client.get("/.well-known/keys.json").get_json())
    found = jws.deserialize_compact(token.decode(), keys, algorithms=["ES256"])
    return found.headers(), json.loads(found.payload)


def test_a_withdrawal_reaches_the_apps_webhook_as_a_signed_event(
    app, client, db_session, keys, citizen, verifier, dpop_key, receiver
):
    assert set_webhook(app, receiver.url).exit_code == 0
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)

    assert post_form(client, f"/citizen/consents/{consent.id}/withdraw").status_code == 303
    [event] = events(db_session, consent.id)
    assert event.state == "pending" and event.template == "consent_changed"
    assert event.params["state"] == "withdrawn" and event.params["client_id"] == CLIENT_ID

    deliver(app, utcnow())
    [(headers, token)] = receiver.posts
    assert headers["Content-Type"] == CONTENT_TYPE
    header, claims = opened(client, token)
    assert header["typ"] == "secevent+jwt" and header["alg"] == "ES256"
    assert claims["aud"] == CLIENT_ID and claims["iss"] == app.extensions["consentry"].config.public_base_url
    assert claims["events"][EVENT_TYPE] | {"changed_at": None} == {
        "consent_id": consent.id,
        "purpose_id": consent.purpose_id,
        "state": "withdrawn",
        "changed_at": None,
    }
    assert "sub" not in claims  # names the consent, never the citizen
    assert events(db_session, consent.id)[0].state == "sent"


def test_a_refused_event_is_retried_with_the_same_id(
    app, client, db_session, keys, citizen, verifier, dpop_key, receiver
):
    set_webhook(app, receiver.url)
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)
    post_form(client, f"/citizen/consents/{consent.id}/pause")
    receiver.answers = [503]

    now = utcnow()
    deliver(app, now)
    [event] = events(db_session, consent.id)
    assert event.state == "pending" and event.last_error == "http_503" and event.due_at > now
    deliver(app, event.due_at)

    assert [e.state for e in events(db_session, consent.id)] == ["sent"]
    first, second = (opened(client, token)[1] for _, token in receiver.posts)
    assert first["jti"] == second["jti"] and first["events"][EVENT_TYPE]["state"] == "paused"


def test_nothing_is_queued_for_an_app_without_a_webhook_and_one_removed_is_skipped(
    app, client, db_session, keys, citizen, verifier, dpop_key, receiver
):
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)
    post_form(client, f"/citizen/consents/{consent.id}/pause")
    assert events(db_session, consent.id) == []

    set_webhook(app, receiver.url)
    post_form(client, f"/citizen/consents/{consent.id}/resume")
    assert set_webhook(app, "--remove").exit_code == 0
    deliver(app, utcnow())
    assert receiver.posts == []
    [event] = events(db_session, consent.id)
    assert event.state == "skipped" and event.last_error == "no_webhook"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://apps.example/hook", "must use https"),
        ("http://apps.example/hook", "must use https"),  # plain http only to loopback, in development
        ("https://user:pw@apps.example/hook", "no user, password"),
        ("https:///hook", "needs a host"),
    ],
)
def test_the_cli_refuses_a_webhook_url_it_will_not_post_to(app, agency_app, url, reason):
    result = set_webhook(app, url)
    assert result.exit_code == 1 and reason in result.output


def test_the_cli_takes_plain_http_to_loopback_only_outside_production(app, agency_app, monkeypatch):
    # The same rule as the admin page's (Config.loopback_webhooks).
    assert set_webhook(app, "http://127.0.0.1:8001/events").exit_code == 0
    rt = app.extensions["consentry"]
    monkeypatch.setattr(rt, "config", rt.config.replace(env="production"))
    result = set_webhook(app, "http://localhost:8001/events")
    assert result.exit_code == 1 and "must use https" in result.output


def test_the_sweep_reminds_then_records_the_expiry_once(
    app, client, db_session, keys, citizen, verifier, dpop_key, receiver
):
    set_webhook(app, receiver.url)
    standing(client, citizen, keys, verifier, dpop_key)  # remembered for a month
    consent = only_consent(db_session, citizen)
    rt = app.extensions["consentry"]
    ends = consent.expires_at

    with app.app_context():
        sweep(rt, now=ends - dt.timedelta(days=15))
        assert [r.template for r in _mine(db_session, citizen.id, "email")] == ["consent_remembered"]
        sweep(rt, now=ends - dt.timedelta(days=13))
        sweep(rt, now=ends - dt.timedelta(days=12))
    notices = [r.template for r in _mine(db_session, citizen.id, "email")]
    assert notices == ["consent_remembered", "consent_expiring"]

    with app.app_context():
        sweep(rt, now=ends + dt.timedelta(minutes=1))
        sweep(rt, now=ends + dt.timedelta(minutes=2))
    db_session.expire_all()
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.kind == "consent_expired")).all()
    [entry] = [e for e in entries if json.loads(e.body)["details"]["consent_id"] == consent.id]
    assert entry.app_id == CLIENT_ID and entry.outcome == "expired"
    assert db_session.get(Consent, consent.id).expiry_recorded_at is not None
    [event] = events(db_session, consent.id)
    assert event.params["state"] == "expired"

    flow_page = client.get("/citizen/history").text  # the citizen's history shows the ending ...
    assert "ended" in flow_page.lower() or "expired" in flow_page.lower()
    receipt = client.get(f"/citizen/receipts/{entry.seq}/download")  # ... with its receipt
    assert receipt.status_code == 200


def _mine(db_session, citizen_id: str, kind: str) -> list[Outbox]:
    query = select(Outbox).where(Outbox.citizen_id == citizen_id, Outbox.kind == kind).order_by(Outbox.id)
    return list(db_session.scalars(query.execution_options(populate_existing=True)))
