"""Registering, updating and disabling agency apps (OAuth clients) and their purposes.

A registration document (JSON, from the CLI, the admin page or the demo) is validated whole before
anything is written: its shape with marshmallow, then whether the app could work at all (the keys
each profile needs, purposes within the allowed attributes, the attribute catalogue). Every problem
is reported at once, by field, in one ValidationFailed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationFailed
from profile_store.catalogue import Catalogue

from .client_keys import jwks_problems
from .models import AgencyApp, Consent, Purpose

PROFILES = ("myinfo-v4", "myinfo-v5")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ID = validate.Regexp(r"^[A-Za-z0-9._-]{3,100}$", error="letters, digits, '.', '_' and '-' only (3-100)")


class PurposeSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=_ID)
    description = fields.String(required=True, validate=validate.Length(min=10, max=500))
    required = fields.List(fields.String(), load_default=list)
    optional = fields.List(fields.String(), load_default=list)
    # What the app does with the data and how long it keeps it, in words (consent receipts).
    processing = fields.String(load_default=None, validate=validate.Length(min=10, max=1000))
    retention = fields.String(load_default=None, validate=validate.Length(min=2, max=300))


class AppRegistrationSchema(Schema):
    """The shape of a registration document; `_unworkable` checks what a shape cannot."""

    class Meta:
        unknown = RAISE

    client_id = fields.String(required=True, validate=_ID)
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    agency = fields.String(required=True, validate=validate.Length(min=2, max=200))
    redirect_uris = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(min=1, max=10, error="give 1 to 10 redirect URIs"),
    )
    allowed_attributes = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, error="give at least one attribute")
    )
    purposes = fields.List(
        fields.Nested(PurposeSchema),
        required=True,
        validate=validate.Length(min=1, error="give at least one purpose"),
    )
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.Url(load_default=None, schemes={"https"}, validate=validate.Length(max=500))
    profiles = fields.List(
        fields.String(validate=validate.OneOf(PROFILES)),
        load_default=lambda: ["myinfo-v4"],
        validate=validate.Length(min=1, error=f"give at least one of {', '.join(PROFILES)}"),
    )

    @validates("redirect_uris")
    def _redirect_uris(self, uris: list[str], **_: Any) -> None:
        problems = [f"{uri!r}: {why}" for uri in uris if (why := redirect_uri_problem(uri))]
        if problems:
            raise ValidationError(problems)


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI cannot be registered (None when it can). Exact URIs only: no wildcards,
    no fragments; https, or http on a loopback host for development."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "http is allowed only on a loopback host; use https"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if "*" in uri:
        return "wildcards are not allowed"
    if any(c in uri for c in "&+ "):
        # MyInfo v4 clients splice the redirect URI into form bodies unencoded.
        return "must not contain '&', '+' or spaces"
    return None


def register_app(
    session: Session, *, document: dict[str, Any], catalogue: Catalogue, now: dt.datetime
) -> AgencyApp:
    """Validate and add an app with its purposes (flushed). Raises ValidationFailed naming every
    problem, Conflict when the client id exists."""
    data = _load(document, catalogue)
    if session.get(AgencyApp, data["client_id"]) is not None:
        raise Conflict("an app with this client_id exists")
    app = AgencyApp(client_id=data["client_id"], created_at=now)
    _apply(session, app, data, now)
    session.add(app)
    session.flush()
    return app


def registration_problems(document: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """Every problem `register_app` would find in `document`, by field (empty when there is none;
    whether the client id is taken is `register_app`'s to say). Reads and writes nothing: the
    registration form shows these next to its own."""
    try:
        _load(document, catalogue)
    except ValidationFailed as exc:
        return dict(exc.errors)
    return {}


def update_app(
    session: Session,
    *,
    document: dict[str, Any],
    catalogue: Catalogue,
    now: dt.datetime,
    client_id: str | None = None,
) -> AgencyApp:
    """Replace an app's settings and purposes with the document's (flushed). With `client_id` (a page
    editing one app) the document must name that app. Raises ValidationFailed naming every problem,
    NotFound for an unknown app."""
    data = _load(document, catalogue, client_id)
    app = get_app(session, data["client_id"])
    _apply(session, app, data, now)
    session.flush()
    return app


def set_disabled(session: Session, *, client_id: str, disabled: bool, now: dt.datetime) -> AgencyApp:
    app = get_app(session, client_id)
    app.disabled, app.updated_at = disabled, now
    session.flush()
    return app


def get_app(session: Session, client_id: str) -> AgencyApp:
    app = session.get(AgencyApp, client_id)
    if app is None:
        raise NotFound("no such agency app")
    return app


def find_purpose(session: Session, client_id: str, purpose_id: str) -> Purpose | None:
    return session.get(Purpose, (client_id, purpose_id))


def list_apps(session: Session) -> list[AgencyApp]:
    return list(session.scalars(select(AgencyApp).order_by(AgencyApp.name)))


def purposes_of(session: Session, client_id: str) -> list[Purpose]:
    """An app's purposes in id order (none for an unknown app)."""
    return list(
        session.scalars(select(Purpose).where(Purpose.client_id == client_id).order_by(Purpose.purpose_id))
    )


def purpose_counts(session: Session) -> dict[str, int]:
    """How many purposes each app has, by client id (apps without any are absent)."""
    rows = session.execute(select(Purpose.client_id, func.count()).group_by(Purpose.client_id))
    return {client_id: count for client_id, count in rows}


def registration_document(session: Session, client_id: str) -> dict[str, Any]:
    """The registration document of an existing app, as `AppRegistrationSchema` loads it: updating the
    app with it changes nothing (purposes come in id order). Raises NotFound."""
    app = get_app(session, client_id)
    keys = {"jwks": app.jwks} if app.jwks is not None else {"jwks_uri": app.jwks_uri}
    return {
        "client_id": app.client_id,
        "name": app.name,
        "agency": app.agency,
        "redirect_uris": list(app.redirect_uris),
        "allowed_attributes": list(app.allowed_attributes),
        "purposes": [
            {
                "id": p.purpose_id,
                "description": p.description,
                "required": list(p.required_attributes),
                "optional": list(p.optional_attributes),
                **{name: value for name in ("processing", "retention") if (value := getattr(p, name))},
            }
            for p in purposes_of(session, client_id)
        ],
        **keys,
        "profiles": list(app.profiles),
    }


def _load(document: dict[str, Any], catalogue: Catalogue, client_id: str | None = None) -> dict[str, Any]:
    """The loaded document, or ValidationFailed with every problem at once, by field."""
    if _holds_nul(document):
        # PostgreSQL text cannot store NUL; refuse it here rather than fail at commit.
        raise ValidationFailed("invalid app registration", {"document": ["must not contain NUL characters"]})
    errors: dict[str, Any] = {}
    try:
        data = AppRegistrationSchema().load(document)
    except ValidationError as exc:
        errors = dict(exc.messages)  # type: ignore[arg-type]
        # A list keeps its valid items: drop every refused field, so no check judges half a value.
        data = {name: value for name, value in (exc.valid_data or {}).items() if name not in errors}
    for field, problem in _unworkable(data, catalogue, client_id):
        errors.setdefault(field, []).append(problem)
    if errors:
        raise ValidationFailed("invalid app registration", errors)
    return data


def _unworkable(data: dict[str, Any], catalogue: Catalogue, client_id: str | None) -> list[tuple[str, str]]:
    """(field, problem) for each way the valid fields of a document make an app that cannot work:
    a key set without the keys its profiles need, a purpose outside the allowed attributes,
    several purposes for Myinfo v5, an attribute the catalogue does not know."""
    problems: list[tuple[str, str]] = []
    if client_id is not None and data.get("client_id", client_id) != client_id:
        problems.append(("client_id", f"must stay {client_id!r}: a new client id is a new app, register it"))
    allowed = set(data["allowed_attributes"]) if "allowed_attributes" in data else None
    if allowed is not None and (unknown := sorted(allowed - set(catalogue.names()))):
        problems.append(("allowed_attributes", f"unknown: {unknown}"))
    profiles = data.get("profiles")
    if profiles is not None and len(set(profiles)) < len(profiles):
        problems.append(("profiles", "a profile is listed twice"))
    if "jwks" in data and "jwks_uri" in data:
        if (data["jwks"] is None) == (data["jwks_uri"] is None):
            problems.append(("jwks", "give exactly one of jwks or jwks_uri"))
        elif data["jwks"] is not None and profiles is not None:
            problems += [("jwks", problem) for problem in jwks_problems(data["jwks"], profiles)]
    if "purposes" in data:
        problems += [
            ("purposes", problem) for problem in _purpose_problems(data["purposes"], allowed, profiles)
        ]
    return problems


def _purpose_problems(
    purposes: list[dict], allowed: set[str] | None, profiles: list[str] | None
) -> list[str]:
    ids = [purpose["id"] for purpose in purposes]
    problems = [f"purpose {i} is given twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for purpose in purposes:
        asked = set(purpose["required"]) | set(purpose["optional"])
        if not asked:
            problems.append(f"purpose {purpose['id']} asks for no attribute")
        if allowed is not None and (outside := sorted(asked - allowed)):
            problems.append(f"purpose {purpose['id']} uses attributes not allowed: {outside}")
    # Myinfo v5 requests name no purpose: the app's only one applies (app/fapi/par.py, SP-MIG4).
    if profiles is not None and "myinfo-v5" in profiles and len(purposes) != 1:
        problems.append(f"a myinfo-v5 app has exactly one purpose, not {len(purposes)}")
    return problems


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _apply(session: Session, app: AgencyApp, data: dict[str, Any], now: dt.datetime) -> None:
    app.name, app.agency = data["name"], data["agency"]
    app.redirect_uris, app.allowed_attributes = data["redirect_uris"], sorted(set(data["allowed_attributes"]))
    app.jwks, app.jwks_uri, app.profiles = data["jwks"], data["jwks_uri"], data["profiles"]
    app.updated_at = now
    existing = {
        p.purpose_id: p for p in session.scalars(select(Purpose).where(Purpose.client_id == app.client_id))
    }
    wanted = {p["id"]: p for p in data["purposes"]}
    for purpose_id, purpose in existing.items():
        if purpose_id in wanted:
            continue
        if session.scalar(
            select(Consent.id)
            .where(Consent.client_id == app.client_id, Consent.purpose_id == purpose_id)
            .limit(1)
        ):
            raise ValidationFailed(
                "invalid app registration",
                {"purposes": [f"purpose {purpose_id} has consents; change it, do not remove it"]},
            )
        session.delete(purpose)
    for purpose_id, given in wanted.items():
        purpose = existing.get(purpose_id) or Purpose(client_id=app.client_id, purpose_id=purpose_id)
        purpose.description = given["description"]
        purpose.required_attributes = sorted(set(given["required"]))
        purpose.optional_attributes = sorted(set(given["optional"]))
        purpose.processing, purpose.retention = given["processing"], given["retention"]
        session.add(purpose)
