"""Registering an agency app on a form: name, agency, return addresses, purposes with their
required and optional items chosen from the attribute catalogue by label, the public keys (a
pasted JWKS, or a `jwks_uri` fetched and checked as the form is sent), the protocols and, if the
app is to be told of its consents' changes, its webhook address. Every
problem is shown at once, next to its field; nothing is written until there is none. "Add another
purpose" posts the form back with one more purpose and saves nothing."""

from __future__ import annotations

from typing import Any

import structlog
from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from consent.apps import PROFILES, register_app, registration_problems
from consent.webhook_urls import set_webhook_url
from core.clock import utcnow
from core.errors import Conflict

from ..extensions import db, runtime
from ..security import admin_required
from .app_form import Problems, document_from, live_key_problems, place
from .display import catalogue_choices
from .schemas import MAX_PURPOSES, AppForm, form_payload
from .views import FLASH, _audit, bp
from .webhook_views import webhook_problem

log = structlog.get_logger(__name__)
EMPTY_PURPOSE = {"id": "", "description": "", "required": [], "optional": []}
BLANK: dict[str, Any] = {
    "client_id": "", "name": "", "agency": "", "redirect_uris": "", "keys": "jwks", "jwks": "",
    "jwks_uri": "", "webhook_url": "", "profiles": ["myinfo-v4"], "purposes": [EMPTY_PURPOSE],
}  # fmt: skip


# "-" can never be a client id (3 characters at least), so no app's pages can collide with this one.
@bp.route("/-/new", methods=["GET", "POST"])
@admin_required
def register():
    if request.method == "GET":
        return _form_page(BLANK, Problems())
    try:
        form = AppForm().load(form_payload(request.form))
    except ValidationError as exc:
        return _refused_shape(exc)
    form["purposes"] = form["purposes"] or [EMPTY_PURPOSE]
    if form["action"] == "add-purpose":
        if len(form["purposes"]) < MAX_PURPOSES:
            form["purposes"].append(EMPTY_PURPOSE)
        return _form_page(form, Problems())
    found = Problems()
    catalogue = runtime().catalogue
    document = document_from(form, catalogue, found)
    place(registration_problems(document, catalogue), document, found)
    if form["keys"] == "jwks_uri" and document["jwks_uri"] and "jwks_uri" not in found.by_field:
        for problem in live_key_problems(document["jwks_uri"], document["profiles"] or list(PROFILES[:1])):
            found.add("jwks_uri", problem)
    webhook = form["webhook_url"].strip()
    if webhook and (problem := webhook_problem(webhook)):
        found.add("webhook_url", problem)
    if found:
        return _form_page(form, found, 400)
    store = db()
    try:
        app = register_app(store, document=document, catalogue=catalogue, now=utcnow())
    except Conflict:
        store.rollback()
        found.add("client_id", "an app with this client id is registered already: choose another")
        return _form_page(form, found, 409)
    _audit(app.client_id, "registered")
    if webhook:  # audited on its own, as `consentry apps webhook` and the app's webhook page do
        loopback = runtime().config.loopback_webhooks
        set_webhook_url(
            store, client_id=app.client_id, url=webhook, now=utcnow(), allow_loopback_http=loopback
        )
        _audit(app.client_id, "webhook_set")
    store.commit()
    log.info("admin_app_saved", client_id=app.client_id, action="registered", via="form")
    flash(f"{app.name} is registered", FLASH)
    return redirect(url_for(".detail", client_id=app.client_id), 303)


def _refused_shape(exc: ValidationError):
    """A post the form cannot have sent (a field it lacks, a value no control offers, an
    overlong value): every problem named on the form, filled in again where it can be."""
    found = Problems()
    place(exc.messages, {}, found)  # type: ignore[arg-type]
    typed = {k: v[:500] for k, v in request.form.items() if isinstance(BLANK.get(k), str)}
    return _form_page({**BLANK, **typed}, found, 400)


def _form_page(form: dict[str, Any], found: Problems, status: int = 200):
    page = render_template(
        "admin/app_form.html",
        form=form,
        errors=found.by_field,
        summary=found.summary(),
        targets=found.targets(),
        choices=catalogue_choices(runtime().catalogue),
        profiles=PROFILES,
        max_purposes=MAX_PURPOSES,
        loopback=runtime().config.loopback_webhooks,
    )
    return page, status
