"""`/metrics` and the probes: what a real person call counts, who may scrape, and what `/readyz`
checks. Multi-process mode under gunicorn is tested in tests/http/test_serve.py."""

from __future__ import annotations

import datetime as dt
import functools
import socket
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from agency_connectors.refresh import AgencyOutcome, RefreshResult
from app import create_app, metrics
from app import rate_limit as limits
from app.auditing import record, refresh_event
from audit.log import Event
from core.rate_limit import RateLimited
from tests.oauth.flow import CLIENT_ID, get_code, get_person, get_token
from tests.test_architecture import DOMAINS, ROOT, imported_roots

TOKEN = "metrics-token-for-tests-0123456789abcdef"


def scrape(client, **kwargs) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.text)


def samples(exposition: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def app_with(base_config, engine, sessions):
    built = []

    def build(**changes):
        application = create_app(base_config.replace(**changes), engine=engine)
        application.extensions["consentry"].use_sessions(sessions)
        built.append(application)
        return application

    yield build
    for application in built:
        application.extensions["consentry"].close()


def test_a_person_call_counts_a_release_for_its_app_and_times_the_endpoint_by_name(
    client, keys, citizen, verifier, dpop_key
):
    released = {"app": CLIENT_ID, "profile": "myinfo-v4", "outcome": "released"}
    timed = {"endpoint": "myinfo_v4.person", "method": "GET", "status": "2xx"}
    before = scrape(client)
    token = get_token(client, keys, get_code(client, citizen.id, verifier), verifier, dpop_key)

    assert get_person(client, token["access_token"], dpop_key).status_code == 200

    after = scrape(client)
    assert (
        value(after, "consentry_releases_total", **released)
        == value(before, "consentry_releases_total", **released) + 1
    )
    count = "consentry_http_request_duration_seconds_count"
    assert value(after, count, **timed) == value(before, count, **timed) + 1
    disclosures = {"kind": "disclosure", "outcome": "released"}
    assert value(after, "consentry_audit_events_total", **disclosures) > value(
        before, "consentry_audit_events_total", **disclosures
    )
    # Labels name endpoints, never paths: the person path carries the citizen's sub.
    assert citizen.id not in client.get("/metrics").text
    assert value(after, "consentry_audit_tree_size") >= 1


def test_a_disclosure_whose_transaction_rolls_back_counts_as_rolled_back_not_released(app, db_session):
    labels = {"app": "rollback-app", "profile": "myinfo-v4"}
    entry = Event(
        kind="disclosure", app_id="rollback-app", outcome="released", details={"profile": "myinfo-v4"}
    )
    before = samples(metrics.render(app.extensions["consentry"]).decode())

    db_session.execute(text("SELECT 1"))
    metrics.audited(db_session, entry)
    db_session.rollback()
    metrics.audited(db_session, entry)
    db_session.commit()

    after = samples(metrics.render(app.extensions["consentry"]).decode())
    for outcome in ("rolled_back", "released"):
        name = "consentry_releases_total"
        assert (
            value(after, name, **labels, outcome=outcome)
            == value(before, name, **labels, outcome=outcome) + 1
        )


def test_refresh_outcomes_are_counted_per_agency_by_reason_code(app, db_session, citizen):
    result = RefreshResult(citizen.id)
    result.outcomes["tax"] = AgencyOutcome("tax", ok=True)
    result.outcomes["housing"] = AgencyOutcome("housing", ok=False, reason="timeout: no answer within 1s")
    name = "consentry_agency_refreshes_total"
    before = samples(metrics.render(app.extensions["consentry"]).decode())

    with app.app_context():
        record(db_session, refresh_event(citizen, result))

    after = samples(metrics.render(app.extensions["consentry"]).decode())
    assert (
        value(after, name, agency="tax", outcome="ok") == value(before, name, agency="tax", outcome="ok") + 1
    )
    timeout = {"agency": "housing", "outcome": "timeout"}
    assert value(after, name, **timeout) == value(before, name, **timeout) + 1


def test_rate_limit_refusals_and_replayed_jtis_are_counted(app, runtime):
    scope = f"metrics_test_{dt.datetime.now(dt.UTC).timestamp():.0f}"
    before = samples(metrics.render(runtime).decode())
    with app.test_request_context():
        limits.check(scope, "someone", limit=1, window=60)
        with pytest.raises(RateLimited):
            limits.check(scope, "someone", limit=1, window=60)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert runtime.replay.first_use("dpop", "jti-metrics-test", expires) is True
    assert runtime.replay.first_use("dpop", "jti-metrics-test", expires) is False

    after = samples(metrics.render(runtime).decode())
    limited = "consentry_rate_limited_total"
    assert value(after, limited, scope=scope) == value(before, limited, scope=scope) + 1
    replays = "consentry_replay_refused_total"
    assert value(after, replays, kind="dpop") == value(before, replays, kind="dpop") + 1


def test_breaker_states_are_read_at_scrape_time(app, client):
    breaker = app.extensions["consentry"].connectors.connectors["tax"].breaker
    for _ in range(breaker.threshold):
        breaker.record_failure()
    found = scrape(client)
    assert value(found, "consentry_agency_circuit_state", agency="tax", state="open") == 1
    assert value(found, "consentry_agency_circuit_state", agency="tax", state="closed") == 0
    assert value(found, "consentry_agency_circuit_state", agency="identity", state="closed") == 1


# --- who may scrape -------------------------------------------------------------------------------


def test_without_a_token_only_loopback_clients_may_scrape(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert refused.status_code == 403
    assert "consentry_" not in refused.text


def test_with_a_token_configured_the_bearer_token_is_required_even_from_loopback(app_with):
    client = app_with(metrics_token=TOKEN).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=remote)
    assert allowed.status_code == 200 and "consentry_http_request_duration_seconds" in allowed.text


def test_behind_trusted_proxies_the_forwarded_client_decides_not_the_proxy(app_with):
    application = app_with(trusted_proxy_hops=1)
    assert isinstance(application.wsgi_app, ProxyFix)
    assert application.wsgi_app.x_for == application.wsgi_app.x_proto == application.wsgi_app.x_host == 1
    client = application.test_client()
    # The proxy runs on the same machine, so every request reaches the app from loopback.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}).status_code == 200


def test_without_trusted_proxies_forwarded_headers_are_ignored(app):
    assert not isinstance(app.wsgi_app, ProxyFix)


# --- probes ---------------------------------------------------------------------------------------


def test_readyz_reports_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "not configured", "platform_keys": "ok", "audit_key": "ok"},
        "failed": [],
    }
    assert response.headers["Cache-Control"] == "no-store"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readyz_is_503_naming_redis_when_redis_does_not_answer(app_with):
    client = app_with(redis_url=f"redis://127.0.0.1:{closed_port()}/0").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert int(response.headers["Retry-After"]) > 0


def test_liveness_does_not_depend_on_the_database_but_readiness_does(app, client):
    def unreachable():
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError())

    rt = app.extensions["consentry"]
    rt.sessions = rt.platform_keys.sessions = unreachable
    rt.platform_keys.forget()

    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["database", "platform_keys"]


def test_domain_packages_never_import_prometheus():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("core", *DOMAINS)
        for path in (ROOT / package).rglob("*.py")
        if "prometheus_client" in imported_roots(path)
    ]
    assert offenders == []


def test_the_metric_objects_are_made_once_when_threads_race_to_the_first_request(monkeypatch):
    # prometheus_client refuses a second registration of a name: without the lock, two threads
    # serving the first requests of a worker could both make the metrics (seen in a bench run).
    made: list[int] = []

    @functools.cache
    def slow_create():
        made.append(1)
        time.sleep(0.05)
        return object()

    monkeypatch.setattr(metrics, "_create_metrics", slow_create)
    threads = [threading.Thread(target=metrics._metrics) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert made == [1]
