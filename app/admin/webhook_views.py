"""An app's webhook on its admin page: where the platform posts the app's consent events
(notifications.webhooks). The same rule as `consentry apps webhook` (consent.webhook_urls): https,
or plain http to a loopback address outside production. A refused address is shown next to the
field and writes nothing; a saved or removed one commits with its `admin_action` audit entry."""

from __future__ import annotations

import structlog
from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from consent.apps import get_app
from consent.models import AgencyApp
from consent.webhook_urls import check_webhook_url, set_webhook_url
from core.clock import utcnow
from core.errors import ValidationFailed

from ..extensions import db, runtime
from ..security import admin_required
from .schemas import WebhookForm
from .views import FLASH, _audit, bp

log = structlog.get_logger(__name__)
ENTER_ADDRESS = "Enter the https address the app receives events at, or remove the webhook"


def webhook_problem(url: str) -> str | None:
    """Why events may not go to `url`, or None if they may."""
    try:
        check_webhook_url(url, allow_loopback_http=runtime().config.loopback_webhooks)
    except ValidationFailed as exc:
        return exc.message[:1].upper() + exc.message[1:]
    return None


@bp.route("/<client_id>/webhook", methods=["GET", "POST"])
@admin_required
def webhook(client_id: str):
    store = db()
    app = get_app(store, client_id)
    if request.method == "GET":
        return _page(app, app.webhook_url or "", {})
    try:
        form = WebhookForm().load(request.form)
    except ValidationError as exc:
        # An overlong address is named next to its field; a forged post's field in the summary.
        return _page(app, request.form.get("webhook_url", "")[:500], exc.messages, 400)  # type: ignore[arg-type]
    url = None if form["action"] == "remove" else form["webhook_url"].strip()
    if url is not None and (problem := ENTER_ADDRESS if not url else webhook_problem(url)):
        return _page(app, form["webhook_url"], {"webhook_url": [problem]}, 400)
    loopback = runtime().config.loopback_webhooks
    set_webhook_url(store, client_id=client_id, url=url, now=utcnow(), allow_loopback_http=loopback)
    action = "webhook_removed" if url is None else "webhook_set"
    _audit(client_id, action)
    store.commit()
    log.info("admin_app_saved", client_id=client_id, action=action)
    flash(f"{app.name}'s webhook is {'removed' if url is None else 'saved'}", FLASH)
    return redirect(url_for(".detail", client_id=client_id), 303)


def _page(app: AgencyApp, value: str, errors: dict[str, list[str]], status: int = 200):
    return render_template(
        "admin/webhook.html", app=app, value=value, errors=errors, loopback=runtime().config.loopback_webhooks
    ), status
