"""The auditors' queue of citizens' "This wasn't me" reports (audit/disclosure_reports.py): each
report with the audit entry it is about (a link to the entry's page), its state and the citizen's
note; an auditor moves a report between open, investigating and closed, giving a reason.

Reading the queue appends `auditor_search` (page "citizen_reports"), and a move appends
`disclosure_report_updated` with the state and reason, in the move's transaction, as every
auditor page does (app/auditor/views.py). The note is shown to auditors, never logged.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select

from audit.disclosure_reports import REASON_MAX, STATES, get_report, move_report, reports_queue
from audit.log import Event
from audit.models import AuditEntry
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed

from ..auditing import record
from ..extensions import db
from ..operator.schemas import FormSchema
from ..security import auditor_required
from .views import _audit, bp

PAGE = 25


class QueueQuery(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(validate=validate.OneOf(STATES))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


class MoveForm(FormSchema):
    state = fields.String(
        required=True,
        validate=validate.OneOf(STATES, error="Choose a state"),
        error_messages={"required": "Choose a state"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=REASON_MAX, error=f"Give a reason, up to {REASON_MAX} characters"
        ),
        error_messages={"required": "Give a reason"},
    )


@bp.get("/citizen-reports")
@auditor_required
def disclosure_reports():
    store = db(write=True)
    try:
        args = QueueQuery().load(request.args.to_dict())
        rows, next_cursor = reports_queue(
            store, state=args.get("state"), cursor=args.get("cursor"), limit=PAGE
        )
    except (ValidationError, ValidationFailed):
        return render_template(
            "auditor/citizen_reports.html", rows=[], bad=True, state=None, states=STATES
        ), 400
    entries = {
        e.seq: e for e in store.scalars(select(AuditEntry).where(AuditEntry.seq.in_([r.seq for r in rows])))
    }
    _audit("auditor_search", page="citizen_reports", state=args.get("state"), results=len(rows))
    next_url = (
        url_for(".disclosure_reports", state=args.get("state"), cursor=next_cursor) if next_cursor else None
    )
    return render_template(
        "auditor/citizen_reports.html",
        rows=rows,
        entries=entries,
        state=args.get("state"),
        states=STATES,
        next_url=next_url,
        bad=False,
    )


@bp.post("/citizen-reports/<uuid:report_id>")
@auditor_required
def move_disclosure_report(report_id):
    store, now = db(write=True), utcnow()
    report = get_report(store, str(report_id))
    try:
        form = MoveForm().load(request.form)
    except ValidationError as exc:
        flash(" ".join(str(m[0]) for m in exc.messages.values()), "error")  # type: ignore[union-attr]
        return redirect(url_for(".disclosure_reports"), 303)
    try:
        move_report(store, report_id=report.id, state=form["state"], now=now)
    except Conflict:
        flash(f"Report on entry {report.seq} is already {form['state']}.", "info")
        return redirect(url_for(".disclosure_reports"), 303)
    details = {
        "report_id": report.id,
        "seq": report.seq,
        "state": form["state"],
        "reason": form["reason"],
        "auditor": g.auditor.username,
        "actor": g.actor,
    }
    record(store, Event(kind="disclosure_report_updated", outcome=form["state"], details=details))
    store.commit()
    flash(f"Report on entry {report.seq} is now {form['state']}.", "success")
    return redirect(url_for(".disclosure_reports"), 303)
