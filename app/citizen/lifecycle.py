"""The citizen's consent lifecycle pages (pause, resume, stop sharing one optional item) and
"This wasn't me" on a row of "Who has my data" (docs/portal.md).

Each action is a GET confirmation page and a POST (CSRF) that changes the consent or files the
report and appends its audit entry in one transaction (`consent_paused`, `consent_resumed`,
`consent_narrowed`: attribute names only; `disclosure_reported`: the entry's seq, never the note),
then commits once and redirects. Another citizen's consent or entry is a 404.
"""

from __future__ import annotations

import json

import structlog
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from audit.disclosure_reports import NOTE_MAX, DisclosureReport, file_report, reportable_entry
from audit.log import Event
from consent.apps import find_purpose
from consent.lifecycle import droppable, narrow, own_consent, pause, resume, state
from consent.token_grants import access_ends
from core.clock import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from profile_store.citizens import get_citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import citizen_required
from ..notices.events import notify_app
from .lifecycle_schemas import NarrowForm, ReportForm
from .portal import consent_record, labelled
from .views import _action_form, bp

log = structlog.get_logger(__name__)


def _record_or_404(consent_id: str):
    found = consent_record(
        db(), runtime().catalogue, citizen_id=g.citizen_id, consent_id=consent_id, now=utcnow()
    )
    if found is None:
        raise NotFound("You have no consent with this reference.")
    return found


@bp.route("/consents/<uuid:consent_id>/pause", methods=["GET", "POST"])
@citizen_required
def pause_consent(consent_id):
    return _toggle(str(consent_id), pause, "consent_paused", "citizen/pause.html")


@bp.route("/consents/<uuid:consent_id>/resume", methods=["GET", "POST"])
@citizen_required
def resume_consent(consent_id):
    return _toggle(str(consent_id), resume, "consent_resumed", "citizen/resume.html")


def _toggle(consent_id: str, change, kind: str, template: str):
    shown = _record_or_404(consent_id)
    if request.method == "GET":
        return render_template(template, record=shown)
    _action_form()
    store, now = db(), utcnow()
    consent = own_consent(store, citizen_id=g.citizen_id, consent_id=consent_id)
    try:
        changed = change(store, consent, now=now)
    except Conflict:
        changed = None
    if changed:
        _audit(consent, kind, consent.approved)
    store.commit()
    flash_kind = {True: kind, False: kind + "_already", None: "ended"}[changed]
    flash(flash_kind, "lifecycle")
    return redirect(url_for(".consents"), 303)


@bp.route("/consents/<uuid:consent_id>/narrow", methods=["GET", "POST"])
@citizen_required
def narrow_consent(consent_id):
    shown = _record_or_404(str(consent_id))
    store, now = db(), utcnow()
    consent = own_consent(store, citizen_id=g.citizen_id, consent_id=shown.id)
    purpose = find_purpose(store, consent.client_id, consent.purpose_id)
    if purpose is None:
        raise NotFound("You have no consent with this reference.")
    catalogue = runtime().catalogue
    options = labelled(catalogue, droppable(consent, purpose), parts=consent.approved_parts)
    required = labelled(catalogue, [a for a in consent.approved if a in purpose.required_attributes])
    page = {"record": shown, "options": options, "required": required}
    if request.method == "GET":
        return render_template("citizen/narrow.html", errors={}, **page)
    try:
        form = NarrowForm().load(request.form)
        dropped = narrow(store, consent, purpose, drop=[form["drop"]], now=now)
    except ValidationError as exc:
        return render_template("citizen/narrow.html", errors=exc.messages, **page), 400
    except ValidationFailed:
        return render_template(
            "citizen/narrow.html", errors={"drop": [_("Choose one of the items listed")]}, **page
        ), 400
    except Conflict:
        flash("ended", "lifecycle")
        return redirect(url_for(".consents"), 303)
    _audit(consent, "consent_narrowed", dropped)
    store.commit()
    flash("consent_narrowed", "lifecycle")
    return redirect(url_for(".consents"), 303)


def _audit(consent, kind: str, attributes) -> None:
    """The change's audit entry and the app's event, in the change's transaction."""
    notify_app(db(), consent, state=kind.removeprefix("consent_"), now=utcnow())
    citizen = get_citizen(db(), g.citizen_id)
    record(
        db(),
        Event(
            kind=kind,
            citizen_ref=citizen.uinfin_digest,
            app_id=consent.client_id,
            purpose=consent.purpose_id,
            outcome=kind.removeprefix("consent_"),
            attributes=tuple(attributes),
            details={"consent_id": consent.id, "by": "citizen"},
        ),
    )
    log.info(kind, citizen_id=g.citizen_id, consent_id=consent.id)


@bp.route("/history/<int:seq>/not-me", methods=["GET", "POST"])
@citizen_required
def not_me(seq: int):
    """The history row's "This wasn't me" button lands here: a confirmation page with a note."""
    store = db()
    citizen = get_citizen(store, g.citizen_id)
    reportable_entry(store, seq=seq, citizen_ref=citizen.uinfin_digest)
    if request.method == "POST":
        _action_form()
    return render_template("citizen/not_me.html", seq=seq, errors={}, note="", note_max=NOTE_MAX)


@bp.post("/history/<int:seq>/report")
@citizen_required
def report_entry(seq: int):
    store, now = db(), utcnow()
    citizen = get_citizen(store, g.citizen_id)
    entry = reportable_entry(store, seq=seq, citizen_ref=citizen.uinfin_digest)
    try:
        form = ReportForm().load(request.form)
    except ValidationError as exc:
        note = str(request.form.get("note", ""))[: NOTE_MAX * 2]
        page = render_template(
            "citizen/not_me.html", seq=seq, errors=exc.messages, note=note, note_max=NOTE_MAX
        )
        return page, 400
    report = file_report(
        store, citizen_id=citizen.id, citizen_ref=citizen.uinfin_digest, seq=seq, note=form["note"], now=now
    )
    details = {"seq": seq, "report_id": report.id, "entry_kind": entry.kind}
    record(
        store,
        Event(
            kind="disclosure_reported",
            citizen_ref=citizen.uinfin_digest,
            app_id=entry.app_id,
            outcome="open",
            details=details,
        ),
    )
    store.commit()
    log.info("disclosure_reported", citizen_id=citizen.id, seq=seq)
    return redirect(url_for(".filed_report", report_id=report.id), 303)


@bp.get("/reports/<uuid:report_id>")
@citizen_required
def filed_report(report_id):
    store, now = db(), utcnow()
    report = store.get(DisclosureReport, str(report_id))
    if report is None or report.citizen_id != g.citizen_id:
        raise NotFound("You have no report with this reference.")
    entry = reportable_entry(
        store, seq=report.seq, citizen_ref=get_citizen(store, g.citizen_id).uinfin_digest
    )
    consent_id = _consent_behind(entry)
    behind = (
        consent_record(store, runtime().catalogue, citizen_id=g.citizen_id, consent_id=consent_id, now=now)
        if consent_id
        else None
    )
    # A used "this request only" consent still lets the app in until its token expires.
    ends = access_ends(store, consent_id=behind.id, now=now) if behind else None
    return render_template(
        "citizen/reported.html", report=report, consent=behind, access_ends=ends, state=state
    )


def _consent_behind(entry) -> str | None:
    details = json.loads(entry.body).get("details") or {}
    consent_id = details.get("consent_id")
    return consent_id if isinstance(consent_id, str) and len(consent_id) <= 36 else None
