"""`consentry keys ...`: the platform's own JOSE keys (what signs our tokens, what clients
encrypt to, what signs consent receipts): list them, make sure one of each use is active, rotate
with an overlap.

See docs/keys.md for when to rotate and with which overlap.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table

from audit.log import Event
from core.clock import utcnow
from core.crypto.platform_keys import (
    ALGORITHMS,
    DEFAULT_OVERLAP,
    RECEIPT,
    TOKEN_USES,
    Use,
    ensure_keys,
    find_active_kid,
    list_keys,
    rotate,
)
from core.db import transaction
from core.errors import DomainError

from .auditing import record
from .extensions import runtime

console = Console(stderr=True, soft_wrap=True)  # kids are long; never break them
# A kid is a 43-character thumbprint; a table that wide must not be cut to a pipe's 80 columns.
TABLE_WIDTH = 150


@click.group("keys")
def keys_group() -> None:
    """The platform's signing, encryption and receipt keys (published in our JWKS documents)."""


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


@keys_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every key, newest first: kid, use, alg, when activated, when retired, published now or not."""
    now = utcnow()
    with runtime().sessions() as session:
        keys = list_keys(session, now=now)
    table = Table("kid", "use", "alg", "activated", "retire_at", "published")
    for key, published in keys:
        table.add_row(
            key.kid,
            key.use,
            key.alg,
            _when(key.activated_at),
            _when(key.retire_at),
            "yes" if published else "no",
        )
    out = Console()
    if not out.is_terminal:
        out = Console(width=max(out.width, TABLE_WIDTH))
    out.print(table)
    if not keys:
        console.print("no platform keys yet: run `consentry keys ensure`")


@keys_group.command("ensure")
@with_appcontext
def ensure() -> None:
    """Make sure one active key of each use exists; create what is missing (idempotent)."""
    rt, now = runtime(), utcnow()
    try:
        with transaction(rt.sessions) as session:
            before = {use: find_active_kid(session, use=use, now=now) for use in ALGORITHMS}
            kids = ensure_keys(session, keyring=rt.vault.keyring, now=now)
            created = {use: kid for use, kid in kids.items() if before[use] != kid}
            if created:
                details = {"action": "keys_created", "created": created}
                record(session, Event(kind="admin_action", outcome="keys_created", details=details))
    except DomainError as exc:
        _fail(exc)
    for use, kid in kids.items():
        console.print(f"{use}: {kid}{' (created)' if use in created else ''}")


@keys_group.command("rotate")
@click.option(
    "--use",
    "which",
    type=click.Choice(["sig", "enc", "all", "receipt"]),
    required=True,
    help="The signing key, the encryption key, both (all), or the consent-receipt key.",
)
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=None,
    help=(
        f"How long the old key stays published (default {int(DEFAULT_OVERLAP.total_seconds() // 60)} "
        "for sig and enc; a receipt key stays published with no end, so old receipts verify). "
        "0 withdraws it at once (a compromised key)."
    ),
)
@with_appcontext
def rotate_command(which: str, overlap_minutes: int | None) -> None:
    """Make a new active key; the old one stays published for the overlap, then is gone."""
    rt, now = runtime(), utcnow()
    uses: list[Use] = list(TOKEN_USES) if which == "all" else [which]  # type: ignore[list-item]
    if overlap_minutes is None and which != RECEIPT:
        overlap_minutes = int(DEFAULT_OVERLAP.total_seconds() // 60)
    overlap = None if overlap_minutes is None else dt.timedelta(minutes=overlap_minutes)
    try:
        with transaction(rt.sessions) as session:
            rotated = []
            for use in uses:
                old = find_active_kid(session, use=use, now=now)
                new = rotate(session, keyring=rt.vault.keyring, use=use, now=now, overlap=overlap).kid
                rotated.append({"use": use, "new_kid": new, "old_kid": old})
            details = {"action": "keys_rotated", "keys": rotated, "overlap_minutes": overlap_minutes}
            record(session, Event(kind="admin_action", outcome="keys_rotated", details=details))
    except DomainError as exc:
        _fail(exc)
    for item in rotated:
        console.print(f"{item['use']}: new active key {item['new_kid']}")
        if item["old_kid"] and overlap is None:
            console.print(f"  old key {item['old_kid']} stays published: receipts it signed keep verifying")
        elif item["old_kid"]:
            console.print(f"  old key {item['old_kid']} published until {_when(now + overlap)}")


def _fail(exc: DomainError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    sys.exit(1)
