"""The Housing Board's "Enhanced Housing Grant" service: an example of what an agency builds on
Consentry. It pre-fills its application form with details the citizen chooses to share, through
Myinfo v4 (examples/myinfo_v4_client.py) or Myinfo v5 on FAPI 2.0 (examples/fapi_client.py).

It imports nothing from the platform: it is a separate site with its own keys, database, pages
and GOV.UK Frontend stylesheet. Its keys are published demo keys (demo-private-keys.json),
registered in examples/agency-app.json; a real service keeps its private keys secret.
`consentry demo` serves it on http://127.0.0.1:3001/. See README.md beside this file.

    app.py       the factory: configuration, clients, templates, security headers
    views.py     the pages: form, retrieve, callback, submit, confirmation
    flows.py     the two protocol flows behind one interface
    items.py     the form's items, labels, and how a retrieved item reads
    answers.py   what the applicant types instead, checked
    storage.py   journeys and applications, in SQLite
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from joserfc.jwk import ECKey

from examples.fapi_client import FapiClient
from examples.myinfo_v4_client import MyInfoV4Client

from .flows import Flow, V4Flow, V5Flow
from .storage import Store
from .views import bp

HERE = Path(__file__).resolve().parent
REGISTRATION = json.loads((HERE.parent / "agency-app.json").read_text())
PURPOSE = REGISTRATION["purposes"][0]
SCOPE = PURPOSE["required"] + PURPOSE["optional"]
FLOWS = {"v4": "Myinfo v4", "v5": "Myinfo v5 (FAPI 2.0)"}


def create_demo_agency_app(
    consentry_url: str,
    *,
    base_url: str = "http://127.0.0.1:3001",
    database: str | Path | None = None,
    default_flow: str = "v4",
) -> Flask:
    """The example service, talking to Consentry at `consentry_url` and reachable at `base_url`
    (its redirect URI is `{base_url}/callback`). `database` is its SQLite file (by default in the
    instance folder); `default_flow` is the Myinfo version the form offers first."""
    consentry_url = consentry_url.rstrip("/")
    if consentry_url.startswith("http://"):
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the demo runs on loopback http
    keys = {key["use"]: ECKey.import_key(key) for key in _private_keys()}
    redirect_uri = f"{base_url.rstrip('/')}/callback"
    common = {
        "client_id": REGISTRATION["client_id"],
        "redirect_uri": redirect_uri,
        "signing_key": keys["sig"],
        "encryption_key": keys["enc"],
    }
    flows: dict[str, Flow] = {
        "v4": V4Flow(
            client=MyInfoV4Client(base_url=consentry_url, **common),
            issuer=f"{consentry_url}/com/v4",
            scope=SCOPE,
            purpose_id=PURPOSE["id"],
        ),
        # v5 has no purpose parameter: the registration's one purpose applies.
        "v5": V5Flow(client=FapiClient(issuer=f"{consentry_url}/fapi", **common), scope=SCOPE),
    }

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        # Another site on the same host in the demo: its own cookie name, so neither overwrites
        # the other's (cookies do not care about ports).
        SESSION_COOKIE_NAME="housing_grant_demo",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # sent on the top-level redirect back from Consentry
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    if database is None:
        os.makedirs(app.instance_path, exist_ok=True)
        database = Path(app.instance_path) / "housing_grant.sqlite3"
    app.extensions["housing_grant"] = {
        "store": Store(database),
        "flows": flows,
        "flow_names": FLOWS,
        "default_flow": default_flow,
    }
    CSRFProtect(app)
    Babel(app)
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(HERE / "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.register_blueprint(bp)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    """Pages hold personal data: never cached, never framed, no referrer (the callback's URL
    carries a code)."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _private_keys() -> list[dict[str, Any]]:
    return json.loads((HERE / "demo-private-keys.json").read_text())["keys"]
