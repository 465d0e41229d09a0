"""An agency app's webhook: where the platform pushes events about the app's consents
(notifications.webhooks). Set by an app admin (`consentry apps webhook`), checked here."""

from __future__ import annotations

import datetime as dt
import ipaddress
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationFailed

from .models import AgencyApp


def check_webhook_url(url: str, *, allow_loopback_http: bool = False) -> str:
    """The URL, if events may go there: https with a host, no credentials or fragment, at most 500
    characters; plain http only to a loopback address when `allow_loopback_http` (development).
    Raises ValidationFailed (field `webhook_url`)."""
    parts = urlsplit(url)
    if parts.username or parts.password or parts.fragment or not parts.hostname or len(url) > 500:
        raise ValidationFailed(
            "a webhook URL needs a host, and no user, password or #fragment", {"webhook_url": [url[:100]]}
        )
    if parts.scheme == "https" or (
        parts.scheme == "http" and allow_loopback_http and _loopback(parts.hostname)
    ):
        return url
    raise ValidationFailed("a webhook URL must use https", {"webhook_url": [url[:100]]})


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def set_webhook_url(
    session: Session, *, client_id: str, url: str | None, now: dt.datetime, allow_loopback_http: bool = False
) -> AgencyApp:
    """Set (or, with None, remove) the app's webhook (flushed). Raises NotFound for an unknown app
    and ValidationFailed for a URL `check_webhook_url` refuses."""
    app = session.get(AgencyApp, client_id)
    if app is None:
        raise NotFound("no such app")
    app.webhook_url = None if url is None else check_webhook_url(url, allow_loopback_http=allow_loopback_http)
    app.updated_at = now
    session.flush()
    return app
