"""Lost authenticator: sign in with national id, password and one recovery code; that opens only
the page to enrol a new authenticator (an enrolment in progress, not a signed-in session), and
confirming one code from it signs the citizen in.

    /citizen/recover                 national id + password + recovery code (limited as sign-in is)
    /citizen/recover/authenticator   new QR code, confirm one code: then a normal session
"""

from __future__ import annotations

import structlog
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from identity.recovery import RecoveryRefused, finish_reenrolment, sign_in_with_recovery_code, unused_count

from ..extensions import db, runtime
from ..identity import start_citizen_session
from ..rate_limit import check_sign_in_address
from ..security import public
from .activation import PROGRESS_KEY, audit, authenticator_page, code_key, count_attempt, progress_for
from .activation_schemas import CodeForm, RecoverForm
from .views import SCOPE as SIGN_IN_SCOPE
from .views import bp

log = structlog.get_logger(__name__)
ENDED = _l("Your recovery has ended. Sign in with a recovery code again.")


@bp.route("/recover", methods=["GET", "POST"])
@public
def recover():
    if request.method == "GET":
        return render_template("citizen/recover.html", errors={}, uinfin="")
    check_sign_in_address(SIGN_IN_SCOPE)
    try:
        form = RecoverForm().load(request.form)
    except ValidationError as exc:
        entered = request.form.get("uinfin", "")
        return render_template("citizen/recover.html", errors=exc.messages, uinfin=entered[:20]), 400
    count_attempt(SIGN_IN_SCOPE, form["uinfin"])  # one budget with sign-in: no extra guesses
    store, now = db(write=True), utcnow()
    try:
        token, citizen_id = sign_in_with_recovery_code(
            store,
            vault=runtime().vault,
            key=code_key(),
            uinfin=form["uinfin"],
            password=form["password"],
            recovery_code=form["recovery_code"],
            now=now,
        )
    except RecoveryRefused as exc:
        store.rollback()
        outcome = "code_reused" if exc.reused else "refused"
        audit(store, "citizen_recovery_used", exc.citizen_id, outcome=outcome)  # a failed try, too
        store.commit()
        log.info("citizen_recovery_failed")
        errors = {"credentials": [exc.message]}
        return render_template("citizen/recover.html", errors=errors, uinfin=form["uinfin"]), 400
    audit(store, "citizen_recovery_used", citizen_id, outcome="recovery_code_used")
    store.commit()
    session[PROGRESS_KEY] = token
    log.info("citizen_recovery_used", citizen_id=citizen_id)
    return redirect(url_for(".recover_authenticator"), 303)


@bp.route("/recover/authenticator", methods=["GET", "POST"])
@public
def recover_authenticator():
    store, now = db(write=True), utcnow()
    progress = progress_for(store, "recover")
    if progress is None:
        flash(str(ENDED), "info")
        return redirect(url_for(".recover"), 303)
    action = url_for(".recover_authenticator")
    if request.method == "GET":
        page = authenticator_page(store, progress, action=action, errors={})
        store.commit()
        return page
    try:
        form = CodeForm().load(request.form)
        citizen_id = finish_reenrolment(
            store, progress=progress, keyring=runtime().vault.keyring, totp_code=form["code"], now=now
        )
    except ValidationError as exc:
        return authenticator_page(store, progress, action=action, errors=exc.messages, status=400)
    except ValidationFailed as exc:
        return authenticator_page(store, progress, action=action, errors=exc.errors, status=400)
    except Conflict:
        store.rollback()
        flash(str(ENDED), "info")
        return redirect(url_for(".recover"), 303)
    audit(store, "citizen_authenticator_changed", citizen_id, outcome="authenticator_changed")
    left = unused_count(store, citizen_id)
    store.commit()
    start_citizen_session(citizen_id, now=now)
    return render_template("citizen/reenrolled.html", left=left)
