"""Activation pages: a citizen opens their account with the letter an agency sent them.

    /citizen/activate                 national id + activation code (limited per address and id)
    /citizen/activate/password        choose a password (strength checked)
    /citizen/activate/authenticator   scan the QR code (or type the secret), confirm one code;
                                      the account exists from here, and the answer shows the ten
                                      recovery codes once
    /citizen/activate/done            "I have saved my recovery codes": signed in

Between the pages the browser holds only a random token (in the signed session cookie) naming the
enrolment in progress (identity/enrolment.py); who the citizen is never travels in the form. Each
step is audited with the citizen as the keyed digest, never a code or password. Shared helpers
(the code key, the QR, audit) serve the recovery pages too (app/citizen/recovery.py).
"""

from __future__ import annotations

import hashlib
import hmac

import segno
import structlog
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from audit.log import Event
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from identity import enrolment
from identity.activation import ActivationRefused, choose_password, finish_activation, start_activation
from identity.activation_models import EnrolmentInProgress
from profile_store.citizens import reveal_uinfin
from profile_store.models import Citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import start_citizen_session
from ..rate_limit import check, check_sign_in_address
from ..security import public
from .activation_schemas import ActivateForm, CodeForm, PasswordForm
from .views import _action_form, bp

log = structlog.get_logger(__name__)
PROGRESS_KEY = "enrolment"  # the token of the enrolment in progress
SCOPE = "citizen_activate"
ENDED = _l("Your activation has ended or was never started. Enter the code from your letter again.")


def code_key() -> bytes:
    """The server key activation and recovery codes are hashed under (derived from LOOKUP_KEY)."""
    return hmac.new(runtime().config.lookup_key.encode(), b"consentry citizen codes", hashlib.sha256).digest()


def audit(store, kind: str, citizen_id: str | None, *, outcome: str | None = None, **details) -> None:
    citizen = store.get(Citizen, citizen_id) if citizen_id else None
    ref = citizen.uinfin_digest if citizen is not None else None
    record(store, Event(kind=kind, citizen_ref=ref, outcome=outcome, details=details or None))


def progress_for(store, purpose: str) -> EnrolmentInProgress | None:
    return enrolment.find(store, token=session.get(PROGRESS_KEY), purpose=purpose, now=utcnow())


def count_attempt(scope: str, uinfin: str) -> None:
    """Each attempt on a national id counts before anything is checked: 429 past the limit."""
    config = runtime().config
    check(
        f"{scope}:account", uinfin, limit=config.sign_in_account_limit, window=config.sign_in_account_window_s
    )


def authenticator_page(store, progress: EnrolmentInProgress, *, action: str, errors: dict, status: int = 200):
    """The QR code (an SVG data URI from segno, allowed by the CSP's img-src) and the secret as
    text, with the form for one code. Makes the secret on first view (the caller commits)."""
    rt = runtime()
    secret = enrolment.pending_secret(progress, rt.vault.keyring)
    uinfin = reveal_uinfin(rt.vault, store.get(Citizen, progress.citizen_id))
    qr = segno.make(enrolment.provisioning_uri(secret, uinfin), error="m")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = render_template(
        "citizen/authenticator.html",
        qr=qr.svg_data_uri(scale=5, border=4),
        secret=grouped,
        action=action,
        errors=errors,
        recovering=progress.purpose == "recover",
    )
    return page, status


def ended(endpoint: str):
    flash(str(ENDED), "info")
    return redirect(url_for(endpoint), 303)


