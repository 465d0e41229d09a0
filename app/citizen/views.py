"""The citizen's sign-in, sign-out and signed-in landing page.

Sign-in takes the NRIC or FIN, the password and the current code from the citizen's authenticator
app. Attempts are limited per client address and per national id (app/rate_limit.py); a wrong
answer of any kind gets one message, whatever was wrong. Success starts a fresh session (no
fixation) and returns the citizen to the local `next` path they came from, if any.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from core.clock import utcnow
from core.errors import Unauthorized, ValidationFailed
from identity.accounts import authenticate

from .. import identity
from ..extensions import db, runtime
from ..identity import citizen_required, current_citizen_id, safe_next, start_citizen_session
from ..operator.schemas import ActionForm
from ..rate_limit import check, check_sign_in_address, reset
from ..security import public
from .schemas import SignInForm

bp = Blueprint("citizen", __name__, url_prefix="/citizen", template_folder="templates")
log = structlog.get_logger(__name__)

SCOPE = "citizen_sign_in"


@bp.context_processor
def _citizen_context() -> dict[str, bool]:
    return {"citizen_signed_in": current_citizen_id() is not None}


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if request.method == "GET":
        next_path = safe_next(request.args.get("next"))
        if current_citizen_id() is not None:
            return redirect(next_path or url_for(".landing"), 303)
        return _sign_in_page({}, "", next_path, status=200)
    check_sign_in_address(SCOPE)
    try:
        form = SignInForm().load(request.form)
    except ValidationError as exc:
        entered = request.form.get("uinfin", "")
        return _sign_in_page(exc.messages, entered, safe_next(request.form.get("next")))
    next_path = safe_next(form["next"])
    _count_account_attempt(form["uinfin"])
    store, now = db(write=True), utcnow()
    try:
        citizen_id = authenticate(
            store,
            vault=runtime().vault,
            uinfin=form["uinfin"],
            password=form["password"],
            totp_code=form["code"],
            now=now,
        )
    except Unauthorized as exc:
        log.info("citizen_sign_in_failed")
        return _sign_in_page({"credentials": [exc.message]}, form["uinfin"], next_path)
    store.commit()
    _clear_account_attempts(form["uinfin"])
    start_citizen_session(citizen_id, now=now)
    log.info("citizen_signed_in", citizen_id=citizen_id)
    return redirect(next_path or url_for(".landing"), 303)


def _count_account_attempt(uinfin: str) -> None:
    """Every attempt on a national id counts, before the password is checked: 429 past the limit."""
    config = runtime().config
    check(
        f"{SCOPE}:account", uinfin, limit=config.sign_in_account_limit, window=config.sign_in_account_window_s
    )


def _clear_account_attempts(uinfin: str) -> None:
    reset(f"{SCOPE}:account", uinfin, window=runtime().config.sign_in_account_window_s)


def _sign_in_page(errors: dict, uinfin: str, next_path: str | None, *, status: int = 400):
    # Never echo the password or the code.
    page = render_template("citizen/sign_in.html", errors=errors, uinfin=uinfin[:20], next_path=next_path)
    return page, status


@bp.post("/sign-out")
@public
def sign_out():
    try:
        ActionForm().load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
    identity.sign_out()
    flash("You have signed out.", "info")
    return redirect(url_for(".sign_in"), 303)


@bp.get("/")
@citizen_required
def landing():
    return render_template("citizen/landing.html")
