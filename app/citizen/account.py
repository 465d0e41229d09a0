"""Closing the citizen's account: a confirmation page, then a POST (CSRF) that closes it
(identity/closure.py) and appends `citizen_account_closed` and one `consent_revoked` per consent
withdrawn, in one transaction; then the citizen is signed out. Their profile stays with the
agencies' data; coming back takes a new activation letter."""

from __future__ import annotations

import structlog
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from audit.log import Event
from core.clock import utcnow
from identity.closure import close_account
from profile_store.citizens import get_citizen

from .. import identity
from ..auditing import record
from ..extensions import db
from ..identity import citizen_required
from ..notices.events import notify_app
from .activation import audit
from .views import _action_form, bp

log = structlog.get_logger(__name__)


@bp.route("/account/close", methods=["GET", "POST"])
@citizen_required
def close():
    if request.method == "GET":
        return render_template("citizen/close_account.html")
    _action_form()
    store, now = db(write=True), utcnow()
    citizen = get_citizen(store, g.citizen_id)
    withdrawn = close_account(store, citizen_id=citizen.id, now=now)
    for consent in withdrawn:
        notify_app(store, consent, state="withdrawn", now=now)
        record(
            store,
            Event(
                kind="consent_revoked",
                citizen_ref=citizen.uinfin_digest,
                app_id=consent.client_id,
                purpose=consent.purpose_id,
                outcome="revoked",
                attributes=tuple(consent.approved),
                details={"consent_id": consent.id, "by": "account_closed"},
            ),
        )
    audit(store, "citizen_account_closed", citizen.id, outcome="closed", consents_withdrawn=len(withdrawn))
    store.commit()
    identity.sign_out()
    log.info("citizen_account_closed", citizen_id=citizen.id)
    flash(
        _("Your account is closed. To use Consentry again, ask an agency for a new activation letter."),
        "info",
    )
    return redirect(url_for(".sign_in"), 303)
