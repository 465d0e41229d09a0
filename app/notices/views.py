"""The citizen's notification settings, and the one-tap withdraw link from a notice.

The link's token is the authority for one act: withdrawing the consent it names (no sign-in; the
citizen reads mail where they are seldom signed in). GET shows what will be withdrawn and a
button; POST (CSRF) spends the token and withdraws in one transaction, audited as any
withdrawal (`consent_revoked`). A forged, used or expired link gets a page saying so and
changes nothing. See docs/portal.md, "Notices".
"""

from __future__ import annotations

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from consent.models import Consent
from core.clock import utcnow
from notifications.links import (
    EXPIRED,
    FORGED,
    USED,
    LinkRefused,
    link_key,
    link_used,
    read_link_token,
    spend_link,
)
from notifications.models import DEFAULT_LANGUAGE
from notifications.outbox import preferences_of, set_language, set_preferences
from profile_store.citizens import get_citizen

from ..citizen.portal import consent_record, withdraw
from ..extensions import db, runtime
from ..identity import citizen_required, current_citizen_id
from ..operator.schemas import ActionForm
from ..security import public
from .schemas import SettingsForm
from .wiring import citizen_address

bp = Blueprint("notices", __name__, url_prefix="/citizen", template_folder="templates")
log = structlog.get_logger(__name__)
REFUSED_STATUS = {FORGED: 404, EXPIRED: 410, USED: 410}


@bp.context_processor
def _citizen_context() -> dict[str, object]:
    return {"citizen_signed_in": current_citizen_id() is not None}


@bp.route("/settings/notifications", methods=["GET", "POST"])
@citizen_required
def settings():
    store = db()
    if request.method == "POST":
        try:
            form = SettingsForm().load(request.form)
        except ValidationError as exc:
            return _settings_page(store, errors=exc.messages, status=400)
        language, now = form.pop("language"), utcnow()
        set_preferences(store, citizen_id=g.citizen_id, now=now, **form)
        if language is not None:
            set_language(store, citizen_id=g.citizen_id, language=language, now=now)
        store.commit()
        flash(_("Your notification settings are saved."), "success")
        return redirect(url_for(".settings"), 303)
    return _settings_page(store, errors={})


def _settings_page(store, *, errors: dict, status: int = 200):
    prefs = preferences_of(store, g.citizen_id)
    address = citizen_address(runtime(), store, g.citizen_id)
    # Never chosen: the mails go in the default language, so that is the one shown chosen.
    language = prefs.language or DEFAULT_LANGUAGE
    page = render_template(
        "notices/settings.html", prefs=prefs, language=language, address=address, errors=errors
    )
    return page, status


@bp.route("/withdraw-link/<token>", methods=["GET", "POST"])
@public  # the token is the authority, for this one withdrawal only
def withdraw_link(token: str):
    rt, store, now = runtime(), db(), utcnow()
    try:
        claim = read_link_token(link_key(rt.config.secret_key), token, now=now)
        if link_used(store, claim):
            raise LinkRefused(USED)
    except LinkRefused as exc:
        return _refused(exc.reason)
    consent = store.get(Consent, claim.consent_id)
    if consent is None:
        return _refused(FORGED)
    record = consent_record(
        store, rt.catalogue, citizen_id=consent.citizen_id, consent_id=consent.id, now=now
    )
    if request.method == "GET":
        return render_template("notices/withdraw_link.html", record=record, token=token)
    try:
        ActionForm().load(request.form)
    except ValidationError:
        return render_template("notices/withdraw_link.html", record=record, token=token), 400
    try:
        spend_link(store, claim, now=now)
        revoked = withdraw(
            store, citizen=get_citizen(store, consent.citizen_id), consent_id=consent.id, now=now
        )
        store.commit()
    except (LinkRefused, IntegrityError):  # used by a request that committed first
        store.rollback()
        return _refused(USED)
    if revoked is not None:
        log.info("citizen_withdrew_consent_by_link", citizen_id=consent.citizen_id, consent_id=consent.id)
    return render_template("notices/withdrawn.html", record=record, withdrawn=revoked is not None)


def _refused(reason: str):
    return render_template("notices/link_refused.html", reason=reason), REFUSED_STATUS[reason]
