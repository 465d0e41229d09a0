"""Staff accounts for app admins: list, add (with roles; the new member's authenticator secret is
shown once, on the page that answers the post), disable after a confirmation. Every write commits
with its `admin_action` audit entry, the admin as actor; the secret is never logged or audited."""

from __future__ import annotations

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from audit.log import Event
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from identity.staff import add_staff, disable_staff, get_staff, list_staff, staff_totp_key
from identity.staff_models import STAFF_ROLES

from ..auditing import record
from ..extensions import db, runtime
from ..operator.schemas import ActionForm
from ..security import admin_required
from ..staff.schemas import ROLE_NAMES, AddStaffForm

bp = Blueprint("admin_staff", __name__, url_prefix="/admin/staff", template_folder="templates")
log = structlog.get_logger(__name__)
FLASH = "admin"


@bp.get("/")
@admin_required
def staff_list():
    return render_template("admin/staff.html", members=list_staff(db()), role_names=ROLE_NAMES)


@bp.route("/-/new", methods=["GET", "POST"])
@admin_required
def add():
    if request.method == "GET":
        return _form_page({}, "", [])
    data = {**request.form.to_dict(), "roles": request.form.getlist("roles")}
    username, roles = str(data.get("username", ""))[:64], [str(r) for r in data["roles"]]
    store = db()
    try:
        form = AddStaffForm().load(data)
        enrolment = add_staff(
            store,
            username=form["username"],
            password=form["password"],
            roles=form["roles"],
            now=utcnow(),
            totp_key=staff_totp_key(runtime().config.secret_key),
        )
    except ValidationError as exc:
        return _form_page(_flat(exc.messages), username, roles)  # type: ignore[arg-type]
    except (ValidationFailed, Conflict) as exc:
        store.rollback()
        errors = getattr(exc, "errors", None) or {"username": [exc.message]}
        return _form_page(errors, username, roles, 409 if isinstance(exc, Conflict) else 400)
    member = enrolment.member
    details = {
        "actor": g.actor,
        "staff": f"staff:{member.id}",
        "roles": sorted(member.role_set),
        "via": "admin_page",
    }
    record(store, Event(kind="admin_action", outcome="staff_added", details=details))
    store.commit()
    log.info("staff_added", staff_id=member.id, by=g.staff.id)
    # Shown once, in this answer only: nothing keeps the secret after this page.
    return render_template(
        "admin/staff_added.html", member=member, enrolment=enrolment, role_names=ROLE_NAMES
    ), 201


@bp.route("/<username>/disable", methods=["GET", "POST"])
@admin_required
def disable(username: str):
    store = db()
    member = get_staff(store, username=username)
    if request.method == "GET":
        return render_template("admin/staff_disable.html", member=member)
    try:
        ActionForm().load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
    disable_staff(store, username=username, now=utcnow())
    details = {"actor": g.actor, "staff": f"staff:{member.id}", "via": "admin_page"}
    record(store, Event(kind="admin_action", outcome="staff_disabled", details=details))
    store.commit()
    log.info("staff_disabled", staff_id=member.id, by=g.staff.id)
    flash(f"{member.username} is disabled and signed out everywhere", FLASH)
    return redirect(url_for(".staff_list"), 303)


def _form_page(errors: dict, username: str, roles: list[str], status: int = 200):
    if errors and status == 200:
        status = 400
    page = render_template(
        "admin/staff_new.html",
        errors=errors,
        username=username,
        roles=roles,
        all_roles=STAFF_ROLES,
        role_names=ROLE_NAMES,
    )
    return page, status


def _flat(messages: dict) -> dict[str, list[str]]:
    """Field errors as lists of words; a list field's per-item errors become its own (deduplicated)."""
    flat: dict[str, list[str]] = {}
    for name, value in messages.items():
        reasons = [m for item in value.values() for m in item] if isinstance(value, dict) else list(value)
        flat[name] = list(dict.fromkeys(reasons))
    return flat
