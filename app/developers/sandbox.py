"""The demo's sandbox registration: a developer gets a test app (a client id) in one form, with the
public keys they paste or a P-256 signing and encryption key pair made for them.

Off in production (and wherever DEVELOPER_SANDBOX is False): every sandbox URL is then a 404. The
app is registered by consent.apps.register_app, with the same checks as the admin page and the CLI
(consent/client_keys.py for the keys), and audited as an admin action by "developer_sandbox".

Generated private keys are never written to the database: they wait in this process's memory for
ten minutes, for one download by the browser that asked for them (a token in its session and in
the page), and are forgotten once downloaded. The sandbox serves the single-process demo, where
that is enough.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog
from flask import Response, abort, current_app, render_template, request, session
from joserfc.jwk import ECKey
from marshmallow import ValidationError, fields, validate, validates_schema

from audit.log import Event
from consent.apps import register_app
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed

from ..admin.schemas import JsonObjectField
from ..auditing import record
from ..extensions import db, runtime
from ..operator.schemas import FormSchema
from ..security import public
from .views import bp, sandbox_enabled

log = structlog.get_logger(__name__)
KEYS_TTL_S = 600
SESSION_TOKEN = "developer_sandbox_keys"  # noqa: S105 - a session key name, not a secret
PURPOSE_ID = "sandbox"
DEFAULT_ATTRIBUTES = "uinfin name regadd"
# Where each of register_app's refusals is shown: next to the field it is about.
FIELD_OF = {
    "name": "name",
    "redirect_uris": "redirect_uri",
    "allowed_attributes": "attributes",
    "purposes": "attributes",
    "profiles": "profiles",
    "jwks": "jwks",
}


class SandboxForm(FormSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=2, max=200, error="Enter a name of 2 to 200 characters"),
        error_messages={"required": "Enter your app's name"},
    )
    redirect_uri = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500, error="Enter a redirect URI of at most 500 characters"),
        error_messages={"required": "Enter your app's redirect URI"},
    )
    profiles = fields.List(
        fields.String(validate=validate.OneOf(["myinfo-v4", "myinfo-v5"], error="Choose MyInfo v4 or v5")),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one version"),
        error_messages={"required": "Choose at least one version"},
    )
    attributes = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000, error="Enter at least one attribute name"),
        error_messages={"required": "Enter at least one attribute name"},
    )
    keys = fields.String(
        required=True,
        validate=validate.OneOf(["generate", "paste"], error="Choose how to give your keys"),
        error_messages={"required": "Choose how to give your keys"},
    )
    jwks = fields.String(load_default="")

    @validates_schema
    def _jwks_when_pasted(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("keys") == "paste":
            try:
                JsonObjectField().deserialize(data.get("jwks", ""))
            except ValidationError as exc:
                message = (
                    "Paste your public keys as a JWKS"
                    if not data.get("jwks", "").strip()
                    else exc.messages[0]
                )
                raise ValidationError(message, "jwks") from None


@dataclass(frozen=True)
class _Waiting:
    client_id: str
    document: dict[str, Any]
    until: float


class _KeyStore:
    """Generated key files waiting for their one download, by token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, _Waiting] = {}

    def put(self, client_id: str, document: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._files = {t: w for t, w in self._files.items() if w.until > now}
            self._files[token] = _Waiting(client_id, document, now + KEYS_TTL_S)
        return token

    def take(self, token: str, client_id: str) -> dict[str, Any] | None:
        with self._lock:
            waiting = self._files.get(token)
            if waiting is None or waiting.client_id != client_id or waiting.until <= time.monotonic():
                return None
            del self._files[token]
            return waiting.document


def _store() -> _KeyStore:
    return current_app.extensions.setdefault("consentry_sandbox_keys", _KeyStore())


def _require_sandbox() -> None:
    if not sandbox_enabled():
        abort(404)


@bp.route("/sandbox", methods=["GET", "POST"])
@public  # demo only: a 404 in production
def sandbox():
    _require_sandbox()
    if request.method == "GET":
        return _form_page(
            {"keys": "generate", "attributes": DEFAULT_ATTRIBUTES, "profiles": ["myinfo-v4"]}, {}
        )
    given = {key: value for key, value in request.form.items() if key != "profiles"}
    given["profiles"] = request.form.getlist("profiles")
    try:
        form = SandboxForm().load({**given, "csrf_token": request.form.get("csrf_token", "")})
    except ValidationError as exc:
        return _form_page(given, _messages(exc.messages), 400)  # type: ignore[arg-type]
    private = _generate() if form["keys"] == "generate" else None
    jwks = _public(private) if private else json.loads(form["jwks"])
    client_id = f"sandbox-{secrets.token_hex(6)}"
    document = _registration(client_id, form, jwks)
    store = db()
    try:
        app = register_app(store, document=document, catalogue=runtime().catalogue, now=utcnow())
        details = {"action": "app_registered", "via": "developer_sandbox", "actor": "developer_sandbox"}
        record(store, Event(kind="admin_action", app_id=app.client_id, outcome="registered", details=details))
        store.commit()
    except (ValidationFailed, Conflict) as exc:
        store.rollback()
        return _form_page(given, _refusals(getattr(exc, "errors", None) or {"": [exc.message]}), 400)
    log.info("sandbox_app_registered", client_id=client_id)
    token = None
    if private is not None:
        token = _store().put(client_id, {"client_id": client_id, "keys": private})
        session[SESSION_TOKEN] = token
    return render_template("developers/sandbox_done.html", document=document, token=token)


@bp.post("/sandbox/<client_id>/keys")
@public  # demo only: a 404 in production; the keys go only to the browser that asked for them
def sandbox_keys(client_id: str):
    _require_sandbox()
    token = request.form.get("token", "")
    expected = session.get(SESSION_TOKEN)
    keyfile = (
        _store().take(token, client_id) if expected and secrets.compare_digest(token, expected) else None
    )
    if keyfile is None:
        abort(404, "These keys were already downloaded, or are more than 10 minutes old.")
    session.pop(SESSION_TOKEN, None)
    return Response(
        json.dumps(keyfile, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="consentry-test-app.json"'},
    )


def _generate() -> list[dict[str, Any]]:
    """A P-256 signing key (ES256) and encryption key (ECDH-ES+A256KW), private halves included:
    what both MyInfo v4 and v5 need."""
    sig = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    enc = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
    return [sig.as_dict(private=True), enc.as_dict(private=True)]


def _public(private: list[dict[str, Any]]) -> dict[str, Any]:
    return {"keys": [{k: v for k, v in key.items() if k != "d"} for key in private]}


def _registration(client_id: str, form: dict[str, Any], jwks: dict[str, Any]) -> dict[str, Any]:
    attributes = list(dict.fromkeys(form["attributes"].replace(",", " ").split()))
    return {
        "client_id": client_id,
        "name": form["name"],
        "agency": "Developer sandbox",
        "redirect_uris": [form["redirect_uri"].strip()],
        "allowed_attributes": attributes,
        "purposes": [
            {
                "id": PURPOSE_ID,
                "description": f"To test {form['name']} in the developer sandbox.",
                "required": attributes,
                "optional": [],
            }
        ],
        "jwks": jwks,
        "profiles": list(dict.fromkeys(form["profiles"])),
    }


def _messages(messages: dict[str, Any]) -> dict[str, list[str]]:
    """marshmallow's messages as {field: [message]}: a list field's per-item messages flattened."""
    flat: dict[str, list[str]] = {}
    for name, value in messages.items():
        items = value.values() if isinstance(value, dict) else [value]
        for item in items:
            flat.setdefault(name, []).extend(item if isinstance(item, list) else [str(item)])
    return flat


def _refusals(errors: dict[str, Any]) -> dict[str, list[str]]:
    """register_app's problems, each next to the form field it is about (else above the form)."""
    shown: dict[str, list[str]] = {}
    for name, problems in _messages(errors).items():
        shown.setdefault(FIELD_OF.get(name, "form"), []).extend(problems)
    return shown


def _form_page(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200):
    return render_template("developers/sandbox.html", values=values, errors=errors), status
