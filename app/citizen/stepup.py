"""'Show' the citizen's own national id in full, behind a step-up (docs/portal.md).

    POST /citizen/profile/national-id           (CSRF) show it, or ask for a code first
    POST /citizen/profile/national-id/confirm   (CSRF) the authenticator code, then show it
    GET  /citizen/profile/national-id           back to the profile, partly hidden

The profile page shows the national id partly hidden (shoulder-surfing). 'Show' posts, so neither a
link nor a prefetch reveals anything, and its answer is "My profile" itself with that row in full
and "Hide" by it (Cache-Control: no-store): loading the profile again, or this address by GET,
shows it partly hidden; only a new POST (checked and audited again) shows it again. When the
session's last authentication (sign-in, or a step-up since) is older than STEP_UP_AFTER, a page
asks for a fresh authenticator code first: an unattended signed-in browser does not give the id
away. Codes follow sign-in's rules (each code once; identity/step_up.py) and its limits per
citizen, so the page is no guessing oracle. Every reveal appends `citizen_reveal` (the attribute
name, never the value) in the transaction that also records the step-up, before the page is built.
"""

from __future__ import annotations

import datetime as dt

import structlog
from flask import g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from audit.log import Event
from core.clock import utcnow
from core.errors import Unauthorized
from identity.step_up import confirm_code
from identity.web_sessions import needs_step_up
from profile_store.citizens import get_citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import citizen_required
from ..rate_limit import check, reset
from ..security import SESSION_ENDED, adopt_rotated_session, signed_in_as
from .correction_schemas import StepUpForm
from .views import _action_form, bp, render_profile

log = structlog.get_logger(__name__)
STEP_UP_AFTER = dt.timedelta(minutes=5)
SCOPE = "citizen_step_up"


@bp.get("/profile/national-id")
@citizen_required
def national_id_again():
    """The address the revealed profile shows, loaded again (a bookmark, Enter in the address bar):
    the profile, partly hidden."""
    return redirect(url_for(".profile", _anchor="field-uinfin"), 303)


@bp.post("/profile/national-id")
@citizen_required
def show_national_id():
    _action_form()
    row = signed_in_as("citizen")
    if row is None or needs_step_up(row, now=utcnow(), max_age=STEP_UP_AFTER):
        return render_template("citizen/stepup_code.html", error=None)
    _audit_reveal(stepped_up=False)
    return _revealed_profile()


@bp.post("/profile/national-id/confirm")
@citizen_required
def confirm_national_id():
    config = runtime().config
    window = config.sign_in_account_window_s
    check(f"{SCOPE}:account", g.citizen_id, limit=config.sign_in_account_limit, window=window)
    try:
        code = StepUpForm().load(request.form)["code"]
    except ValidationError:
        code = ""
    if not code:
        return render_template("citizen/stepup_code.html", error="format"), 400
    row = signed_in_as("citizen")
    if row is None:
        raise Unauthorized(SESSION_ENDED)
    store = db(write=True)
    try:
        token = confirm_code(
            store, keyring=runtime().vault.keyring, citizen_id=g.citizen_id, web_session_id=row.id,
            code=code, now=utcnow(),
        )  # fmt: skip
    except Unauthorized:
        store.rollback()
        log.info("citizen_step_up_failed", citizen_id=g.citizen_id)
        return render_template("citizen/stepup_code.html", error="wrong"), 400
    _audit_reveal(stepped_up=True)  # commits the rotation with the audit entry
    adopt_rotated_session(token)
    # After the commit, before the page's reads: the limiter counts in a transaction of its own
    # (SQLite has one writer, and a reader's open transaction would hold it off).
    reset(f"{SCOPE}:account", g.citizen_id, window=window)
    return _revealed_profile()


def _revealed_profile():
    """ "My profile" with the national id in full, never stored by the browser or a proxy."""
    return render_profile(revealed=frozenset({"uinfin"})), 200, {"Cache-Control": "no-store"}


def _audit_reveal(*, stepped_up: bool) -> None:
    """Audit the look and commit it (with the step-up, if any), before any page shows the value."""
    store = db(write=True)
    citizen = get_citizen(store, g.citizen_id)
    details = {"by": "citizen", "step_up": stepped_up}
    event = Event(
        kind="citizen_reveal", citizen_ref=citizen.uinfin_digest, attributes=("uinfin",), details=details
    )
    record(store, event)
    store.commit()
    log.info("citizen_revealed_national_id", citizen_id=citizen.id, step_up=stepped_up)
