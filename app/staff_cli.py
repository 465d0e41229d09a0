"""`consentry staff ...`: staff accounts (operators, app admins, auditors). `add` prints the new
member's authenticator secret once; `disable` signs them out everywhere; `roles` replaces their
roles; `list` shows everyone; `demo-codes` prints the demo staff's current codes.

The demo staff (DEMO_STAFF, DEMO_STAFF_PASSWORD) are published credentials, seeded only by
`consentry demo` and refused in production.
"""

from __future__ import annotations

import sys

import click
import pyotp
from flask.cli import with_appcontext
from rich import box
from rich.console import Console
from rich.table import Table

from audit.log import Event
from core.clock import utcnow
from core.db import transaction
from core.errors import DomainError
from identity.staff import add_staff, disable_staff, find_staff, list_staff, set_roles, staff_totp_key
from identity.staff_models import STAFF_ROLES

from .auditing import record
from .extensions import runtime

console = Console(stderr=True)

DEMO_STAFF_PASSWORD = "demo-staff-pw"  # noqa: S105 - the published demo credential
# Published demo staff: username -> (roles, TOTP secret, base32 160 bits).
DEMO_STAFF = {
    "demo-admin": (("admin",), "IWI2SIJSRFTXIEMFG6EDCJE3WKBD4IOR"),
    "demo-operator": (("operator",), "HEY6WNED5RDPZYBD65DOTDVGJAPS56UL"),
    "demo-auditor": (("auditor",), "WFGZSMCPXTNK346DVDDY3TVA7ADYGUAM"),
}
ROLE_CHOICE = click.Choice(STAFF_ROLES)


@click.group("staff")
def staff_group() -> None:
    """Staff accounts (password and authenticator app) with roles: operator, admin, auditor."""


@staff_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE_CHOICE, help="Repeat for several.")
@click.option(
    "--password",
    help="The member's password (12 to 200 characters). Prompted for, hidden, when not given: "
    "a password on the command line is visible to other users and kept in shell history.",
)
@with_appcontext
def add_command(username: str, roles: tuple[str, ...], password: str | None) -> None:
    """Add a member of staff with the given roles. Prints their authenticator secret and its
    otpauth:// URI once, to add to their authenticator app; they are never shown again."""
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            enrolment = add_staff(
                session,
                username=username,
                password=password,
                roles=roles,
                now=utcnow(),
                totp_key=staff_totp_key(rt.config.secret_key),
            )
            details = {"actor": "cli", "staff": enrolment.member.actor, "roles": sorted(set(roles))}
            record(session, Event(kind="admin_action", outcome="staff_added", details=details))
    except DomainError as exc:
        _fail(exc)
    console.print(f"{username} ({', '.join(sorted(set(roles)))}) can sign in at /staff/sign-in")
    console.print("add this to their authenticator app (shown once):")
    click.echo(enrolment.provisioning_uri)
    click.echo(f"secret: {enrolment.totp_secret}")


@staff_group.command("disable")
@click.argument("username")
@with_appcontext
def disable_command(username: str) -> None:
    """Disable a member of staff: sign-in stops working and every open session ends."""
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            member = disable_staff(session, username=username, now=utcnow())
            details = {"actor": "cli", "staff": member.actor}
            record(session, Event(kind="admin_action", outcome="staff_disabled", details=details))
    except DomainError as exc:
        _fail(exc)
    console.print(f"{username} disabled and signed out everywhere")


@staff_group.command("roles")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE_CHOICE, help="Repeat for several.")
@with_appcontext
def roles_command(username: str, roles: tuple[str, ...]) -> None:
    """Replace a member's roles; taking one away signs them out everywhere."""
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            member = set_roles(session, username=username, roles=roles, now=utcnow())
            details = {"actor": "cli", "staff": member.actor, "roles": sorted(member.role_set)}
            record(session, Event(kind="admin_action", outcome="staff_roles_changed", details=details))
    except DomainError as exc:
        _fail(exc)
    console.print(f"{username}: {', '.join(sorted(set(roles)))}")


@staff_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every staff account: username, roles, status, last sign-in (never a secret)."""
    table = Table("username", "roles", "status", "last sign-in (UTC)", "id")
    with runtime().sessions() as session:
        for member in list_staff(session):
            last = member.last_login_at.strftime("%Y-%m-%d %H:%M") if member.last_login_at else "never"
            status = "disabled" if member.disabled else "active"
            table.add_row(member.username, ", ".join(sorted(member.role_set)), status, last, member.id)
    Console().print(table)


@staff_group.command("demo-codes")
@with_appcontext
def demo_codes() -> None:
    """Print the demo staff with their password and current authenticator codes."""
    if runtime().config.production:
        raise click.ClickException("demo staff do not exist in production")
    Console().print(demo_staff_table())


def seed_demo_staff() -> list[str]:
    """Add the demo admin, operator and auditor with the published password and secrets (for
    `consentry demo`), skipping any that exist; returns every demo username."""
    rt, now = runtime(), utcnow()
    with transaction(rt.sessions) as session:
        for username, (roles, secret) in DEMO_STAFF.items():
            if find_staff(session, username=username) is None:
                add_staff(
                    session,
                    username=username,
                    password=DEMO_STAFF_PASSWORD,
                    roles=roles,
                    now=now,
                    totp_key=staff_totp_key(rt.config.secret_key),
                    totp_secret=secret,
                )
    return list(DEMO_STAFF)


def demo_staff_table() -> Table:
    # Borderless and without a role column (the username says it), so it fits 80 columns whole.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("username", "password", "code now"):
        table.add_column(name, no_wrap=True)
    table.add_column("authenticator secret", no_wrap=True, min_width=32)
    for username, (_roles, secret) in DEMO_STAFF.items():
        table.add_row(username, DEMO_STAFF_PASSWORD, pyotp.TOTP(secret).now(), secret)
    return table


def _fail(exc: DomainError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    for where, reasons in getattr(exc, "errors", {}).items():
        console.print(f"  {where}: {'; '.join(reasons)}")
    sys.exit(1)
