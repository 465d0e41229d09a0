"""`consentry auditor ...`: create and disable the older auditor accounts for the auditor console.
New auditors are staff: `consentry staff add NAME --role auditor` (app/staff_cli.py)."""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlparse

import click
from flask.cli import with_appcontext
from rich.console import Console

from audit.auditors import auditor_totp_key, create_auditor, disable_auditor
from audit.log import Event
from core.clock import utcnow
from core.db import transaction
from core.errors import DomainError

from ..auditing import record
from ..extensions import runtime

console = Console(stderr=True)


@click.group("auditor")
def auditor_group() -> None:
    """Auditor accounts (password and TOTP) for the auditor console."""


@auditor_group.command("create")
@click.argument("username")
@with_appcontext
def create(username: str) -> None:
    """Create an auditor account (the older kind: prefer `consentry staff add NAME --role
    auditor`). Prompts for the password; prints the TOTP provisioning URI and secret once, to be
    added to the auditor's authenticator app. They are never shown again."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            _, uri = create_auditor(
                session,
                username=username,
                password=password,
                now=utcnow(),
                totp_key=auditor_totp_key(rt.config.secret_key),
            )
            details = {"auditor": username}
            record(session, Event(kind="admin_action", outcome="auditor_created", details=details))
    except DomainError as exc:
        _fail(exc)
    console.print("(new auditors are better made as staff: consentry staff add NAME --role auditor)")
    console.print(f"auditor {username} created; add this to their authenticator app (shown once):")
    click.echo(uri)
    click.echo(f"secret: {parse_qs(urlparse(uri).query)['secret'][0]}")


@auditor_group.command("disable")
@click.argument("username")
@with_appcontext
def disable(username: str) -> None:
    """Disable an auditor: sign-in and any open session stop working."""
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            disable_auditor(session, username=username)
            details = {"auditor": username}
            record(session, Event(kind="admin_action", outcome="auditor_disabled", details=details))
    except DomainError as exc:
        _fail(exc)
    console.print(f"auditor {username} disabled")


def _fail(exc: DomainError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    for where, reasons in getattr(exc, "errors", {}).items():
        console.print(f"  {where}: {'; '.join(reasons)}")
    sys.exit(1)
