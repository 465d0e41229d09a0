"""`consentry apps ...`: register, update, disable and list agency apps (OAuth clients)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console

from audit.log import Event
from consent.apps import list_apps, register_app, set_disabled, update_app
from consent.webhook_urls import set_webhook_url
from core.clock import utcnow
from core.db import transaction
from core.errors import DomainError

from .admin.display import problems
from .auditing import record
from .extensions import runtime

console = Console(stderr=True)


@click.group("apps")
def apps_group() -> None:
    """Agency apps that pre-fill forms (OAuth clients)."""


def _document(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path} is not a JSON document: {exc}") from None


def _run(action: str, work) -> None:
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            app = work(session, rt)
            record(
                session,
                Event(
                    kind="admin_action",
                    app_id=app.client_id,
                    outcome=action,
                    details={"action": f"app_{action}"},
                ),
            )
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        for line in problems(getattr(exc, "errors", {})):
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    console.print(f"app {app.client_id} {action}")


@apps_group.command("register")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def register(path: Path) -> None:
    """Register an app from a JSON registration document (see docs/agency-apps.md)."""
    document = _document(path)
    _run("registered", lambda s, rt: register_app(s, document=document, catalogue=rt.catalogue, now=utcnow()))


@apps_group.command("update")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def update(path: Path) -> None:
    """Replace an app's settings and purposes with the document's."""
    document = _document(path)
    _run("updated", lambda s, rt: update_app(s, document=document, catalogue=rt.catalogue, now=utcnow()))


@apps_group.command("disable")
@click.argument("client_id")
@with_appcontext
def disable(client_id: str) -> None:
    """Stop an app from starting new requests."""
    _run("disabled", lambda s, rt: set_disabled(s, client_id=client_id, disabled=True, now=utcnow()))


@apps_group.command("enable")
@click.argument("client_id")
@with_appcontext
def enable(client_id: str) -> None:
    _run("enabled", lambda s, rt: set_disabled(s, client_id=client_id, disabled=False, now=utcnow()))


@apps_group.command("webhook")
@click.argument("client_id")
@click.argument("url", required=False)
@click.option("--remove", is_flag=True, help="Stop sending the app events.")
@with_appcontext
def webhook(client_id: str, url: str | None, remove: bool) -> None:
    """Where the app hears of its consents' changes (withdrawn, paused, resumed, narrowed,
    expired): an https URL receiving signed Security Event Tokens (docs/agency-apps.md)."""
    if remove == (url is not None):
        raise click.UsageError("give a URL, or --remove")
    loopback_ok = runtime().config.loopback_webhooks
    _run(
        "webhook_removed" if remove else "webhook_set",
        lambda s, rt: set_webhook_url(
            s, client_id=client_id, url=url, now=utcnow(), allow_loopback_http=loopback_ok
        ),
    )


@apps_group.command("list")
@with_appcontext
def list_command() -> None:
    """One line per app: client id, status, profiles, name (agency)."""
    with runtime().sessions() as session:
        for app in list_apps(session):
            status = "disabled" if app.disabled else "active"
            click.echo(f"{app.client_id}\t{status}\t{','.join(app.profiles)}\t{app.name} ({app.agency})")
