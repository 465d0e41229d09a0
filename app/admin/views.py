"""Agency apps for app admins (staff with the admin role): list; an app's page with its recent
releases and refusals; register on a form (app_form_views.py) or from a pasted registration
document (the CLI's schema, for automation), update from the document, set its webhook
(webhook_views.py), disable and enable after a confirmation. Every write commits with its
`admin_action` audit entry, the admin as actor; a refused form or document writes nothing and
comes back with a 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from audit.app_activity import app_activity
from audit.log import Event
from consent.apps import (
    get_app,
    list_apps,
    purpose_counts,
    purposes_of,
    register_app,
    registration_document,
    set_disabled,
    update_app,
)
from consent.models import AgencyApp
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed

from ..auditing import record
from ..extensions import db, runtime
from ..operator.schemas import ActionForm
from ..security import admin_required
from .display import app_detail, app_rows, percent, problems
from .schemas import RegistrationForm

bp = Blueprint("admin", __name__, url_prefix="/admin/apps", template_folder="templates")
log = structlog.get_logger(__name__)
FLASH = "admin"
bp.add_app_template_filter(percent, "percent")


@bp.get("/")
@admin_required
def apps():
    store = db()
    return render_template("admin/apps.html", rows=app_rows(list_apps(store), purpose_counts(store)))


@bp.get("/<client_id>")
@admin_required
def detail(client_id: str):
    store = db()
    app = get_app(store, client_id)
    page = app_detail(app, purposes_of(store, client_id), runtime().catalogue)
    activity = app_activity(store, app_id=client_id, now=utcnow())
    return render_template("admin/app.html", page=page, activity=activity)


# "-" can never be a client id (3 characters at least), so no app's pages can collide with these.
@bp.route("/-/import", methods=["GET", "POST"])
@admin_required
def import_document():
    if request.method == "GET":
        return _document_page(None, "", {})

    def work(document: dict[str, Any]) -> AgencyApp:
        return register_app(db(), document=document, catalogue=runtime().catalogue, now=utcnow())

    return _save(None, "registered", work)


@bp.route("/<client_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(client_id: str):
    app = get_app(db(), client_id)
    if request.method == "GET":
        return _document_page(app, json.dumps(registration_document(db(), client_id), indent=2), {})

    def work(document: dict[str, Any]) -> AgencyApp:
        catalogue = runtime().catalogue
        return update_app(db(), document=document, catalogue=catalogue, now=utcnow(), client_id=client_id)

    return _save(app, "updated", work)


@bp.route("/<client_id>/<any(disable, enable):action>", methods=["GET", "POST"])
@admin_required
def change_status(client_id: str, action: str):
    store = db()
    app = get_app(store, client_id)
    if request.method == "GET":
        return render_template("admin/confirm.html", app=app, action=action)
    _confirmation()
    set_disabled(store, client_id=client_id, disabled=action == "disable", now=utcnow())
    _audit(client_id, f"{action}d")
    store.commit()
    log.info("admin_app_status_changed", client_id=client_id, action=action)
    flash(f"{app.name} is {action}d", FLASH)
    return redirect(url_for(".detail", client_id=client_id), 303)


def _save(app: AgencyApp | None, action: str, work: Callable[[dict[str, Any]], AgencyApp]):
    """Parse the pasted document, run `work`, audit and commit; or show the problems, nothing written."""
    store, text = db(), request.form.get("document", "")
    try:
        document = RegistrationForm().load(request.form)["document"]
        saved = work(document)
        _audit(saved.client_id, action)
        store.commit()
    except ValidationError as exc:
        return _document_page(app, text, exc.messages, 400)  # type: ignore[arg-type]
    except (ValidationFailed, Conflict) as exc:
        store.rollback()
        lines = problems(getattr(exc, "errors", {})) or [exc.message]
        return _document_page(app, text, {"document": lines}, 409 if isinstance(exc, Conflict) else 400)
    log.info("admin_app_saved", client_id=saved.client_id, action=action)
    flash(f"{saved.name} is {action}", FLASH)
    return redirect(url_for(".detail", client_id=saved.client_id), 303)


def _confirmation() -> None:
    """The confirmation post carries nothing but its CSRF token; anything else is a 400."""
    try:
        ActionForm().load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]


def _document_page(app: AgencyApp | None, text: str, errors: dict[str, list[str]], status: int = 200):
    return render_template("admin/document.html", app=app, document=text, errors=errors), status


def _audit(client_id: str, action: str) -> None:
    # The same event the `consentry apps` commands write, with the app admin as actor.
    details = {"action": f"app_{action}", "via": "admin_page", "actor": g.actor}
    record(db(), Event(kind="admin_action", app_id=client_id, outcome=action, details=details))


# The registration form's and the webhook page's routes, kept in their own modules (this one stays short).
from . import app_form_views, webhook_views  # noqa: E402, F401
