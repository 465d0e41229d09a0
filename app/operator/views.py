"""The operator pages: find a citizen by national id, saying why; see their aggregated profile with
its provenance and each agency's sync status, every value masked until the operator reveals it;
refresh it from the agencies. Open to staff with the operator role (app/security.py).

Looking at a citizen is a disclosure. The lookup appends `staff_lookup` (the citizen's digest, the
operator as actor, the reason) and commits it before the profile can be shown: the browser then
holds a grant for that citizen in its signed session, and the profile page refuses without one.
Each value revealed in full appends `staff_reveal` first. Both show in the citizen's "Who has my
data". The national id never appears in a URL: the lookup is a POST and redirects to the
citizen's pseudonymous id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from marshmallow import Schema, ValidationError

from agency_connectors.refresh import refresh_citizen
from audit.log import Event
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from profile_store.assembly import agency_status, load_fields
from profile_store.citizens import find_citizen_by_uinfin, get_citizen
from profile_store.models import Citizen

from ..auditing import record, refresh_event
from ..extensions import db, runtime
from ..profile_display import profile_page
from ..security import operator_required, public
from ..staff.schemas import REASONS, LookupWithReasonForm, RevealForm, reason_words
from .schemas import ActionForm

bp = Blueprint("operator", __name__, url_prefix="/operator", template_folder="templates")
log = structlog.get_logger(__name__)

NO_SUCH_CITIZEN = "No citizen with this NRIC or FIN is known to Consentry"
SAY_WHY = "Say why you are looking at this record first"
GRANTS = "staff_lookups"  # in the signed session: {citizen_id: {"at": epoch seconds, "revealed": [...]}}
GRANT_FOR = dt.timedelta(minutes=30)
MAX_GRANTS = 10


@bp.get("/login")
@public
def login():
    """The old operator sign-in address: staff sign in on one page now."""
    return redirect(url_for("staff.sign_in"), 301)


@bp.get("/")
@operator_required
def search():
    return _search_page({}, {}, status=200)


@bp.post("/lookup")
@operator_required
def lookup():
    try:
        form = LookupWithReasonForm().load(request.form)
    except ValidationError as exc:
        return _search_page(exc.messages, request.form)  # type: ignore[arg-type]
    store = db()
    citizen = find_citizen_by_uinfin(store, vault=runtime().vault, uinfin=form["uinfin"])
    if citizen is None:
        return _search_page({"uinfin": [NO_SUCH_CITIZEN]}, form, status=404)
    reason = reason_words(form["reason"], form["reason_text"])
    details = {"actor": g.actor, "staff": g.staff.username, "reason": reason}
    record(
        store,
        Event(kind="staff_lookup", citizen_ref=citizen.uinfin_digest, outcome="viewed", details=details),
    )
    store.commit()  # no entry, no page: the grant exists only once the entry has committed
    _grant(citizen.id)
    log.info("operator_looked_up", citizen_id=citizen.id, staff_id=g.staff.id, reason=form["reason"])
    return redirect(url_for(".profile", citizen_id=citizen.id), 303)


@bp.get("/citizens/<citizen_id>")
@operator_required
def profile(citizen_id: str):
    if (grant := _granted(citizen_id)) is None:
        flash(SAY_WHY, "info")
        return redirect(url_for(".search"))
    rt, store = runtime(), db()
    citizen = get_citizen(store, citizen_id)
    fields = load_fields(store, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen)
    revealed = frozenset(grant["revealed"])
    page = profile_page(
        rt.catalogue, fields, agency_status(store, citizen.id), now=utcnow(), revealed=revealed
    )
    return render_template("operator/profile.html", citizen=citizen, page=page)


@bp.post("/citizens/<citizen_id>/reveal")
@operator_required
def reveal(citizen_id: str):
    form = _load(RevealForm())
    citizen = _granted_citizen(citizen_id)
    if form["attribute"] not in runtime().catalogue:
        raise ValidationFailed("The form was not valid.", {"attribute": ["not an item of a profile"]})
    details = {"actor": g.actor, "staff": g.staff.username}
    event = Event(
        kind="staff_reveal",
        citizen_ref=citizen.uinfin_digest,
        outcome="revealed",
        attributes=(form["attribute"],),
        details=details,
    )
    record(db(), event)
    db().commit()  # before the value is shown in full
    _grant(citizen.id, reveal=form["attribute"])
    return redirect(url_for(".profile", citizen_id=citizen.id, _anchor=f"field-{form['attribute']}"), 303)


@bp.post("/citizens/<citizen_id>/refresh")
@operator_required
def refresh(citizen_id: str):
    _load(ActionForm())
    rt, store = runtime(), db()
    citizen = _granted_citizen(citizen_id)
    result = refresh_citizen(
        store, registry=rt.connectors, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, now=utcnow()
    )
    event = refresh_event(citizen, result)
    record(store, dataclasses.replace(event, details={**(event.details or {}), "actor": g.actor}))
    store.commit()
    agencies = rt.catalogue.agencies
    failed = {(agencies[code].name if code in agencies else code): why for code, why in result.failed.items()}
    log.info("operator_refreshed", citizen_id=citizen.id, failed=sorted(result.failed))
    flash({"asked": len(result.outcomes), "failed": failed}, "refresh")
    return redirect(url_for(".profile", citizen_id=citizen.id), 303)


def _search_page(errors: dict, entered: Any, *, status: int = 400):
    shown = {name: str(entered.get(name, ""))[:200] for name in ("uinfin", "reason", "reason_text")}
    page = render_template("operator/search.html", errors=errors, shown=shown, reasons=REASONS)
    return page, status


def _grant(citizen_id: str, *, reveal: str | None = None) -> None:
    """Remember in the signed session that this browser's operator may see `citizen_id` (after the
    lookup's audit entry committed), and which values they revealed; the oldest grants drop off."""
    grants: dict[str, Any] = dict(session.get(GRANTS) or {})
    grant = grants.pop(citizen_id, None)
    if grant is None or reveal is None:
        grant = {"at": int(utcnow().timestamp()), "revealed": []}
    if reveal is not None and reveal not in grant["revealed"]:
        grant = {**grant, "revealed": [*grant["revealed"], reveal]}
    grants[citizen_id] = grant
    session[GRANTS] = dict(list(grants.items())[-MAX_GRANTS:])


def _granted(citizen_id: str) -> dict[str, Any] | None:
    grant = (session.get(GRANTS) or {}).get(citizen_id)
    if grant is None:
        return None
    issued = dt.datetime.fromtimestamp(grant["at"], dt.UTC)
    return grant if utcnow() - issued < GRANT_FOR else None


def _granted_citizen(citizen_id: str) -> Citizen:
    """The citizen this browser's operator looked up (with a reason, audited) in the last
    GRANT_FOR; anyone else is refused as unknown."""
    if _granted(citizen_id) is None:
        raise NotFound(SAY_WHY)
    return get_citizen(db(), citizen_id)


def _load(schema: Schema) -> dict:
    """Parse the posted form; a malformed post is the caller's mistake (400), never a 500."""
    try:
        return schema.load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
