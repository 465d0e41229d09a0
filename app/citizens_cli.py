"""`consentry citizens ...`: citizen sign-in accounts. `enrol` gives a citizen a password and an
authenticator (TOTP) secret; `rewrap-secrets` moves those secrets to the active master key;
`demo-codes` prints the current codes of the published demo accounts.

The demo accounts (DEMO_ACCOUNTS, DEMO_PASSWORD) are published credentials for synthetic people,
seeded only by `consentry demo`.
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
from identity.accounts import enrol, rewrap_batch
from profile_store.citizens import find_citizen_by_uinfin, normalise_uinfin

from .auditing import record
from .extensions import runtime

console = Console(stderr=True)

DEMO_PASSWORD = "citizen-demo-password"  # noqa: S105 - the published demo credential
# Published demo TOTP secrets (base32, 160 bits) for the first three demo citizens (demo_uinfin 0-2).
DEMO_ACCOUNTS = {
    "S4251917J": "47MTPBE2REH7D4RAGJZMBMO3H6D7SDT4",
    "T1620704C": "VLUWPYV2LTEGQUKUEXI5FL7BL4PJS7XC",
    "T8989491Z": "YAX2RMZIHRG6QHI6ORI5WLU4TBDHHBPK",
}


@click.group("citizens")
def citizens_group() -> None:
    """Citizen accounts for signing in (password and authenticator app)."""


@citizens_group.command("enrol")
@click.argument("uinfin")
@click.option(
    "--password",
    help="The citizen's password (12 to 200 characters). Prompted for, hidden, when not given: "
    "a password on the command line is visible to other users and kept in shell history.",
)
@with_appcontext
def enrol_command(uinfin: str, password: str | None) -> None:
    """Give the citizen with national id UINFIN a password and a new authenticator secret,
    replacing any they had. Prints the secret and its otpauth:// URI once, to add to their
    authenticator app; they are never shown again."""
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=password, now=utcnow())
            citizen_ref = rt.vault.digest_uinfin(normalise_uinfin(uinfin))
            record(session, Event(kind="admin_action", citizen_ref=citizen_ref, outcome="citizen_enrolled"))
    except DomainError as exc:
        _fail(exc)
    console.print(
        f"citizen {enrolment.citizen_id} can sign in; add this to their authenticator app (shown once):"
    )
    click.echo(enrolment.provisioning_uri)
    click.echo(f"secret: {enrolment.totp_secret}")


@citizens_group.command("rewrap-secrets")
@click.option("--batch-size", default=500, show_default=True)
@with_appcontext
def rewrap_secrets(batch_size: int) -> None:
    """Re-wrap every citizen's authenticator secret under the active master key (ACTIVE_MASTER_KID),
    in batches. Run after `consentry rotate-keys`, before removing the old master key. Resumable."""
    rt, total = runtime(), 0
    while True:
        try:
            with transaction(rt.sessions) as session:
                done = rewrap_batch(session, keyring=rt.vault.keyring, batch_size=batch_size)
        except DomainError as exc:
            _fail(exc)
        if not done:
            break
        total += done
    console.print(f"{total} authenticator secrets re-wrapped under {rt.vault.keyring.active_kid}")


@citizens_group.command("demo-codes")
@with_appcontext
def demo_codes() -> None:
    """Print the demo accounts with their password and current authenticator codes."""
    if runtime().config.production:
        raise click.ClickException("demo accounts do not exist in production")
    Console().print(demo_accounts_table())


def seed_demo_accounts() -> list[str]:
    """Enrol the demo citizens that exist with the published password and secrets (for
    `consentry demo`); returns their national ids."""
    rt, now, seeded = runtime(), utcnow(), []
    with transaction(rt.sessions) as session:
        for uinfin, secret in DEMO_ACCOUNTS.items():
            if find_citizen_by_uinfin(session, vault=rt.vault, uinfin=uinfin) is None:
                continue
            enrol(session, vault=rt.vault, uinfin=uinfin, password=DEMO_PASSWORD, now=now, totp_secret=secret)
            seeded.append(uinfin)
    return seeded


def demo_accounts_table(uinfins: list[str] | None = None) -> Table:
    # Borderless, so it fits an 80-column terminal without cutting the secret short.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("NRIC/FIN", "password", "code now"):
        table.add_column(name, no_wrap=True)
    table.add_column("authenticator secret", no_wrap=True, min_width=32)
    for uinfin in uinfins if uinfins is not None else list(DEMO_ACCOUNTS):
        secret = DEMO_ACCOUNTS[uinfin]
        table.add_row(uinfin, DEMO_PASSWORD, pyotp.TOTP(secret).now(), secret)
    return table


def _fail(exc: DomainError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    for where, reasons in getattr(exc, "errors", {}).items():
        console.print(f"  {where}: {'; '.join(reasons)}")
    sys.exit(1)
