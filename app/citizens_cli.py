"""`consentry citizens ...`: citizen sign-in accounts. `enrol` issues activation letters (a
one-time code, printed or exported for a mail house; the citizen chooses their own password at
/citizen/activate); `rewrap-secrets` moves those secrets to the active master key;
`demo-codes` prints the current codes of the published demo accounts.

The demo accounts (DEMO_ACCOUNTS, DEMO_PASSWORD) are published credentials for synthetic people,
seeded only by `consentry demo`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sys
from pathlib import Path

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
from core.uinfin import partial_uinfin
from identity.accounts import enrol, rewrap_batch
from identity.activation import issue_letter
from profile_store.citizens import find_citizen_by_uinfin, normalise_uinfin

from .auditing import record
from .citizen.activation import code_key
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
@click.argument("uinfins", metavar="UINFIN...", nargs=-1, required=True)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the letters to this new file for a mail house instead of printing them: "
    "JSON (a list) or CSV (uinfin, activation_code, expires_at), by the file's extension.",
)
@click.option("--valid-days", default=30, show_default=True, type=click.IntRange(1, 366))
@with_appcontext
def enrol_command(uinfins: tuple[str, ...], export_path: Path | None, valid_days: int) -> None:
    """Issue an activation letter to each citizen UINFIN: a one-time code, valid --valid-days,
    with which they open their account at /citizen/activate (never a password). A new letter
    revokes the citizen's earlier ones. All letters or none; each one audited
    (activation_letter_issued, never the code)."""
    if export_path is not None and export_path.suffix.lower() not in (".json", ".csv"):
        raise click.UsageError("the export file must end in .json or .csv")
    rt, now = runtime(), utcnow()
    key, letters = code_key(), []
    try:
        with transaction(rt.sessions) as session:
            for uinfin in uinfins:
                letter = issue_letter(
                    session,
                    vault=rt.vault,
                    key=key,
                    uinfin=uinfin,
                    now=now,
                    valid_for=dt.timedelta(days=valid_days),
                )
                citizen_ref = rt.vault.digest_uinfin(normalise_uinfin(uinfin))
                details = {
                    "actor": "cli",
                    "letter_id": letter.letter_id,
                    "expires_at": letter.expires_at.isoformat(),
                }
                record(
                    session,
                    Event(
                        kind="activation_letter_issued",
                        citizen_ref=citizen_ref,
                        outcome="issued",
                        details=details,
                    ),
                )
                letters.append((normalise_uinfin(uinfin), letter))
            if export_path is not None:
                _export_letters(export_path, letters)
    except DomainError as exc:
        _fail(exc)
    except OSError as exc:
        raise click.ClickException(f"cannot write {export_path}: {exc}") from exc
    if export_path is not None:
        console.print(
            f"{len(letters)} activation letters written to {export_path} (keep it safe: it holds the codes)"
        )
        return
    for uinfin, letter in letters:
        click.echo(
            f"{partial_uinfin(uinfin)}  activation code {letter.code}  valid until "
            f"{letter.expires_at:%Y-%m-%d %H:%M} UTC  (activate at /citizen/activate)"
        )


def _export_letters(path: Path, letters: list) -> None:
    """Write the letters to a new file, readable by its owner only; refuses to overwrite."""
    rows = [
        {"uinfin": uinfin, "activation_code": letter.code, "expires_at": letter.expires_at.isoformat()}
        for uinfin, letter in letters
    ]
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", newline="") as out:
        if path.suffix.lower() == ".json":
            json.dump(rows, out, indent=2)
        else:
            writer = csv.DictWriter(out, fieldnames=["uinfin", "activation_code", "expires_at"])
            writer.writeheader()
            writer.writerows(rows)


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
