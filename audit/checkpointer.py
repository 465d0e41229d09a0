"""Signing checkpoints on their own, so a release's inclusion proof is available seconds after it.

Witnessing (audit/witness_client.py) runs beside the signer in a thread of its own: each new
checkpoint is offered to the configured witnesses after it is committed, and a slow or absent
witness never holds up signing.

A checkpoint is due when the log has grown since the latest one and either `min_interval` has
passed since that one or `max_entries` entries have accumulated under no checkpoint. Several app
servers may each run a signer: a database lock lets exactly one sign at a time, and the others
skip that round.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction

from .models import AuditCheckpoint, AuditHead
from .signer import AuditSigner
from .tree import create_checkpoint

# pg_try_advisory_xact_lock key: "CKPT" in ASCII. Released when the signer's transaction ends.
_PG_SIGNER_LOCK = 0x434B5054


@dataclass(frozen=True)
class CheckpointPolicy:
    min_interval: dt.timedelta = dt.timedelta(seconds=5)
    max_entries: int = 1000

    def __post_init__(self) -> None:
        if self.min_interval < dt.timedelta(0) or self.max_entries < 1:
            raise ValueError("checkpoint interval must be >= 0 and max_entries >= 1")


@dataclass(frozen=True)
class LogProgress:
    """How far the log is ahead of its latest checkpoint."""

    tree_size: int
    signed_size: int
    signed_at: dt.datetime | None

    @property
    def unsigned(self) -> int:
        return self.tree_size - self.signed_size

    def next_due(self, policy: CheckpointPolicy, now: dt.datetime) -> dt.datetime | None:
        """When the next checkpoint is due: None when every entry is signed, `now` when overdue."""
        if self.unsigned <= 0:
            return None
        if self.signed_at is None or self.unsigned >= policy.max_entries:
            return now
        return max(now, self.signed_at + policy.min_interval)


def log_progress(session: Session) -> LogProgress:
    size = session.scalar(select(AuditHead.next_seq).where(AuditHead.id == 1)) or 0
    latest = session.execute(
        select(AuditCheckpoint.tree_size, AuditCheckpoint.created_at)
        .order_by(AuditCheckpoint.tree_size.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return LogProgress(size, 0, None)
    return LogProgress(size, latest.tree_size, latest.created_at)


def sign_if_due(
    session: Session, *, signer: AuditSigner, policy: CheckpointPolicy, now: dt.datetime
) -> AuditCheckpoint | None:
    """Sign a checkpoint of the log as it is now if one is due and no other signer is at work.

    Runs inside the caller's transaction, which must be a writer on SQLite (its write lock is
    what serialises signers there); the caller commits. Returns the new checkpoint, or None when
    nothing is due or another signer holds the lock (PostgreSQL: skipped at once, not waited for).
    """
    if not _take_signer_lock(session):
        return None
    progress = log_progress(session)
    due = progress.next_due(policy, now)
    if due is None or due > now:
        return None
    return create_checkpoint(session, signer=signer, now=now)


def _take_signer_lock(session: Session) -> bool:
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return True  # the writer transaction (BEGIN IMMEDIATE) already excludes other signers
    taken = connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _PG_SIGNER_LOCK})
    return bool(taken.scalar())


def run_signer(
    sessions: sessionmaker[Session],
    *,
    signer: AuditSigner,
    policy: CheckpointPolicy,
    stop: threading.Event,
    clock: Callable[[], dt.datetime],
    poll_s: float = 1.0,
    on_signed: Callable[[AuditCheckpoint], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Check every `poll_s` seconds until `stop` is set, signing when due. A failed round (the
    database away, a lock timeout) is reported to `on_error` and tried again next round: the
    signer outlives outages instead of ending silently."""
    while not stop.is_set():
        try:
            with transaction(sessions) as session:
                made = sign_if_due(session, signer=signer, policy=policy, now=clock())
            if made is not None and on_signed is not None:
                on_signed(made)
        except Exception as exc:  # reported, and the next round retries
            if on_error is None:
                raise
            on_error(exc)
        stop.wait(poll_s)
