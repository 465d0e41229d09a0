"""The public pages (landing page, service status, liveness and readiness probes) and the page
templates' set-up."""

from __future__ import annotations

import re
from collections.abc import Callable

import structlog
from flask import Blueprint, Flask, jsonify, make_response, render_template
from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, PrefixLoader
from sqlalchemy import text

from core import redis_client
from core.clock import utcnow

from .display_time import local_time, time_context
from .extensions import Runtime, runtime
from .govuk_words import rewritten_templates, translated
from .page_header import header_context
from .security import public

bp = Blueprint("site", __name__)
# For every template: times in the deployment's zone, and who is signed in for the header.
bp.add_app_template_filter(local_time, "local_time")
bp.app_context_processor(time_context)
bp.app_context_processor(header_context)
log = structlog.get_logger(__name__)
READY_RETRY_AFTER_S = 5  # what a 503 from /readyz asks a load balancer to wait

# govuk-frontend-jinja's page template writes an inline <script> (outside any block) to add the
# `js-enabled` body classes. Our CSP forbids inline script, so the loader strips it and
# static/app.js sets the same classes. Matching the exact statement makes an upstream change fail
# loudly at start-up instead of silently shipping a CSP violation.
_INLINE_SCRIPT = re.compile(
    r"<script[^>]*>document\.body\.className \+= ' js-enabled'[^<]*</script>\s*", re.MULTILINE
)


class _GovukTemplates(PackageLoader):
    """govuk-frontend-jinja's templates, with the page template's inline script removed and the
    components' English defaults through gettext (app/govuk_words.py)."""

    def get_source(self, environment: Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        source = translated(template, source)
        if template == "template.html":
            source, found = _INLINE_SCRIPT.subn("", source, count=1)
            if not found or "<script" in source:
                raise RuntimeError("govuk_frontend_jinja/template.html changed: review its inline script")
        return source, filename, uptodate


def init_templates(app: Flask) -> None:
    """Our templates first, then GOV.UK Frontend's macros under `govuk_frontend_jinja/`."""
    loaders: list[BaseLoader] = [app.jinja_loader] if app.jinja_loader else []
    govuk = _GovukTemplates("govuk_frontend_jinja")
    app.jinja_loader = ChoiceLoader([*loaders, PrefixLoader({"govuk_frontend_jinja": govuk})])
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    for name in rewritten_templates():  # an upgrade that moved a default fails here, at start-up
        govuk.get_source(app.jinja_env, name)


@bp.get("/")
@public
def index():
    return render_template("index.html")


@bp.get("/healthz")
@public
def healthz():
    """Liveness, for the process supervisor: the process answers HTTP. Nothing else is checked, so
    a database outage never gets every worker restarted; `/readyz` says whether to send traffic."""
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    """Readiness, for load balancers: 200 with each check's result, or 503 naming the failed ones
    (and Retry-After). Checks: the database answers, Redis answers when REDIS_URL is set, the
    platform's signing key unwraps under the master keys, the audit signing key is loaded."""
    checks = readiness_checks(runtime())
    failed = sorted(name for name, result in checks.items() if result == "failed")
    body = jsonify(status="unavailable" if failed else "ready", checks=checks, failed=failed)
    body.headers["Cache-Control"] = "no-store"
    if failed:
        body.status_code = 503
        body.headers["Retry-After"] = str(READY_RETRY_AFTER_S)
    return body


def readiness_checks(rt: Runtime) -> dict[str, str]:
    """Each readiness check's result: "ok", "failed" or "not configured"."""
    probes: dict[str, Callable[[], object] | None] = {
        "database": lambda: _database(rt),
        "redis": (lambda: _redis(rt.config.redis_url)) if rt.config.redis_url else None,
        "platform_keys": rt.platform_keys.signing_key,
        "audit_key": lambda: rt.audit_signer.key_id,
    }
    return {name: _check(name, probe) if probe else "not configured" for name, probe in probes.items()}


@bp.get("/status")
@public
def status():
    """Service status for people: whether Consentry works (the readiness checks) and whether each
    agency answers (this process's circuit breakers), with no internal detail; machines read
    /readyz."""
    rt = runtime()
    working = "failed" not in readiness_checks(rt).values()
    agencies = [
        (rt.catalogue.agencies[code].name if code in rt.catalogue.agencies else code, connector.breaker.state)
        for code, connector in rt.connectors.connectors.items()
    ]
    page = render_template(
        "status.html",
        working=working,
        agencies=sorted((name, state == "closed") for name, state in agencies),
        checked_at=utcnow(),
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


def _check(name: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:  # any failure means not ready; the type is logged, never a value
        log.warning("readyz_check_failed", check=name, error=type(exc).__name__)
        return "failed"
    return "ok"


def _database(rt: Runtime) -> None:
    with rt.sessions() as session:
        session.execute(text("SELECT 1"))


def _redis(url: str) -> None:
    client = redis_client.connect(url)
    try:
        client.ping()
    finally:
        client.close()
