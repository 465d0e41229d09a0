"""The citizen's pages: sign-in, sign-out, and the portal (a dashboard; their profile with its
provenance; who has had their data; their consents, each of which they can withdraw).

Sign-in takes the NRIC or FIN, the password and the current code from the citizen's authenticator
app. Attempts are limited per client address and per national id (app/rate_limit.py); a wrong
answer of any kind gets one message, whatever was wrong. Success starts a fresh session (no
fixation) and returns the citizen to the local `next` path they came from, if any.

Withdrawing a consent is a GET confirmation page and a POST (CSRF) that revokes it and appends
`consent_revoked` to the audit log in one transaction (app/citizen/portal.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from core.clock import utcnow
from core.errors import NotFound, Unauthorized, ValidationFailed
from identity.accounts import authenticate
from profile_store.citizens import get_citizen

from .. import identity
from ..extensions import db, runtime
from ..identity import citizen_required, current_citizen_id, safe_next, start_citizen_session
from ..operator.schemas import ActionForm
from ..rate_limit import check, check_sign_in_address, reset
from ..security import public
from .portal import consent_record, consent_records, history, my_profile, requesting_service, withdraw
from .schemas import DEFAULT_PAGE, HistoryQuery, SignInForm

bp = Blueprint("citizen", __name__, url_prefix="/citizen", template_folder="templates")
log = structlog.get_logger(__name__)

SCOPE = "citizen_sign_in"


@bp.context_processor
def _citizen_context() -> dict[str, object]:
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
    service = requesting_service(db(), next_path, now=utcnow())
    page = render_template(
        "citizen/sign_in.html", errors=errors, uinfin=uinfin[:20], next_path=next_path, service=service
    )
    return page, status


@bp.post("/sign-out")
@public
def sign_out():
    _action_form()
    identity.sign_out()
    flash(_("You have signed out."), "info")
    return redirect(url_for(".sign_in"), 303)


@bp.get("/")
@citizen_required
def landing():
    return render_template("citizen/landing.html")


@bp.get("/profile")
@citizen_required
def profile():
    return render_profile()


def render_profile(*, revealed: frozenset[str] = frozenset()) -> str:
    """ "My profile"; with `revealed` (after an audited 'Show': app/citizen/stepup.py), those values
    in full, their group open and "Hide" by them."""
    rt, store = runtime(), db()
    mine = my_profile(
        store,
        vault=rt.vault,
        catalogue=rt.catalogue,
        citizen=get_citizen(store, g.citizen_id),
        now=utcnow(),
        stale_after=timedelta(seconds=rt.config.person_refresh_max_age_s),
        revealed=revealed,
    )
    return render_template(
        "citizen/profile.html",
        page=mine.page,
        summary=mine.summary,
        reportable=mine.reportable,
        revealed=revealed,
    )


@bp.get("/history")
@citizen_required
def history_page():
    store = db()

    def fetch(cursor: str | None) -> tuple[list, str | None]:
        citizen = get_citizen(store, g.citizen_id)
        page = history(store, runtime().catalogue, citizen=citizen, cursor=cursor, limit=DEFAULT_PAGE)
        return page.items, page.next_cursor

    return _keyset_page("citizen/history.html", "items", fetch)


@bp.get("/consents")
@citizen_required
def consents():
    def fetch(cursor: str | None) -> tuple[list, str | None]:
        page = consent_records(
            db(),
            runtime().catalogue,
            citizen_id=g.citizen_id,
            cursor=cursor,
            limit=DEFAULT_PAGE,
            now=utcnow(),
        )
        return page.consents, page.next_cursor

    return _keyset_page("citizen/consents.html", "records", fetch)


def _keyset_page(template: str, name: str, fetch: Callable[[str | None], tuple[list, str | None]]):
    """One page of a newest-first list (`?cursor=` only), rendered with `name` for its rows and
    links to the newest and the older page; a cursor this service did not issue is a 400 page."""
    try:
        cursor = HistoryQuery(only=("cursor",)).load(request.args.to_dict()).get("cursor")
        rows, next_cursor = fetch(cursor)
    except (ValidationError, ValidationFailed):  # a link this service did not make
        return render_template(template, **{name: []}, next_url=None, first_url=None, bad=True), 400
    next_url = url_for(request.endpoint, cursor=next_cursor) if next_cursor else None
    first_url = url_for(request.endpoint) if cursor else None
    return render_template(template, **{name: rows}, next_url=next_url, first_url=first_url)


@bp.route("/consents/<uuid:consent_id>/withdraw", methods=["GET", "POST"])
@citizen_required
def withdraw_consent(consent_id):
    store, now = db(), utcnow()
    record = consent_record(
        store, runtime().catalogue, citizen_id=g.citizen_id, consent_id=str(consent_id), now=now
    )
    if record is None:
        raise NotFound("You have no consent with this reference.")
    if request.method == "GET":
        return render_template("citizen/withdraw.html", record=record)
    _action_form()
    revoked = withdraw(store, citizen=get_citizen(store, g.citizen_id), consent_id=record.id, now=now)
    store.commit()
    if revoked is None:
        flash(_("Your consent for %(app)s had already ended.", app=record.app.name), "info")
    else:
        log.info("citizen_withdrew_consent", citizen_id=g.citizen_id, consent_id=record.id)
        flash(
            _(
                "You withdrew your consent. %(app)s can no longer get your details with it.",
                app=record.app.name,
            ),
            "success",
        )
    return redirect(url_for(".consents"), 303)


def _action_form() -> None:
    """A button press (sign out, withdraw): nothing but the CSRF token, checked before the view."""
    try:
        ActionForm().load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]
