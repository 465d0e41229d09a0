"""'Report a mistake': on a government-verified value of their profile, the citizen says what is
wrong and what is right (and may add a note); the request goes to the agency that holds the value,
which answers through the agency API (app/agency_api/corrections.py). See docs/portal.md.

    GET  /citizen/profile/<attribute>/wrong    the form (with a fresh submission token)
    POST /citizen/profile/<attribute>/wrong    (CSRF) file it; the same form twice files it once
    GET  /citizen/corrections                  every request, with its status
    GET  /citizen/corrections/<id>             one request: what was sent, the agency's answer
    GET  /citizen/corrections/<id>/withdraw    a confirmation page (while the agency has not answered)
    POST /citizen/corrections/<id>/withdraw    (CSRF) withdraw it; twice withdraws it once

The citizen is the signed-in one: no URL names a citizen, and another citizen's request is a 404
like an unknown one. Filing and its audit entry (`correction_requested`: the item and agency,
never the text) commit together, as do withdrawing and `correction_withdrawn`; a refused form
writes nothing.
"""

from __future__ import annotations

import secrets

import structlog
from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from core.clock import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from profile_store import corrections as service
from profile_store.citizens import get_citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import citizen_required
from .correction_schemas import CorrectionForm
from .views import _action_form, bp

log = structlog.get_logger(__name__)
FLASH = "corrections"
SHOWN = 2000  # what a refused form shows again of each text, at most (more than any limit allows)


@bp.route("/profile/<attribute>/wrong", methods=["GET", "POST"])
@citizen_required
def report_mistake(attribute: str):
    rt, store = runtime(), db()
    citizen = get_citizen(store, g.citizen_id)
    if len(attribute) > 64:
        raise NotFound("You have no such item from a government agency.")
    try:
        field = service.reportable(store, citizen=citizen, attribute=attribute)
    except NotFound:
        raise NotFound("You have no such item from a government agency.") from None
    label = service.label_of(rt.catalogue, attribute)
    agency = _agency_name(field.agency)
    if request.method == "GET":
        return _form(attribute, label, agency, {}, {}, secrets.token_urlsafe(24))
    try:
        form = CorrectionForm().load(request.form)
    except ValidationError as exc:
        errors = {name: ["too_long"] for name in exc.messages if name in ("what", "correct_value", "note")}
        if "submission" in exc.messages or len(errors) < len(exc.messages):
            errors["form"] = ["bad_form"]
        return _form(attribute, label, agency, _entered(), errors, secrets.token_urlsafe(24), status=400)
    try:
        row, new = service.file_correction(
            store, vault=rt.vault, citizen=citizen, attribute=attribute, what=form["what"],
            correct_value=form["correct_value"], note=form["note"], submission=form["submission"],
            now=utcnow(),
        )  # fmt: skip
    except ValidationFailed as exc:
        store.rollback()
        return _form(attribute, label, agency, _entered(), exc.errors, form["submission"], status=400)
    if new:
        record(store, service.correction_event(citizen, row, by="citizen"))
    store.commit()
    if new:
        log.info("correction_requested", citizen_id=citizen.id, request_id=row.id, agency=row.agency)
    flash("sent" if new else "already_sent", FLASH)
    return redirect(url_for(".correction", request_id=row.id), 303)


@bp.get("/corrections")
@citizen_required
def corrections():
    rt, store = runtime(), db()
    mine = service.corrections_of(store, vault=rt.vault, citizen=get_citizen(store, g.citizen_id))
    return render_template("citizen/corrections.html", requests=mine, **_names())


def _mine(store, request_id):
    """The signed-in citizen and their correction request `request_id` (404 for anyone else's)."""
    citizen = get_citizen(store, g.citizen_id)
    try:
        mine = service.get_correction(
            store, vault=runtime().vault, citizen=citizen, request_id=str(request_id)
        )
    except NotFound:
        raise NotFound("You have no correction request with this reference.") from None
    return citizen, mine


@bp.get("/corrections/<uuid:request_id>")
@citizen_required
def correction(request_id):
    _citizen, mine = _mine(db(), request_id)
    return render_template("citizen/correction.html", item=mine, **_names())


@bp.route("/corrections/<uuid:request_id>/withdraw", methods=["GET", "POST"])
@citizen_required
def withdraw_correction(request_id):
    store = db()
    citizen, mine = _mine(store, request_id)
    if request.method == "GET":
        return render_template("citizen/correction_withdraw.html", item=mine, **_names())
    _action_form()
    try:
        row, changed = service.withdraw_correction(store, citizen=citizen, request_id=mine.id, now=utcnow())
    except Conflict:  # the agency answered first (another tab, or while the page was open)
        store.rollback()
        flash("answered", FLASH)
        return redirect(url_for(".correction", request_id=mine.id), 303)
    if changed:
        record(store, service.correction_event(citizen, row, by="citizen"))
    store.commit()
    if changed:
        log.info("correction_withdrawn", citizen_id=citizen.id, request_id=row.id, agency=row.agency)
    flash("withdrawn" if changed else "already_withdrawn", FLASH)
    return redirect(url_for(".correction", request_id=mine.id), 303)


def _form(attribute, label, agency, entered, errors, submission, *, status=200):
    page = render_template(
        "citizen/correction_form.html",
        attribute=attribute,
        label=label,
        agency=agency,
        entered=entered,
        errors=errors,
        submission=submission,
        limits={"what": service.MAX_WHAT, "correct_value": service.MAX_CORRECT, "note": service.MAX_NOTE},
    )
    return page, status


def _entered() -> dict[str, str]:
    """What the citizen typed, cut to a safe length, to show again beside the errors."""
    return {name: str(request.form.get(name, ""))[:SHOWN] for name in ("what", "correct_value", "note")}


def _agency_name(code: str) -> str:
    agency = runtime().catalogue.agencies.get(code)
    return agency.name if agency is not None else code


def _names() -> dict[str, object]:
    """The agencies' and items' names for the list and detail pages."""
    catalogue = runtime().catalogue
    return {
        "agency_names": {code: agency.name for code, agency in catalogue.agencies.items()},
        "label_of": lambda attribute: service.label_of(catalogue, attribute),
    }
