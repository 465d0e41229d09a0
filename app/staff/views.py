"""Staff sign-in and sign-out: one page for operators, app admins and auditors (username, password
and the 6-digit code from their authenticator app).

Attempts are limited per client address and per username (app/rate_limit.py); any wrong answer
gets one message. Every sign-in, failed sign-in and sign-out is in the audit log with the account
as actor (`staff:<id>`; a username that is no account is `unknown`), never the password or code.
While no staff account exists the page says how to add the first admin.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from audit.log import Event
from core.clock import utcnow
from core.errors import ValidationFailed
from identity.staff import StaffSignInFailed, any_staff, authenticate, staff_totp_key
from identity.staff_models import StaffMember

from ..auditing import record
from ..extensions import db, runtime
from ..identity import safe_next
from ..operator.schemas import ActionForm
from ..rate_limit import check, check_sign_in_address, reset
from ..security import current_staff, end_web_session, public, start_web_session
from .schemas import ROLE_NAMES, StaffSignInForm

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")
log = structlog.get_logger(__name__)

SCOPE = "staff_sign_in"
FIRST_ADMIN = "consentry staff add NAME --role admin"


@bp.app_context_processor
def _staff_context() -> dict[str, object]:
    member = current_staff()
    return {"staff_member": member, "staff_roles": member.role_set if member else frozenset()}


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if request.method == "GET":
        next_path = safe_next(request.args.get("next"))
        if (member := current_staff()) is not None:
            return redirect(next_path or home_for(member), 303)
        return _page({}, "", next_path, status=200)
    check_sign_in_address(SCOPE)
    try:
        form = StaffSignInForm().load(request.form)
    except ValidationError as exc:
        return _page(exc.messages, request.form.get("username", ""), safe_next(request.form.get("next")))
    next_path = safe_next(form["next"])
    config = runtime().config
    check(
        f"{SCOPE}:account",
        form["username"],
        limit=config.sign_in_account_limit,
        window=config.sign_in_account_window_s,
    )
    store, now = db(write=True), utcnow()
    try:
        member = authenticate(
            store,
            username=form["username"],
            password=form["password"],
            code=form["code"],
            now=now,
            totp_key=staff_totp_key(config.secret_key),
        )
    except StaffSignInFailed as exc:
        actor = f"staff:{exc.staff_id}" if exc.staff_id else "unknown"
        record(store, Event(kind="admin_action", outcome="staff_sign_in_failed", details={"actor": actor}))
        store.commit()
        log.info("staff_sign_in_failed")
        return _page({"credentials": [exc.message]}, form["username"], next_path)
    record(store, Event(kind="admin_action", outcome="staff_signed_in", details={"actor": member.actor}))
    store.commit()
    reset(f"{SCOPE}:account", form["username"], window=config.sign_in_account_window_s)
    start_web_session("staff", member.id, now=now)
    log.info("staff_signed_in", staff_id=member.id)
    return redirect(next_path or home_for(member), 303)


@bp.post("/sign-out")
@public
def sign_out():
    try:
        ActionForm().load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
    if (member := current_staff()) is not None:
        record(db(), Event(kind="admin_action", outcome="staff_signed_out", details={"actor": member.actor}))
        db().commit()
    end_web_session()  # revoked on the server: a copy of the cookie no longer works
    flash("You have signed out.", "info")
    return redirect(url_for(".sign_in"), 303)


def home_for(member: StaffMember) -> str:
    """Where a member lands after signing in: the first page one of their roles opens."""
    roles = member.role_set
    if "operator" in roles:
        return url_for("operator.search")
    if "admin" in roles:
        return url_for("admin_staff.staff_list")
    return url_for("auditor.search")


def _page(errors: dict, username: str, next_path: str | None, *, status: int = 400):
    # Never echo the password or the code.
    try:
        first_run = not any_staff(db())
    except SQLAlchemyError:
        first_run = False
    page = render_template(
        "staff/sign_in.html",
        errors=errors,
        username=username[:64],
        next_path=next_path,
        first_admin=FIRST_ADMIN if first_run else None,
        role_names=ROLE_NAMES,
    )
    return page, status


def log_first_admin_hint(app: Flask) -> None:
    """At start-up, say how to add the first admin while no staff account exists (the shared
    operator password is gone). Quiet when the database is not migrated yet."""
    rt = app.extensions["consentry"]
    try:
        with rt.sessions() as session:
            empty = not any_staff(session)
    except SQLAlchemyError:
        return
    if empty:
        log.warning("no_staff_accounts", hint=f"create the first admin: {FIRST_ADMIN}")
