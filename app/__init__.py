"""The Flask layer: create_app(config) is the only way an application is built."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config
from .cookie_sessions import init_cookie_sessions
from .errors import init_errors
from .extensions import Runtime, csrf, init_runtime
from .i18n import init_i18n
from .logging import init_logging
from .metrics import init_metrics
from .rate_limit import init_rate_limits
from .request_guards import init_request_guards
from .security import init_security_headers


def create_app(config: Config, *, engine: Engine | None = None) -> Flask:
    """Build the application. `engine` lets tests share one connection-bound engine."""
    config.check()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        SECRET_KEY=config.secret_key,
        TESTING=config.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.production,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=3600,
    )
    init_logging(app)
    init_runtime(app, Runtime.build(config, engine))
    csrf.init_app(app)
    init_security_headers(app)
    init_errors(app)
    init_i18n(app)
    init_rate_limits(app)
    init_metrics(app)
    init_request_guards(app)  # before the blueprints: it bounds their <int:...> converters
    _register_blueprints(app)
    init_cookie_sessions(app)  # after the blueprints: it reads their routes
    from .cli import register_cli
    from .site import init_templates

    init_templates(app)

    register_cli(app)
    if not config.testing:
        from .staff.views import log_first_admin_hint

        log_first_admin_hint(app)
    if hops := config.trusted_proxy_hops:  # client, scheme and host as the outer trusted proxy saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def _register_blueprints(app: Flask) -> None:
    from .admin.staff_views import bp as admin_staff_bp
    from .admin.views import bp as admin_bp
    from .agency_api import consent_status  # noqa: F401  (the apps' consent status, on agency_receipts_bp)
    from .agency_api.corrections import bp as agency_corrections_bp
    from .agency_api.receipts import bp as agency_receipts_bp
    from .agency_api.views import bp as agency_api_bp
    from .audit_api.views import bp as audit_api_bp
    from .auditor import reports_queue  # noqa: F401  (the reports queue, on auditor_bp)
    from .auditor.views import bp as auditor_bp
    from .citizen.api import bp as citizen_api_bp
    from .citizen.views import bp as citizen_bp
    from .consent_screen.views import bp as consent_screen_bp
    from .developers.views import register_developers
    from .fapi.views import bp as fapi_bp
    from .fapi.views import wellknown_bp as fapi_wellknown_bp
    from .log_api.views import bp as log_api_bp
    from .myinfo_v4.views import bp as myinfo_v4_bp
    from .notices.operator_views import bp as notices_operator_bp
    from .notices.views import bp as notices_bp
    from .oauth.metadata_views import bp as wellknown_bp
    from .operator.views import bp as operator_bp
    from .site import bp as site_bp
    from .staff.views import bp as staff_bp

    app.register_blueprint(site_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(operator_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(admin_staff_bp)
    app.register_blueprint(agency_api_bp)
    app.register_blueprint(agency_receipts_bp)
    app.register_blueprint(agency_corrections_bp)
    app.register_blueprint(audit_api_bp)
    app.register_blueprint(log_api_bp)
    app.register_blueprint(auditor_bp)
    app.register_blueprint(citizen_bp)
    app.register_blueprint(citizen_api_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(notices_operator_bp)
    app.register_blueprint(consent_screen_bp)
    app.register_blueprint(myinfo_v4_bp)
    app.register_blueprint(fapi_bp)
    app.register_blueprint(fapi_wellknown_bp)
    app.register_blueprint(wellknown_bp)
    register_developers(app)  # /developers (with the demo's sandbox) and /openapi.json
    csrf.exempt(myinfo_v4_bp)  # machine endpoints: client assertions and DPoP, not cookies
    csrf.exempt(fapi_bp)  # the same for Myinfo v5; its one browser endpoint (/fapi/auth) is a GET
    csrf.exempt(agency_receipts_bp)  # the app's client assertion, never a cookie
    csrf.exempt(agency_api_bp)
    csrf.exempt(agency_corrections_bp)  # signed by the agency (HMAC), never a cookie
