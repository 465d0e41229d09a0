"""The public pages (landing page, health check) and the page templates' set-up."""

from __future__ import annotations

import re

import structlog
from flask import Blueprint, Flask, jsonify, render_template
from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, PrefixLoader
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .security import public

bp = Blueprint("site", __name__)
log = structlog.get_logger(__name__)

# govuk-frontend-jinja's page template writes an inline <script> (outside any block) to add the
# `js-enabled` body classes. Our CSP forbids inline script, so the loader strips it and
# static/app.js sets the same classes. Matching the exact statement makes an upstream change fail
# loudly at start-up instead of silently shipping a CSP violation.
_INLINE_SCRIPT = re.compile(
    r"<script[^>]*>document\.body\.className \+= ' js-enabled'[^<]*</script>\s*", re.MULTILINE
)


class _GovukTemplates(PackageLoader):
    """govuk-frontend-jinja's templates, with the page template's inline script removed."""

    def get_source(self, environment: Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        if template == "template.html":
            source, found = _INLINE_SCRIPT.subn("", source, count=1)
            if not found or "<script" in source:
                raise RuntimeError("govuk_frontend_jinja/template.html changed: review its inline script")
        return source, filename, uptodate


def init_templates(app: Flask) -> None:
    """Our templates first, then GOV.UK Frontend's macros under `govuk_frontend_jinja/`."""
    loaders: list[BaseLoader] = [app.jinja_loader] if app.jinja_loader else []
    app.jinja_loader = ChoiceLoader(
        [*loaders, PrefixLoader({"govuk_frontend_jinja": _GovukTemplates("govuk_frontend_jinja")})]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


@bp.get("/")
@public
def index():
    return render_template("index.html")


@bp.get("/healthz")
@public
def healthz():
    """Liveness and database reachability, for load balancers: 200 or 503, never a page."""
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("healthz_database_unreachable")
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")
