"""Sending notices: SMTP settings from `SMTP_URL`, the stdlib client, and the mails themselves
(plain text and simple HTML, from the templates under notifications/templates/).

Nothing here touches the database: the worker (notifications.worker) claims, decides and
records; the app layer supplies a `Mailer` saying how an address, a label, a time and a link are
found, and how words are put in the citizen's language (`in_language`, `gettext`): a mail is
written in the language the citizen chose (NotificationPreference.language), its
`Content-Language` header and `<html lang>` saying which. Without those the mail is in English,
the templates' own words."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from core.errors import ConfigurationError

from .models import DEFAULT_LANGUAGE


def _templates(
    gettext: Callable[[str], str],
    ngettext: Callable[[str, str, int], str],
    in_english: Callable[[object], Markup],
) -> Environment:
    """The mail templates, their `_()` translated by `gettext` (Flask-Babel's style: named
    placeholders, filled and escaped after translation)."""
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["in_english"] = in_english
    return env


def _untranslated(message: str) -> str:
    return message


def _plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def language_tag(language: str) -> str:
    """A Babel locale id as the BCP 47 tag (RFC 5646) `lang` and Content-Language (RFC 3282)
    take: "zh_Hans_SG" -> "zh-Hans-SG"."""
    return language.replace("_", "-")


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
    # Entered around everything that reads words for one mail (templates, labels, times), so they
    # come out in that language; `gettext`/`ngettext` translate the templates' strings inside it.
    in_language: Callable[[str], AbstractContextManager[object]] = lambda _language: nullcontext()
    gettext: Callable[[str], str] = _untranslated
    ngettext: Callable[[str, str, int], str] = _plural
    # Text that stays English (an app's name) in HTML: marked lang="en" in another language.
    in_english: Callable[[object], Markup] = escape
    default_language: str = DEFAULT_LANGUAGE
    templates: Environment = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.templates = _templates(self.gettext, self.ngettext, self.in_english)


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


def build_message(
    mailer: Mailer, notices: Sequence[Notice], *, to: str, now: dt.datetime, language: str | None = None
) -> EmailMessage:
    """The mail for `notices` (one: its own template; several: a digest) to `to`, written in
    `language` (a Babel locale id; None: the mailer's default). Its Message-ID names the outbox
    ids, so a mail sent again after a crash is recognisably the same."""
    language = language or mailer.default_language
    with mailer.in_language(language):
        items = [_item(mailer, notice, now=now) for notice in notices]
        template = notices[0].template if len(items) == 1 else "digest"
        context = {"items": items, "settings_url": mailer.settings_url, "lang": language_tag(language)}
        subject = mailer.templates.get_template("subject.txt").render(
            template=template, app_name=items[0]["app_name"], count=len(items)
        )
        text = mailer.templates.get_template("notice.txt").render(**context)
        html = mailer.templates.get_template("notice.html").render(**context)
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = mailer.mail_from
    message["To"] = to
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    ids = "-".join(str(n.id) for n in notices)
    message["Message-ID"] = f"<notice-{ids}@consentry>"
    message["X-Consentry-Notices"] = ",".join(str(n.id) for n in notices)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = context["lang"]  # after: set_content clears Content-* headers
    return message


def _item(mailer: Mailer, notice: Notice, *, now: dt.datetime) -> dict[str, Any]:
    params = notice.params
    at = params.get("at")
    expires = params.get("expires_at")
    consent_id = params.get("consent_id")
    return {
        "template": notice.template,
        "app_name": params.get("app_name", ""),  # the templates say "An agency app" without one
        "agency": params.get("agency", ""),
        "labels": [mailer.label_of(name) for name in params.get("attributes", [])],
        "at": mailer.show_time(dt.datetime.fromisoformat(at)) if at else "",
        "expires": mailer.show_time(dt.datetime.fromisoformat(expires)) if expires else "",
        "withdraw_url": mailer.withdraw_link(consent_id, now) if consent_id else None,
    }
