"""The pages. One journey per browser: the form (empty, or with what was retrieved), the trip to
Consentry and back, then Submit and a confirmation with a reference.

Every way back from Consentry ends on the form: shared details, "Do not share", a refusal, or a
reload or back-button visit to the callback whose sign-in was used already.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from . import answers, items
from .flows import Declined, Failed
from .storage import Retrieved, Store

bp = Blueprint("grant", __name__)
log = logging.getLogger(__name__)


def _store() -> Store:
    return current_app.extensions["housing_grant"]["store"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@bp.get("/")
def form():
    return _form_page(_store().retrieved(session.get("journey")))


@bp.post("/retrieve")
def retrieve():
    """Start a sign-in with the chosen Myinfo version and send the browser to Consentry."""
    grant = current_app.extensions["housing_grant"]
    flow = grant["flows"].get(request.form.get("version", ""), grant["flows"][grant["default_flow"]])
    try:
        url, pending = flow.begin()
    except Failed as exc:
        log.warning("could not start a %s sign-in: %s", flow.name, exc)
        flash(_("Myinfo is not available at the moment. Fill in the form yourself, or try again later."))
        return redirect(url_for(".form"), 303)
    journey = _store().new_journey(_now())
    _store().begin_sign_in(journey, flow=flow.name, pending=pending, now=_now())
    session["journey"] = journey
    return redirect(url, 303)


@bp.get("/callback")
def callback():
    """Consentry's redirect: redeem the code once, keep the details, then show the form."""
    journey = session.get("journey")
    pending = _store().take_pending(journey, now=_now()) if journey else None
    if pending is None:
        # A reload, the back button, or an old link: the sign-in was used already or expired.
        if _store().retrieved(journey) is None:
            flash(_("That sign-in has ended. Retrieve your details again, or fill in the form yourself."))
        return redirect(url_for(".form"), 303)
    flow_name, data = pending
    try:
        person = current_app.extensions["housing_grant"]["flows"][flow_name].finish(data, request.args)
    except Declined:
        flash(_("You chose not to share your details. Fill in the form yourself."))
        return redirect(url_for(".form"), 303)
    except Failed as exc:
        log.warning("retrieving details through %s failed: %s", flow_name, exc)  # no personal data
        flash(_("We could not get your details from Myinfo. Fill in the form yourself, or try again."))
        return redirect(url_for(".form"), 303)
    _store().save_person(journey, person)
    return redirect(url_for(".form"), 303)


@bp.post("/submit")
def submit():
    """Store the application: retrieved items as received (from our database, never from the
    posted form), the rest as typed and checked."""
    journey = session.get("journey")
    retrieved = _store().retrieved(journey)
    person = retrieved.person if retrieved else {}
    shown = items.retrieved(person)
    to_type = [item.name for item in items.ITEMS if item.name not in shown]
    typed, errors = answers.parse(to_type, request.form, today=_now().date())
    if errors:
        return _form_page(retrieved, values=request.form, errors=errors, status=400)
    record = {name: {"source": "myinfo", "value": person[name]} for name in shown}
    record |= {name: {"source": "applicant", "value": typed[name]} for name in to_type}
    flow = retrieved.flow if retrieved else None
    reference = _store().submit(journey, flow=flow, answers=record, now=_now())
    session.pop("journey", None)
    session["reference"] = reference
    return redirect(url_for(".confirmation"), 303)


@bp.get("/confirmation")
def confirmation():
    reference = session.get("reference")
    if not reference:
        return redirect(url_for(".form"), 303)
    return render_template("confirmation.html", reference=reference)


@bp.post("/start-again")
def start_again():
    """Clear the retrieved details (someone else's computer, or the wrong person signed in)."""
    if journey := session.pop("journey", None):
        _store().forget_person(journey)
    flash(_("Your details have been cleared from this form."))
    return redirect(url_for(".form"), 303)


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """An expired session or a form from elsewhere: back to the form with a note, not a bare 400."""
    flash(_("Your session timed out. Please try again."))
    return redirect(url_for(".form"), 303)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Anything else (an unknown address, a GET of a form's target, a crash): a page, not a bare
    error."""
    if error.code == 404:
        title, message = _("Page not found"), _("If you typed the web address, check it is correct.")
    elif isinstance(error, InternalServerError):
        title, message = _("Sorry, there is a problem with the service"), _("Try again later.")
    else:
        title, message = _("Sorry, that did not work"), _("Go back to the form and try again.")
    return render_template("error.html", title=title, message=message), error.code


def _form_page(retrieved: Retrieved | None, *, values=None, errors=None, status: int = 200):
    shown = items.retrieved(retrieved.person) if retrieved else {}
    grant = current_app.extensions["housing_grant"]
    page = render_template(
        "form.html",
        items=items.ITEMS,
        shown=shown,
        to_type=[item for item in items.ITEMS if item.name not in shown],
        values=values or {},
        errors=errors or {},
        flow=retrieved.flow if retrieved else None,
        flow_names=grant["flow_names"],
        default_flow=grant["default_flow"],
        marital=items.MARITAL,
        cpf_accounts=list(items.CPF_ACCOUNTS.items())[:3],
    )
    return page, status
