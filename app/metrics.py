"""Prometheus metrics: what `/metrics` exposes, the hooks the app calls, and who may read it.

Metric objects are built on first use, never at import: prometheus_client picks single- or
multi-process storage when it is first imported, from PROMETHEUS_MULTIPROC_DIR, and `consentry
serve` sets that variable in the gunicorn master after `app` has been imported. Under gunicorn each
worker writes its own files in that directory and a scrape (answered by any one worker) sums them.

Labels never carry personal data: requests by endpoint name (never the raw path, which holds
ids), releases by the app's client id, refreshes by agency code and failure reason code.

Counted here, from the app side only (domain packages know nothing of Prometheus):
- every audit append (`app.auditing.record` calls `audited`): releases and other audit events
  are counted when their transaction commits (or as rolled back), refreshes at once;
- rate-limit refusals (`rate_limited`) and replayed jtis (`unless_replayed`).
Collected at scrape time: circuit-breaker states (this process's), the audit tree size and the
age of its latest signed checkpoint (one database read).

`/metrics` needs `METRICS_TOKEN` as a Bearer token when one is configured; without one it answers
loopback clients only (docs/operations.md, "Metrics and probes").
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from flask import Flask, Response, current_app, request
from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from audit.integrator import oldest_queued, queued_count
from audit.models import AuditCheckpoint
from audit.tree import tree_size
from audit.witness_check import refusal_count
from core.clock import utcnow

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

    from audit.log import Event

    from .extensions import Runtime

log = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PENDING = "consentry_metrics_pending"  # Session.info key: releases awaiting their commit
_STARTED = "consentry_metrics_started"  # request.environ key: perf_counter at the first hook


@dataclass(frozen=True)
class _Metrics:
    requests: Histogram
    releases: Counter
    audit_events: Counter
    refreshes: Counter
    rate_limited: Counter
    replays: Counter


_CREATING = threading.Lock()


def _metrics() -> _Metrics:
    """The metric objects, made once per process. Under a lock: two threads making them at once
    would register each name twice, which prometheus_client refuses."""
    with _CREATING:
        return _create_metrics()


@functools.cache
def _create_metrics() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        requests=Histogram(
            "consentry_http_request_duration_seconds",
            "Time from the request reaching Flask to its response, by endpoint name (never the path), "
            "method and status class.",
            ["endpoint", "method", "status"],
        ),
        releases=Counter(
            "consentry_releases",
            "Person data releases audited, by agency app (client id), wire profile and outcome: "
            "released (the audit entry committed, the response went out) or rolled_back (nothing left).",
            ["app", "profile", "outcome"],
        ),
        audit_events=Counter(
            "consentry_audit_events",
            "Audit entries committed, by kind and outcome.",
            ["kind", "outcome"],
        ),
        refreshes=Counter(
            "consentry_agency_refreshes",
            "Agency answers during a refresh (person call, operator, agency notice), by agency and "
            "outcome: ok, or the failure's reason code (timeout, unreachable, circuit_open, http_503...).",
            ["agency", "outcome"],
        ),
        rate_limited=Counter(
            "consentry_rate_limited",
            "Requests refused for a rate limit (429), by limit scope.",
            ["scope"],
        ),
        replays=Counter(
            "consentry_replay_refused",
            "Token ids presented a second time and refused, by kind (dpop, client_assertion).",
            ["kind"],
        ),
    )


# --- hooks the app calls -------------------------------------------------------------------------


def audited(session: Session, entry: Event) -> None:
    """An audit event was appended in `session`'s transaction. Refresh outcomes are counted now
    (the agencies answered whatever happens next); the event itself when the transaction commits,
    a disclosure also as a release (or as rolled back, when the transaction ends without commit)."""
    if entry.kind == "profile_refreshed":
        _count_refresh(entry.details or {})
    session.info.setdefault(_PENDING, []).append(entry)


def rate_limited(scope: str) -> None:
    _metrics().rate_limited.labels(scope).inc()


def unless_replayed(first: bool, namespace: str) -> bool:
    """`first`, a replay cache's verdict on a jti in `namespace`, counted when it is a replay; the
    namespace's first part names the kind (`dpop`, `client_assertion:<client id>`)."""
    if not first:
        _metrics().replays.labels(namespace.split(":", 1)[0]).inc()
    return first


def _count_refresh(details: dict[str, Any]) -> None:
    failed = details.get("failed") or {}
    counter = _metrics().refreshes
    for agency in details.get("agencies", ()):
        reason = failed.get(agency)
        counter.labels(agency, "ok" if reason is None else str(reason).split(":", 1)[0]).inc()


