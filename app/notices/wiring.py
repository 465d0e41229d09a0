"""The worker's view of the app: where a citizen's address is, how an attribute and a time read,
the one-tap link to withdraw a consent, and where and with which key apps' events go."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from flask_babel import force_locale, gettext, ngettext
from joserfc import jws
from sqlalchemy.orm import Session

from consent.models import AgencyApp
from notifications.delivery import Mailer, Sender, SmtpSender, SmtpSettings
from notifications.links import link_key, make_link_token
from notifications.models import DEFAULT_LANGUAGE
from notifications.webhooks import HttpPoster, Webhooks
from profile_store.assembly import load_fields
from profile_store.models import Citizen

from ..display_time import citizen_time, zone_named, zone_phrase
from ..extensions import Runtime
from ..i18n import current_locale, in_english

# Enough to refuse what could break a header or is plainly not an address; the relay judges the rest.
ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def citizen_address(rt: Runtime, session: Session, citizen_id: str) -> str | None:
    """The citizen's email: the verified `email` attribute, else the one they declared
    (load_fields chooses so); None when neither is on file or it is not an address."""
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        return None
    view = load_fields(session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=["email"])
    field = view.get("email")
    if field is None or field.unavailable or not isinstance(field.item, dict):
        return None
    value = str(field.item.get("value") or "").strip()
    return value if ADDRESS.match(value) else None


def build_mailer(rt: Runtime, sender: Sender | None = None) -> Mailer:
    """The worker's Mailer for this app (call inside its app context). Each mail is written in
    its citizen's language: the templates' words, the attributes' labels, the times and the
    zone's name all read through Flask-Babel, under `force_locale` in an app context of its own
    (the worker may run in a thread that has none)."""
    config = rt.config
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    zone = zone_named(config.display_timezone)
    key = link_key(config.secret_key)
    base = config.public_base_url.rstrip("/")

    def label(name: str) -> str:
        return rt.catalogue[name].label if name in rt.catalogue else name

    def withdraw_link(consent_id: str, now: dt.datetime) -> str:
        link = f"{base}/citizen/withdraw-link/{make_link_token(key, consent_id=consent_id, now=now)}"
        language = current_locale()  # the mail's (built under force_locale): its page opens in it
        return link if language == DEFAULT_LANGUAGE else f"{link}?lang={language}"

    return Mailer(
        sender=sender or SmtpSender(SmtpSettings.from_url(config.smtp_url, timeout_s=config.smtp_timeout_s)),
        mail_from=config.mail_from,
        address_of=lambda session, citizen_id: citizen_address(rt, session, citizen_id),
        label_of=label,
        show_time=lambda moment: gettext(
            "%(time)s (%(zone)s)", time=citizen_time(moment, zone), zone=zone_phrase(zone)
        ),
        withdraw_link=withdraw_link,
        settings_url=f"{base}/citizen/settings/notifications",
        in_language=lambda language: _in_language(app, language),
        gettext=gettext,
        ngettext=ngettext,
        in_english=in_english,
    )


@contextmanager
def _in_language(app: Flask, language: str) -> Iterator[None]:
    with app.app_context(), force_locale(language):
        yield


def build_webhooks(rt: Runtime, post=None) -> Webhooks:
    """Events to apps, signed with the platform's active signing key (the JWKS at
    /.well-known/keys), issued as the platform's public base URL."""

    def sign(claims: dict) -> str:
        key = rt.platform_keys.signing_key()
        header = {"alg": "ES256", "kid": key.kid, "typ": "secevent+jwt"}
        body = json.dumps(claims, separators=(",", ":")).encode()
        return jws.serialize_compact(header, body, key, algorithms=["ES256"])

    def url_of(session: Session, client_id: str) -> str | None:
        app = session.get(AgencyApp, client_id)
        return app.webhook_url if app is not None and not app.disabled else None

    return Webhooks(
        url_of=url_of,
        sign=sign,
        issuer=rt.config.public_base_url,
        post=post or HttpPoster(timeout_s=rt.config.smtp_timeout_s),
    )
