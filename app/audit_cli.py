"""`consentry audit ...`: verify, export, checkpoint, public key, publish (tiles)."""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from audit.checkpointer import CheckpointPolicy, run_signer, sign_if_due
from audit.export import export_lines
from audit.integrator import BATCH, integrate_batch, run_integrator
from audit.tiles import PublishedElsewhere
from audit.tiles import publish as publish_tiles
from audit.tree import latest_checkpoint, tree_size
from audit.verification_runs import record_verification
from audit.verify import verify_log
from audit.witness_check import verify_witnessing
from audit.witness_client import WitnessSubmitter, httpx_post, parse_witnesses, start_submitter
from core.clock import utcnow
from core.db import transaction
from core.errors import ConfigurationError, NotFound

from .extensions import runtime

console = Console(stderr=True)
# The one-off command signs whenever anything is unsigned.
SIGN_NOW = CheckpointPolicy(dt.timedelta(0), 1)


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident disclosure log."""


@audit_group.command("verify")
@click.option(
    "--witnessed",
    "witnessed_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A cosigned checkpoint note kept outside our database (e.g. from a witness's state).",
)
@with_appcontext
def verify(witnessed_files: tuple[Path, ...]) -> None:
    """Recompute every leaf hash, the chain, the tree and every checkpoint signature, and check
    every searchable column, attribute row and tree node against the entries (docs/audit.md,
    "What verification covers"). Then, with AUDIT_WITNESSES, every stored cosignature against its
    witness's key, and the newest checkpoint a quorum cosigned: the log must hold it (a rewrite or
    rollback below it fails). Exits 1 naming the first bad position (seq, tree node, or
    cosignature by tree size and witness)."""
    rt = runtime()
    with rt.sessions() as session:
        total = tree_size(session)
        with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("verify", total=total)
            report = verify_log(
                session,
                public_key=rt.audit_signer.public_key,
                on_progress=lambda n: bar.update(task, completed=n),
                max_merge_delay=dt.timedelta(seconds=rt.config.audit_max_merge_delay_s),
                now=utcnow(),
            )
            bar.update(task, completed=report.entries)
    notes = [f.read_text(encoding="utf-8") for f in witnessed_files]
    targets = _witnesses(rt)
    if notes and not targets:
        raise click.ClickException("--witnessed needs AUDIT_WITNESSES (the witness keys to trust)")
    witnessing = None
    if report.ok and targets:
        with rt.sessions() as session:
            witnessing = verify_witnessing(
                session,
                log_vkey=rt.audit_signer.note_verifier_key(),
                targets=targets,
                quorum=rt.config.audit_witness_quorum,
                extra_notes=notes,
            )
        if witnessing.finding is not None:
            report.findings.append(witnessing.finding)
    with transaction(rt.sessions) as session:  # the auditor console's status page shows the last run
        record_verification(session, report=report, now=utcnow())
    if not report.ok:
        console.print(f"[red]FAILED[/red] {report.first}")
        sys.exit(1)
    console.print(f"OK: {report.entries} entries, {report.checkpoints} checkpoints verified")
    _print_witnessing(witnessing, targets, rt.config.audit_witness_quorum)


def _print_witnessing(witnessing, targets: list, quorum: int) -> None:
    """What witnessing added to a passed verification (docs/audit.md, "Witnesses")."""
    if witnessing is None:
        console.print("no witnesses configured (AUDIT_WITNESSES): witnessed size not checked")
        return
    cosigned, held = witnessing.cosignatures, witnessing.held
    others = f"; {cosigned.unchecked} by witnesses not configured, not checked" if cosigned.unchecked else ""
    console.print(f"cosignatures: {cosigned.checked} verified with the witnesses' keys{others}")
    if held is None or held.witnessed is None:
        console.print(f"no checkpoint cosigned by {quorum} of {len(targets)} witnesses yet")
        return
    names = ", ".join(sorted(held.witnessed.cosigners))
    console.print(f"newest witnessed size: {held.size} (cosigned by {names}); the log holds it")


def _witnesses(rt) -> list:
    try:
        return parse_witnesses(rt.config.audit_witnesses)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def stop_on_signals() -> threading.Event:
    """An event SIGTERM or SIGINT (Ctrl-C) sets: a looping command stops after its round."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def start_witnessing(rt, stop: threading.Event) -> None:
    """With AUDIT_WITNESSES, the witness submitter in a thread beside a loop that signs
    checkpoints: `checkpoint --every`, and `integrate --every`, which signs them itself in a
    batched deployment (that may run no other signer, and would then never be witnessed)."""
    if targets := _witnesses(rt):
        start_submitter(WitnessSubmitter(rt.sessions, targets, httpx_post(), utcnow), stop=stop)
        console.print(f"offering checkpoints to {len(targets)} witnesses")


class Duration(click.ParamType):
    """A duration such as 500ms, 5s, 2m or 1h (a bare number is seconds)."""

    name = "duration"
    _UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}

    def convert(self, value, param, ctx) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        text = str(value).strip().lower()
        unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "")
        try:
            seconds = float(text[: len(text) - len(unit)]) * self._UNITS.get(unit, 1)
        except ValueError:
            self.fail(f"{value!r} is not a duration like 5s, 30s or 2m", param, ctx)
        if not 0 <= seconds <= 86400:
            self.fail("a duration between 0 s and 24 h", param, ctx)
        return dt.timedelta(seconds=seconds)