@bp.route("/activate", methods=["GET", "POST"])
@public
def activate():
    if request.method == "GET":
        return render_template("citizen/activate.html", errors={}, uinfin="")
    check_sign_in_address(SCOPE)
    try:
        form = ActivateForm().load(request.form)
    except ValidationError as exc:
        return render_template("citizen/activate.html", errors=exc.messages, uinfin=_entered()), 400
    count_attempt(SCOPE, form["uinfin"])
    store, now = db(write=True), utcnow()
    try:
        token, citizen_id = start_activation(
            store, vault=runtime().vault, key=code_key(), uinfin=form["uinfin"], code=form["code"], now=now
        )
    except ActivationRefused as exc:
        outcome = "letter_locked" if exc.locked else "refused"
        audit(store, "citizen_activation_refused", exc.citizen_id, outcome=outcome)
        store.commit()  # the wrong try stays counted against the letter
        return render_template(
            "citizen/activate.html", errors={"code": [exc.message]}, uinfin=form["uinfin"]
        ), 400
    audit(store, "citizen_activation_started", citizen_id, outcome="code_accepted")
    store.commit()
    session[PROGRESS_KEY] = token
    log.info("citizen_activation_started", citizen_id=citizen_id)
    return redirect(url_for(".activate_password"), 303)


def _entered() -> str:
    value = request.form.get("uinfin", "")
    return value[:20] if isinstance(value, str) else ""


@bp.route("/activate/password", methods=["GET", "POST"])
@public
def activate_password():
    store = db(write=True)
    progress = progress_for(store, "activate")
    if progress is None or progress.finished_at is not None:
        return ended(".activate")
    if request.method == "GET":
        return render_template("citizen/activate_password.html", errors={})
    try:
        form = PasswordForm().load(request.form)
        uinfin = reveal_uinfin(runtime().vault, store.get(Citizen, progress.citizen_id))
        choose_password(
            store, progress=progress, uinfin=uinfin, password=form["password"], confirm=form["confirm"]
        )
    except ValidationError as exc:
        return render_template("citizen/activate_password.html", errors=exc.messages), 400
    except ValidationFailed as exc:
        return render_template("citizen/activate_password.html", errors=exc.errors), 400
    audit(store, "citizen_password_chosen", progress.citizen_id, outcome="password_chosen")
    store.commit()
    return redirect(url_for(".activate_authenticator"), 303)


@bp.route("/activate/authenticator", methods=["GET", "POST"])
@public
def activate_authenticator():
    store, now = db(write=True), utcnow()
    progress = progress_for(store, "activate")
    if progress is None:
        return ended(".activate")
    if progress.finished_at is not None:  # a reload or a second submit: the codes were shown once
        return render_template("citizen/activated_already.html"), 409 if request.method == "POST" else 200
    if progress.password_hash is None:
        return redirect(url_for(".activate_password"), 303)
    action = url_for(".activate_authenticator")
    if request.method == "GET":
        page = authenticator_page(store, progress, action=action, errors={})
        store.commit()  # the secret made for this page
        return page
    try:
        form = CodeForm().load(request.form)
        codes = finish_activation(
            store,
            progress=progress,
            keyring=runtime().vault.keyring,
            key=code_key(),
            totp_code=form["code"],
            now=now,
        )
    except ValidationError as exc:
        return authenticator_page(store, progress, action=action, errors=exc.messages, status=400)
    except ValidationFailed as exc:
        return authenticator_page(store, progress, action=action, errors=exc.errors, status=400)
    except Conflict as exc:
        store.rollback()
        return render_template("citizen/activated_already.html", message=exc.message), 409
    audit(store, "citizen_activated", progress.citizen_id, outcome="activated")
    store.commit()
    log.info("citizen_activated", citizen_id=progress.citizen_id)
    return render_template("citizen/recovery_codes.html", codes=codes)


@bp.post("/activate/done")
@public
def activate_done():
    _action_form()
    store = db(write=True)
    progress = progress_for(store, "activate")
    if progress is None or progress.finished_at is None:
        return redirect(url_for(".sign_in"), 303)
    citizen_id = progress.citizen_id
    enrolment.discard(store, progress)
    store.commit()
    start_citizen_session(citizen_id, now=utcnow())
    flash(_("Your account is ready. You are signed in."), "success")
    return redirect(url_for(".landing"), 303)
