"""The consent screen: the citizen sees which app asks, why, and each field with its current
value (masked where sensitive), source agency and freshness; ticks off optional fields; shares or
declines; and may have the decision remembered for a period.

The pending request is a database row (consent.grants); its id in the URL is unguessable and
usable once. Every decision is audited in the transaction that issues the code, so no code exists
without its consent on record.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, render_template, request
from marshmallow import ValidationError

from audit.log import Event
from consent.consents import grant_consent, remembered_consent
from consent.grant_models import AuthorizationRequest
from consent.grants import REQUEST_ID, close_request, issue_code, pending_request
from consent.models import AgencyApp, Consent, Purpose
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from profile_store.assembly import load_fields
from profile_store.citizens import get_citizen

from ..auditing import record
from ..errors import Refusal, refusal_page
from ..extensions import db, runtime
from ..fapi.scopes import release_selection
from ..identity import current_citizen_id, sign_in_redirect
from ..notices.events import notify_remembered
from ..oauth.urls import code_ttl, issuer
from ..oauth.wire import redirect_with
from ..security import SECURITY_HEADERS, public
from .forms import REMEMBER, REMEMBER_LABELS, ConsentForm, form_data
from .rows import consent_rows

bp = Blueprint("consent_screen", __name__, url_prefix="/consent", template_folder="templates")
ORIGIN = re.compile(r"^https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
CONSENT_PATH = re.compile(r"^/consent/([A-Za-z0-9_-]{1,64})$")


@bp.route("/<request_id>", methods=["GET", "POST"])
@public  # the citizen signs in below, after the request itself is known to be valid
def screen(request_id: str):
    session, now = db(write=True), utcnow()  # even a GET may issue a code (remembered consent)
    pending = pending_request(session, request_id, now=now)
    citizen_id = current_citizen_id()
    if citizen_id is None:
        return sign_in_redirect(request.path)
    app = session.get(AgencyApp, pending.client_id)
    purpose = session.get(Purpose, (pending.client_id, pending.purpose_id))
    if request.method == "GET":
        remembered = remembered_consent(
            session,
            citizen_id=citizen_id,
            client_id=pending.client_id,
            purpose_id=pending.purpose_id,
            requested=pending.scope,
            parts=parts_asked(pending),
            now=now,
        )
        if remembered is not None:
            return _approved(session, pending, citizen_id, remembered, now=now)
        return _render(pending, app, purpose, citizen_id, errors={}, now=now)
    try:
        form = ConsentForm().load(form_data(request.form))
    except ValidationError as exc:
        return _render(pending, app, purpose, citizen_id, errors=exc.messages, now=now, status=400)
    if form["decision"] == "decline":
        return _declined(session, pending, citizen_id, app, now=now)
    required = _required(pending, purpose)
    try:
        consent = grant_consent(
            session,
            citizen_id=citizen_id,
            app=app,
            purpose=purpose,
            requested=pending.scope,
            approved=set(form["attributes"]) | set(required),
            remember_for=REMEMBER[form["remember"]],
            now=now,
            parts=parts_asked(pending),
        )
    except ValidationFailed as exc:
        errors = {"attributes": [exc.message]}
        return _render(pending, app, purpose, citizen_id, errors=errors, now=now, status=400)
    citizen = get_citizen(session, citizen_id)
    details = {
        "consent_id": consent.id,
        "declined": consent.declined,
        "expires_at": consent.expires_at.isoformat(),
        "remembered": consent.remembered,
    }
    if consent.approved_parts:  # searchable as dotted names, as a release's sub_attributes are
        details["parts"] = sorted(f"{a}.{p}" for a, paths in consent.approved_parts.items() for p in paths)
    record(
        session,
        Event(
            kind="consent_granted",
            citizen_ref=citizen.uinfin_digest,
            app_id=app.client_id,
            purpose=purpose.purpose_id,
            outcome="granted",
            attributes=tuple(consent.approved),
            details=details,
        ),
    )
    if consent.remembered:  # the citizen's notice commits with the consent
        notify_remembered(session, consent, app, now=now)
    return _approved(session, pending, citizen_id, consent, now=now)


@bp.errorhandler(NotFound)
def _unusable(_exc: NotFound):
    """The request is unknown, timed out or already answered (perhaps in another tab, as this
    one answered): a page saying which, naming the app when known. Nothing of this request's
    answer is kept."""
    session = db()
    session.rollback()
    request_id = (request.view_args or {}).get("request_id", "")
    known = session.get(AuthorizationRequest, request_id) if REQUEST_ID.match(request_id) else None
    if known is None:
        return refusal_page(Refusal.INVALID_LINK, 404)
    app = session.get(AgencyApp, known.client_id)
    cause = Refusal.REQUEST_ANSWERED if known.completed_at is not None else Refusal.REQUEST_EXPIRED
    return refusal_page(cause, 404, service=app.name if app else None)


def _approved(session, pending: AuthorizationRequest, citizen_id: str, consent: Consent, *, now: dt.datetime):
    ttl = code_ttl(pending.profile)  # 60 s for FAPI 2.0, configured for MyInfo v4
    code = issue_code(session, request=pending, citizen_id=citizen_id, consent=consent, now=now, ttl=ttl)
    session.commit()
    params = {"code": code, "state": pending.state, "iss": issuer(pending.profile)}
    return redirect(redirect_with(pending.redirect_uri, params), 303)


def _declined(session, pending: AuthorizationRequest, citizen_id: str, app: AgencyApp, *, now: dt.datetime):
    close_request(session, pending, now=now)
    citizen = get_citizen(session, citizen_id)
    record(
        session,
        Event(
            kind="consent_declined",
            citizen_ref=citizen.uinfin_digest,
            app_id=app.client_id,
            purpose=pending.purpose_id,
            outcome="declined",
            attributes=tuple(sorted(pending.scope)),
        ),
    )
    session.commit()
    params = {
        "error": "access_denied",
        "error_description": "the person declined to share their information",
        "state": pending.state,
        "iss": issuer(pending.profile),
    }
    return redirect(redirect_with(pending.redirect_uri, params), 303)


def _required(pending: AuthorizationRequest, purpose: Purpose) -> list[str]:
    return [name for name in pending.scope if name in set(purpose.required_attributes)]


def parts_asked(pending: AuthorizationRequest) -> dict[str, list[str]]:
    """Of attributes the request asks for only in part (v5 scopes such as `cpfbalances.oa`), the
    parts: recorded on the consent, so remembering it never stands in for the whole attribute."""
    return {
        name: list(paths)
        for name, paths in release_selection(pending.wire_scope or [], pending.scope)[1].items()
    }


def _render(
    pending: AuthorizationRequest,
    app: AgencyApp,
    purpose: Purpose,
    citizen_id: str,
    *,
    errors: dict,
    now: dt.datetime,
    status: int = 200,
):
    rt, session = runtime(), db()
    citizen = get_citizen(session, citizen_id)
    views = load_fields(
        session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=pending.scope
    )
    rows = consent_rows(
        views,
        rt.catalogue,
        scope=pending.scope,
        wire_scope=pending.wire_scope,
        required=_required(pending, purpose),
        now=now,
    )
    chosen = request.form.getlist("attributes") if request.method == "POST" else None
    page = render_template(
        "consent_screen/screen.html",
        app=app,
        purpose=purpose,
        rows=rows,
        chosen=chosen,
        remember=request.form.get("remember", "request"),
        remember_labels=REMEMBER_LABELS,
        errors=errors,
    )
    response = make_response(page, status)
    response.headers["Content-Security-Policy"] = form_may_return_to(pending.redirect_uri)
    return response


@bp.after_app_request
def _sign_in_may_return_to_the_app(response):
    """The sign-in form can end at the app too: signing in goes on to the consent step, and a
    remembered consent sends the browser from there to the app, all one redirect chain."""
    if request.endpoint != "citizen.sign_in" or response.mimetype != "text/html":
        return response
    match = CONSENT_PATH.match(request.values.get("next", ""))
    try:
        pending = pending_request(db(), match.group(1), now=utcnow()) if match else None
    except NotFound:
        pending = None
    if pending is not None:
        response.headers["Content-Security-Policy"] = form_may_return_to(pending.redirect_uri)
    return response


def form_may_return_to(redirect_uri: str) -> str:
    """The site's CSP, with the app's origin added to form-action: browsers apply form-action to
    the redirects that follow a form submission (Chromium does), so with 'self' alone the answer's
    303 to the app's redirect URI is blocked and the citizen never gets back to the app."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    parts = urlsplit(redirect_uri)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    try:
        origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a malformed port
        return policy
    if not ORIGIN.match(origin):  # never let a stored URI write its own directives
        return policy
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")