def _count_pending(session: Session, *, committed: bool) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    metrics = _metrics()
    for entry in pending:
        if entry.kind == "disclosure":
            profile = (entry.details or {}).get("profile", "unknown")
            outcome = "released" if committed else "rolled_back"
            metrics.releases.labels(entry.app_id or "unknown", profile, outcome).inc()
        if committed:
            metrics.audit_events.labels(entry.kind, entry.outcome or "").inc()


def _after_commit(session: Session) -> None:
    _count_pending(session, committed=True)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        _count_pending(session, committed=False)


def _listen_to_sessions() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


# --- the web side --------------------------------------------------------------------------------


def init_metrics(app: Flask) -> None:
    """Time every request (by endpoint), count audit events on commit, serve `/metrics`."""
    _listen_to_sessions()
    # First of the before-request hooks, so the time includes the others (sessions, logging).
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


def _start_timer() -> None:
    request.environ[_STARTED] = time.perf_counter()


def _observe(response: Response) -> Response:
    started = request.environ.get(_STARTED)
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        status = f"{response.status_code // 100}xx"
        _metrics().requests.labels(endpoint, method, status).observe(time.perf_counter() - started)
    return response


def _runtime() -> Runtime:
    # Not app.extensions.runtime: this module is imported while app.extensions is (replay caches).
    return current_app.extensions["consentry"]


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in LOOPBACK)


def metrics_access(view: Callable) -> Callable:
    """The guard of `/metrics`: the configured METRICS_TOKEN as a Bearer token (compared in
    constant time), or with no token configured, a loopback client (request.remote_addr, which is
    the forwarded client address when TRUSTED_PROXY_HOPS is set)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        token = _runtime().config.metrics_token
        if token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
                refused = Response("metrics token required\n", 401, mimetype="text/plain")
                refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
                return refused
        elif not is_loopback(request.remote_addr):
            return Response("metrics are served to loopback clients only\n", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    wrapper._guard = "metrics"  # type: ignore[attr-defined]  # read by the route inventory
    return wrapper


@metrics_access
def metrics_view() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    response = Response(render(_runtime()), mimetype=None)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def render(rt: Runtime) -> bytes:
    """The exposition: every process's metrics (multi-process mode) or this one's, then what is
    read at scrape time."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _metrics()  # a fresh worker's first scrape still lists every metric
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    now = CollectorRegistry(auto_describe=False)
    now.register(StateCollector(rt))
    return generate_latest(counted) + generate_latest(now)


class StateCollector:
    """Gauges read at scrape time: this process's circuit breakers, the audit log's size and
    its latest checkpoint."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        breakers = GaugeMetricFamily(
            "consentry_agency_circuit_state",
            "1 for each agency's current circuit-breaker state in the process that answered the scrape.",
            labels=["agency", "state"],
        )
        for code, connector in self.rt.connectors.connectors.items():
            current = connector.breaker.state
            for state in ("closed", "open", "half-open"):
                breakers.add_metric([code, state], 1.0 if state == current else 0.0)
        yield breakers
        yield from self._audit()

    def _audit(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        latest = select(AuditCheckpoint.tree_size, AuditCheckpoint.created_at)
        latest = latest.order_by(AuditCheckpoint.tree_size.desc()).limit(1)
        try:
            with self.rt.sessions() as session:
                size = tree_size(session)
                checkpoint = session.execute(latest).one_or_none()
                refusals = refusal_count(session)
                queued, oldest = queued_count(session), oldest_queued(session)
        except SQLAlchemyError as exc:
            log.warning("metrics_audit_unreadable", error=type(exc).__name__)
            return
        yield GaugeMetricFamily("consentry_audit_tree_size", "Entries in the audit log.", value=size)
        # AUDIT_INTEGRATION=batched: entries committed but not yet in the tree, and how long the
        # oldest has waited (alert well before AUDIT_MAX_MERGE_DELAY_S, when `audit verify` fails).
        yield GaugeMetricFamily(
            "consentry_audit_queued_entries", "Audit entries waiting for the integrator.", value=queued
        )
        yield GaugeMetricFamily(
            "consentry_audit_queue_oldest_age_seconds",
            "Seconds the oldest queued audit entry has waited for the tree (0: none waits).",
            value=max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "consentry_audit_witness_refusals",
            "Witness refusals of our checkpoint as inconsistent (alarms), recorded in all.",
            value=refusals,
        )
        yield GaugeMetricFamily(
            "consentry_audit_checkpoint_tree_size",
            "Tree size of the latest signed checkpoint (0: none yet).",
            value=checkpoint.tree_size if checkpoint else 0,
        )
        if checkpoint is not None:
            age = (utcnow() - checkpoint.created_at).total_seconds()
            yield GaugeMetricFamily(
                "consentry_audit_checkpoint_age_seconds",
                "Seconds since the latest checkpoint was signed.",
                value=max(age, 0.0),
            )
