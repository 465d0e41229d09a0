"""The developer portal: what the platform offers, the flows step by step (v4 and v5, with curl,
Python and Node), every error with what to do, the attribute catalogue, the open disclosure log
(keys, tiles, witnesses, checking offline), the API reference rendered from the OpenAPI document,
and the document itself at /openapi.json.

Everything here is public and says nothing about any person. The reference is rendered on the
server from the same document /openapi.json serves, so it needs no script and lives under the site's
strict Content-Security-Policy unchanged.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, render_template, send_from_directory

from audit.witness_client import parse_witnesses

from ..extensions import runtime
from ..fapi.scopes import SUB_ATTRIBUTES
from ..security import public
from .openapi import build_spec, operation_count
from .reference import operations_by_tag, schema_rows

bp = Blueprint(
    "developers",
    __name__,
    url_prefix="/developers",
    template_folder="templates",
)
# /openapi.json sits at the root, where tools look for it.
openapi_bp = Blueprint("openapi", __name__)
STATIC = Path(__file__).with_name("static")
DOCUMENT_CACHE = {"Cache-Control": "public, max-age=300"}


def register_developers(app: Flask) -> None:
    """The portal, the sandbox's routes (on the portal's blueprint) and /openapi.json."""
    from . import sandbox  # noqa: F401  (its routes, on bp)

    app.register_blueprint(bp)
    app.register_blueprint(openapi_bp)


@bp.context_processor
def _menu() -> dict:
    return {"sandbox_on": sandbox_enabled()}


def document() -> dict:
    return build_spec(runtime().config.public_base_url)


@openapi_bp.get("/openapi.json")
@public
def openapi_json():
    return jsonify(document()), 200, DOCUMENT_CACHE


@bp.get("/developers.css")
@public
def stylesheet():
    """The portal's own styles (a route, not a blueprint static folder: every endpoint declares
    its guard)."""
    response = send_from_directory(STATIC, "developers.css", mimetype="text/css", max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/")
@public
def index():
    return render_template("developers/index.html", urls=_urls(), sandbox=sandbox_enabled())


@bp.get("/flows/<any(v4, v5):profile>")
@public
def flow(profile: str):
    return render_template(f"developers/flow_{profile}.html", urls=_urls())


@bp.get("/errors")
@public
def errors():
    return render_template("developers/errors.html")


@bp.get("/attributes")
@public
def attributes():
    catalogue = runtime().catalogue
    rows = [
        {
            "attribute": attribute,
            "agency": catalogue.agencies[attribute.agency].name,
            "subs": SUB_ATTRIBUTES.get(name, ()),
        }
        for name, attribute in catalogue.attributes.items()
    ]
    return render_template("developers/attributes.html", rows=rows)


@bp.get("/log")
@public
def open_log():
    """The disclosure log in the open: its origin and keys, the endpoints, checking offline, and
    running a witness. The keys are this deployment's own (nothing about any person)."""
    rt = runtime()
    log_key, quorum = rt.audit_signer.note_verifier_key(), rt.config.audit_witness_quorum
    witnesses = [t.key.vkey for t in parse_witnesses(rt.config.audit_witnesses)]
    return render_template(
        "developers/log.html",
        urls=_urls(),
        origin=rt.audit_signer.note_origin,
        log_key=log_key,
        witnesses=witnesses,
        quorum=quorum,
        verify_command=_verify_command(log_key, witnesses, quorum),
    )


def _verify_command(log_key: str, witnesses: list[str], quorum: int) -> str:
    """The offline verifier's command for a citizen's proof, with this deployment's witness keys."""
    lines = ["python -m audit.verifier --bundle consentry-proof-41.json --public-key consentry-audit.pem"]
    if witnesses:
        lines += [f"    --log-key '{log_key}'", *(f"    --witness '{key}'" for key in witnesses)]
        lines.append(f"    --quorum {quorum}")
    return " \\\n".join(lines)


@bp.get("/reference")
@public
def reference():
    spec = document()
    return render_template(
        "developers/reference.html",
        spec=spec,
        groups=operations_by_tag(spec),
        schemas=schema_rows(spec),
        count=operation_count(spec),
    )


def sandbox_enabled() -> bool:
    """The sandbox registration runs in development and the demo, never in production."""
    return not runtime().config.production and current_app.config.get("DEVELOPER_SANDBOX", True)


def _urls() -> dict[str, str]:
    base = runtime().config.public_base_url
    return {
        "base": base,
        "jwks": f"{base}/.well-known/keys.json",
        "receipt_keys": f"{base}/.well-known/receipt-keys",
        "v4_issuer": f"{base}/com/v4",
        "v4_metadata": f"{base}/.well-known/oauth-authorization-server/com/v4",
        "v4_discovery": f"{base}/com/v4/.well-known/openid-configuration",
        "v5_issuer": f"{base}/fapi",
        "v5_discovery": f"{base}/fapi/.well-known/openid-configuration",
        "v5_metadata": f"{base}/.well-known/oauth-authorization-server/fapi",
        "v5_jwks": f"{base}/fapi/.well-known/keys",
        "openapi": f"{base}/openapi.json",
        "log_checkpoint": f"{base}/log/checkpoint",
        "log_tiles": f"{base}/log/tile/",
        "log_key": f"{base}/.well-known/consentry-log-key",
        "audit_pem": f"{base}/api/audit/public-key",
    }