@audit_group.command("checkpoint")
@click.option(
    "--every",
    "every",
    type=Duration(),
    default=None,
    help="Keep running: sign at most this often (e.g. 5s, 30s, 2m) when new entries exist.",
)
@click.option(
    "--max-entries",
    type=click.IntRange(min=1),
    default=None,
    help="With --every: sign at once when this many entries are unsigned (default AUDIT_CHECKPOINT_EVERY).",
)
@with_appcontext
def checkpoint(every: dt.timedelta | None, max_entries: int | None) -> None:
    """Sign a checkpoint of the log as it is now; with --every, keep signing until stopped.
    Several servers may run this at once: one signs at a time (a database lock)."""
    rt = runtime()
    if every is None:
        with transaction(rt.writer_sessions) as session:
            made = sign_if_due(session, signer=rt.audit_signer, policy=SIGN_NOW, now=utcnow())
        console.print(f"checkpoint at tree size {made.tree_size}" if made else "nothing new to sign")
        return
    policy = CheckpointPolicy(every, max_entries or rt.config.audit_checkpoint_every)
    stop = stop_on_signals()
    console.print(f"signing checkpoints at most every {every.total_seconds():g} s; Ctrl-C stops")
    start_witnessing(rt, stop)
    run_signer(
        rt.writer_sessions,
        signer=rt.audit_signer,
        policy=policy,
        stop=stop,
        clock=utcnow,
        poll_s=min(1.0, max(every.total_seconds(), 0.05)),
        on_signed=lambda made: console.print(f"checkpoint at tree size {made.tree_size}"),
        on_error=lambda exc: console.print(f"[red]signing failed, retrying[/red]: {type(exc).__name__}"),
    )


@audit_group.command("integrate")
@click.option(
    "--every",
    "every",
    type=Duration(),
    default=None,
    help="Keep running: integrate what is queued at least this often (e.g. 100ms; AUDIT_INTEGRATE_EVERY_S).",
)
@click.option(
    "--batch", type=click.IntRange(min=1), default=BATCH, show_default=True, help="Entries per transaction."
)
@with_appcontext
def integrate(every: dt.timedelta | None, batch: int) -> None:
    """Fold queued audit entries (AUDIT_INTEGRATION=batched) into the tree, the chain and the
    head, in batches, signing a checkpoint at a batch's end when one is due (AUDIT_CHECKPOINT_EVERY
    entries or AUDIT_CHECKPOINT_INTERVAL_S). Once: until the queue is empty; with --every: until
    stopped. Several servers may run this: one integrates at a time (a database lock)."""
    rt = runtime()
    policy = CheckpointPolicy(
        dt.timedelta(seconds=rt.config.audit_checkpoint_interval_s), rt.config.audit_checkpoint_every
    )

    def sign(session) -> None:
        sign_if_due(session, signer=rt.audit_signer, policy=policy, now=utcnow())

    if every is None:
        total = 0
        while True:
            with transaction(rt.writer_sessions) as session:
                done = integrate_batch(session, limit=batch, after=sign)
            total += done
            if done < batch:
                break
        console.print(f"integrated {total} entries")
        return
    stop = stop_on_signals()
    console.print(f"integrating queued entries at least every {every.total_seconds():g} s; Ctrl-C stops")
    start_witnessing(rt, stop)
    run_integrator(
        rt.writer_sessions,
        stop=stop,
        every_s=max(every.total_seconds(), 0.01),
        limit=batch,
        after=sign,
        on_error=lambda exc: console.print(f"[red]integration failed, retrying[/red]: {type(exc).__name__}"),
    )


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
@click.option("--note", is_flag=True, help="Print the signed-note verifier key string instead of PEM.")
@with_appcontext
def public_key(note: bool) -> None:
    """Print the audit public key (PEM) that checkpoints verify against; with --note, the C2SP
    verifier key string that checkpoint notes (/log/checkpoint) verify against."""
    signer = runtime().audit_signer
    click.echo(signer.note_verifier_key() if note else signer.public_pem().decode(), nl=note)


@audit_group.command("publish")
@click.option(
    "--to",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for a static host: checkpoint and tile/... are written under it.",
)
@with_appcontext
def publish(directory: Path) -> None:
    """Write the latest checkpoint (signed note, with the witnesses' cosignatures) and its hash
    tiles (tlog-tiles) to a directory. Resumable: full tiles already written are skipped; partial
    tiles and the checkpoint are rewritten, the checkpoint last. A checkpoint already in the
    directory that is not ours (another key, or another root at its size) stops it before it
    writes anything: exit 1. Entry bundles are not written (they are for auditors)."""
    rt = runtime()
    progress = Progress(TextColumn("publishing tiles"), MofNCompleteColumn(), console=console)
    with rt.sessions() as session, progress as bar:
        task = bar.add_task("publish", total=None)
        try:
            report = publish_tiles(
                session,
                directory,
                log_vkey=rt.audit_signer.note_verifier_key(),
                on_tile=lambda _: bar.advance(task),
            )
        except (NotFound, PublishedElsewhere) as exc:
            raise click.ClickException(str(exc)) from None
    console.print(
        f"tree size {report.tree_size}: {report.written} tiles written, {report.skipped} already there"
    )
