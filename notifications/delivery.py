"""Sending notices: SMTP settings from `SMTP_URL`, the stdlib client, and the mails themselves
(plain text and simple HTML, from the templates under notifications/templates/).

Nothing here touches the database: the worker (notifications.worker) claims, decides and
records; the app layer supplies a `Mailer` saying how an address, a label, a time and a link are
found."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from core.errors import ConfigurationError

_TEMPLATES = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
SUBJECTS = {
    "release": "{app_name} received your details",
    "consent_remembered": "You let {app_name} get your details without asking",
    "consent_expiring": "Your consent for {app_name} ends soon",
    "digest": "Your Consentry notices: {count} today",
}


class SendError(Exception):
    """A mail not accepted; `code` is a short reason without personal data ("smtp_down",
    "smtp_timeout", "smtp_451", ...), stored as the notice's last_error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 10.0) -> SmtpSettings:
        """`smtp://host:port` (plain, loopback relays), `smtp+starttls://user:pass@host:587`, or
        `smtps://user:pass@host:465` (TLS from the start). ConfigurationError otherwise."""
        parts = urlsplit(url)
        security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ConfigurationError("SMTP_URL must be smtp://, smtp+starttls:// or smtps://host:port")
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        try:
            port = parts.port or default_port
        except ValueError as exc:
            raise ConfigurationError("SMTP_URL has a bad port") from exc
        return cls(
            host=parts.hostname,
            port=port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout_s=timeout_s,
        )


class SmtpSender:
    """One connection per mail (smtplib): simple, and a dead connection is never reused."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise SendError(f"smtp_{codes[0] if codes else 'refused'}") from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"smtp_{exc.smtp_code}") from exc
        except TimeoutError as exc:
            raise SendError("smtp_timeout") from exc
        except smtplib.SMTPServerDisconnected as exc:  # smtplib reports a read timeout so
            raise SendError("smtp_timeout" if "timed out" in str(exc) else "smtp_disconnected") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError("smtp_down" if isinstance(exc, ConnectionError) else "smtp_error") from exc


@dataclass
class Mailer:
    """What the worker needs from the outside world."""

    sender: Sender
    mail_from: str
    # The citizen's address at send time (verified, else declared), or None.
    address_of: Callable[[Session, str], str | None]
    label_of: Callable[[str], str]  # an attribute's label for people
    show_time: Callable[[dt.datetime], str]  # a time as people read it, in the display zone
    withdraw_link: Callable[[str, dt.datetime], str]  # a consent's one-tap link, made at `now`
    settings_url: str


@dataclass(frozen=True)
class Notice:
    """One outbox row as the worker claimed it."""

    id: int
    citizen_id: str
    template: str
    params: dict[str, Any]
    created_at: dt.datetime
    due_at: dt.datetime
    attempts: int
    kind: str = "email"  # notifications.models.EMAIL or WEBHOOK


def build_message(mailer: Mailer, notices: Sequence[Notice], *, to: str, now: dt.datetime) -> EmailMessage:
    """The mail for `notices` (one: its own template; several: a digest) to `to`. Its
    Message-ID names the outbox ids, so a mail sent again after a crash is recognisably the same."""
    items = [_item(mailer, notice, now=now) for notice in notices]
    template = notices[0].template if len(items) == 1 else "digest"
    context = {"items": items, "settings_url": mailer.settings_url}
    subject = SUBJECTS[template].format(app_name=items[0]["app_name"], count=len(items))
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mailer.mail_from
    message["To"] = to
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    ids = "-".join(str(n.id) for n in notices)
    message["Message-ID"] = f"<notice-{ids}@consentry>"
    message["X-Consentry-Notices"] = ",".join(str(n.id) for n in notices)
    message.set_content(_TEMPLATES.get_template("notice.txt").render(**context))
    message.add_alternative(_TEMPLATES.get_template("notice.html").render(**context), subtype="html")
    return message


def _item(mailer: Mailer, notice: Notice, *, now: dt.datetime) -> dict[str, Any]:
    params = notice.params
    at = params.get("at")
    expires = params.get("expires_at")
    consent_id = params.get("consent_id")
    return {
        "template": notice.template,
        "app_name": params.get("app_name", "An agency app"),
        "agency": params.get("agency", ""),
        "labels": [mailer.label_of(name) for name in params.get("attributes", [])],
        "at": mailer.show_time(dt.datetime.fromisoformat(at)) if at else "",
        "expires": mailer.show_time(dt.datetime.fromisoformat(expires)) if expires else "",
        "withdraw_url": mailer.withdraw_link(consent_id, now) if consent_id else None,
    }
