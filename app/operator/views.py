"""The operator pages: sign in, find a citizen by national id, see their aggregated profile with
its provenance and each agency's sync status, and refresh it from the agencies.

The national id never appears in a URL: the lookup is a POST and redirects to the citizen's
pseudonymous id.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError

from agency_connectors.refresh import refresh_citizen
from core.clock import utcnow
from core.errors import ValidationFailed
from profile_store.assembly import agency_status, load_fields
from profile_store.citizens import find_citizen_by_uinfin, get_citizen

from ..auditing import record, refresh_event
from ..extensions import db, runtime
from ..profile_display import profile_page
from ..rate_limit import limit_sign_in_by_address
from ..security import (
    end_web_session,
    operator_required,
    operator_subject,
    public,
    same_secret,
    signed_in_as,
    start_web_session,
)
from .schemas import ActionForm, LoginForm, LookupForm

bp = Blueprint("operator", __name__, url_prefix="/operator", template_folder="templates")
log = structlog.get_logger(__name__)

NO_SUCH_CITIZEN = "No citizen with this NRIC or FIN is known to Consentry"
WRONG_PASSWORD = "The password is not correct"  # noqa: S105 - a message, not a secret


@bp.app_context_processor
def _operator_context() -> dict[str, bool]:
    return {"operator_signed_in": signed_in_as("operator") is not None}


@bp.route("/login", methods=["GET", "POST"])
@public
@limit_sign_in_by_address("operator_login")
def login():
    if request.method == "GET":
        if signed_in_as("operator") is not None:
            return redirect(url_for(".search"))
        return render_template("operator/login.html", errors={})
    try:
        form = LoginForm().load(request.form)
    except ValidationError as exc:
        return render_template("operator/login.html", errors=exc.messages), 400
    config = runtime().config
    if not same_secret(form["password"], config.operator_password):
        log.info("operator_sign_in_failed")
        return render_template("operator/login.html", errors={"password": [WRONG_PASSWORD]}), 400
    # A new server-side session; the browser's previous one, of any role, is revoked (fixation).
    start_web_session("operator", operator_subject(config), now=utcnow())
    log.info("operator_signed_in")
    return redirect(url_for(".search"), 303)


@bp.post("/logout")
@public
def logout():
    _load(ActionForm())
    end_web_session()
    flash("You have signed out.", "info")
    return redirect(url_for(".login"), 303)


@bp.get("/")
@operator_required
def search():
    return render_template("operator/search.html", errors={}, uinfin="")


@bp.post("/lookup")
@operator_required
def lookup():
    try:
        form = LookupForm().load(request.form)
    except ValidationError as exc:
        entered = request.form.get("uinfin", "")
        return render_template("operator/search.html", errors=exc.messages, uinfin=entered), 400
    citizen = find_citizen_by_uinfin(db(), vault=runtime().vault, uinfin=form["uinfin"])
    if citizen is None:
        errors = {"uinfin": [NO_SUCH_CITIZEN]}
        return render_template("operator/search.html", errors=errors, uinfin=form["uinfin"]), 404
    return redirect(url_for(".profile", citizen_id=citizen.id), 303)


@bp.get("/citizens/<citizen_id>")
@operator_required
def profile(citizen_id: str):
    rt, store = runtime(), db()
    citizen = get_citizen(store, citizen_id)
    fields = load_fields(store, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen)
    page = profile_page(rt.catalogue, fields, agency_status(store, citizen.id), now=utcnow())
    return render_template("operator/profile.html", citizen=citizen, page=page)


@bp.post("/citizens/<citizen_id>/refresh")
@operator_required
def refresh(citizen_id: str):
    _load(ActionForm())
    rt, store = runtime(), db()
    citizen = get_citizen(store, citizen_id)
    result = refresh_citizen(
        store, registry=rt.connectors, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, now=utcnow()
    )
    record(store, refresh_event(citizen, result))
    store.commit()
    agencies = rt.catalogue.agencies
    failed = {(agencies[code].name if code in agencies else code): why for code, why in result.failed.items()}
    log.info("operator_refreshed", citizen_id=citizen.id, failed=sorted(result.failed))
    flash({"asked": len(result.outcomes), "failed": failed}, "refresh")
    return redirect(url_for(".profile", citizen_id=citizen.id), 303)


def _load(schema: Schema) -> dict:
    """Parse the posted form; a malformed post is the caller's mistake (400), never a 500."""
    try:
        return schema.load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
