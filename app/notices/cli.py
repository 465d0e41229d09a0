"""`consentry notifications work [--every 2s]` sweeps ending consents (reminders, expiries) and
delivers notices to citizens and events to apps (once, or until SIGTERM);
`consentry notifications failed` lists those that used up their attempts, for operators, and
`retry-failed` queues them again."""

from __future__ import annotations

import datetime as dt
import os
import socket

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table

from core.clock import utcnow
from notifications.worker import deliver_due, failed_notices, retry_failed, run_worker

from ..audit_cli import Duration, stop_on_signals
from ..extensions import runtime
from .sweep import sweep
from .wiring import build_mailer, build_webhooks

console = Console()


@click.group("notifications")
def notifications_group() -> None:
    """Notices to citizens: the outbox worker and its failures."""


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@notifications_group.command("work")
@click.option(
    "--every",
    type=Duration(),
    default=None,
    help="Keep running, looking for due notices this often (e.g. 2s).",
)
@click.option("--batch", type=click.IntRange(min=1, max=1000), default=50, show_default=True)
@with_appcontext
def work(every: dt.timedelta | None, batch: int) -> None:
    """Deliver the notices due now (once), or keep delivering with --every until SIGTERM or Ctrl-C.
    Several workers may run at once: each notice is claimed by one."""
    rt = runtime()
    mailer, webhooks, name = build_mailer(rt), build_webhooks(rt), worker_name()
    if every is None:
        swept = sweep(rt, now=utcnow())
        report = deliver_due(
            rt.writer_sessions, mailer, now=utcnow(), worker=name, batch=batch, webhooks=webhooks
        )
        console.print(f"reminded {swept.reminded}, expired {swept.expired}; {_summary(report)}")
        return
    stop = stop_on_signals()
    console.print(f"delivering notices every {every.total_seconds():g} s as {name}; Ctrl-C stops")
    run_worker(
        rt.writer_sessions,
        mailer,
        worker=name,
        every=every,
        stop=stop,
        clock=utcnow,
        batch=batch,
        on_report=lambda report: console.print(_summary(report)),
        webhooks=webhooks,
        chores=lambda now: sweep(rt, now=now),
        on_error=lambda exc: console.print(
            f"[red]delivery round failed, retrying[/red]: {type(exc).__name__}"
        ),
    )


def _summary(report) -> str:
    return (
        f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, "
        f"skipped {report.skipped}, held for digest {report.deferred}"
    )


@notifications_group.command("failed")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=100, show_default=True)
@with_appcontext
def failed(limit: int) -> None:
    """List notices that used up their attempts: id, template, created, attempts, last error."""
    with runtime().sessions() as session:
        rows = failed_notices(session, limit=limit)
    if not rows:
        console.print("no failed notices")
        return
    table = Table("id", "template", "created (UTC)", "attempts", "last error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.template,
            f"{row.created_at:%Y-%m-%d %H:%M}",
            str(row.attempts),
            row.last_error or "",
        )
    console.print(table)


@notifications_group.command("retry-failed")
@with_appcontext
def retry() -> None:
    """Queue every failed notice again, due now, its attempts reset."""
    with runtime().writer_sessions() as session:
        count = retry_failed(session, now=utcnow())
        session.commit()
    console.print(f"{count} notices queued again")
