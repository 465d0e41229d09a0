"""`consentry audit ...`: verify, export, checkpoint, public key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from audit.auditors import record_verification
from audit.export import export_lines
from audit.log import create_checkpoint, latest_checkpoint, tree_size
from audit.verify import verify_log
from core.clock import utcnow
from core.db import transaction

from .extensions import runtime

console = Console(stderr=True)


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident disclosure log."""


@audit_group.command("verify")
@with_appcontext
def verify() -> None:
    """Recompute every leaf hash, the chain, the tree and every checkpoint signature.
    Exits 1 and names the first bad entry when anything does not match."""
    rt = runtime()
    with rt.sessions() as session:
        total = tree_size(session)
        with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("verify", total=total)
            report = verify_log(
                session,
                public_key=rt.audit_signer.public_key,
                on_progress=lambda n: bar.update(task, completed=n),
            )
            bar.update(task, completed=report.entries)
    with transaction(rt.sessions) as session:  # the auditor console's status page shows the last run
        record_verification(session, report=report, now=utcnow())
    if not report.ok:
        console.print(f"[red]FAILED[/red] {report.first}")
        sys.exit(1)
    console.print(f"OK: {report.entries} entries, {report.checkpoints} checkpoints verified")


@audit_group.command("checkpoint")
@with_appcontext
def checkpoint() -> None:
    """Sign a checkpoint of the log as it is now."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        made = create_checkpoint(session, signer=rt.audit_signer, now=utcnow())
    console.print(f"checkpoint at tree size {made.tree_size}" if made else "nothing new to sign")


@audit_group.command("export")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Export file (JSON Lines); the covering checkpoint is written beside it.",
)
@with_appcontext
def export(out: Path) -> None:
    """Export the log up to its latest checkpoint, with that checkpoint and the public key, for
    offline verification with `python -m audit.verifier`."""
    rt = runtime()
    with rt.sessions() as session:
        latest = latest_checkpoint(session)
        if latest is None:
            raise click.ClickException("no checkpoint yet: run `consentry audit checkpoint` first")
        with out.open("w", encoding="utf-8") as handle:
            for line in export_lines(session, log_id=rt.audit_signer.log_id, upto=latest.tree_size):
                handle.write(line)
        out.with_suffix(".checkpoint.json").write_text(
            f'{{"body":{latest.body},"signature":"{latest.signature}"}}\n', encoding="utf-8"
        )
    out.with_suffix(".pub.pem").write_bytes(rt.audit_signer.public_pem())
    console.print(f"exported {latest.tree_size} entries to {out}")


@audit_group.command("public-key")
@with_appcontext
def public_key() -> None:
    """Print the audit public key (PEM) that checkpoints verify against."""
    click.echo(runtime().audit_signer.public_pem().decode(), nl=False)
