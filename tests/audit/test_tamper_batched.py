"""Tamper suite for a batched log (tests/audit/test_tamper.py's approach): entries at their seq,
then entries named by id placed by audit_leaves, then entries still queued. Every column of the
tables batched integration adds (COVERED, which test_tamper's coverage check counts), and their
rows deleted and inserted, must make `verify_log` name the first bad position."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from audit.integrator import integrate_batch
from audit.log import BATCHED, Event, append
from audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditLeaf, AuditQueued
from audit.tree import create_checkpoint, tree_size
from audit.verify import verify_log

pytestmark = pytest.mark.as_owner  # the attacker has the tables' owner's rights

E, L, Q = AuditEntry, AuditLeaf, AuditQueued
GUARDED = ("audit_entries", "audit_entry_attributes", "audit_tree_nodes", "audit_checkpoints")
GUARDED += ("audit_leaves", "audit_queue")


@dataclass(frozen=True)
class Log:
    leaves_from: int  # the tree size at the first entry named by id
    placed: tuple[int, ...]  # seqs (ids) of the integrated entries named by id, in leaf order
    queued: tuple[int, ...]  # ... and of those still queued
    size: int


def _event(i: int) -> Event:
    return Event(
        kind="disclosure", citizen_ref=f"{i:064x}", app_id="app-1", attributes=("name",), details={"n": i}
    )


def _bypass_guard(connection) -> None:
    if connection.dialect.name == "postgresql":
        for table in GUARDED:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        return
    connection.execute(text("PRAGMA defer_foreign_keys = ON"))  # never checked: rolled back
    for table in GUARDED:
        for guard in ("no_update", "no_delete", "no_overwrite"):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_{guard}"))


@pytest.fixture
def log(db_session, runtime, now) -> Log:
    for i in range(4):
        append(db_session, _event(i), now=now)
    leaves_from = tree_size(db_session)
    placed = [append(db_session, _event(10 + i), now=now, integration=BATCHED).seq for i in range(6)]
    assert integrate_batch(db_session) == 6
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    queued = [append(db_session, _event(20 + i), now=now, integration=BATCHED).seq for i in range(2)]
    assert verify(db_session, runtime).ok
    _bypass_guard(db_session.connection())
    return Log(leaves_from, tuple(placed), tuple(queued), leaves_from + 6)


def verify(session, runtime):
    return verify_log(session, public_key=runtime.audit_signer.public_key, batch_size=3)


@dataclass(frozen=True)
class Mutation:
    name: str
    table: str
    column: str | None  # None: a row deleted or inserted
    apply: Callable[[Session, Log], str]  # does it; returns where verification must stop


def _alter(model, where: Callable[[Log], list], **values: Callable[[Log], object]):
    def apply(session: Session, log: Log) -> None:
        session.execute(update(model).where(*where(log)).values({k: f(log) for k, f in values.items()}))

    return apply


def mutation(name, table, column, change, expect: Callable[[Log], str]) -> Mutation:
    def apply(session: Session, log: Log) -> str:
        change(session, log)
        return expect(log)

    return Mutation(name, table, column, apply)


def seq_of(pick: Callable[[Log], int]) -> Callable[[Log], str]:
    return lambda log: f"seq {pick(log)}"


def third_leaf(log: Log) -> list:
    return [L.seq == log.placed[2]]


def first_queued(log: Log) -> list:
    return [Q.seq == log.queued[0]]


def head(log: Log) -> list:
    return [AuditHead.id == 1]


def _queued_body_altered(session: Session, log: Log) -> None:
    body = json.loads(session.scalar(select(E.body).where(E.seq == log.queued[0])))
    body["outcome"] = "denied"
    session.execute(
        update(E).where(E.seq == log.queued[0]).values(body=json.dumps(body, separators=(",", ":")))
    )


def _queued_leaf_inserted(session: Session, log: Log) -> None:
    session.execute(insert(L).values(leaf_index=log.size, seq=log.queued[0], chain_hash=bytes(32)))


MUTATIONS = [
    # audit_leaves: every column; a leaf deleted; a leaf added for a queued entry
    mutation(
        "leaf-index",
        "audit_leaves",
        "leaf_index",
        _alter(L, third_leaf, leaf_index=lambda log: log.size + 100),
        lambda log: f"leaf {log.leaves_from + 2}",
    ),
    mutation(
        "leaf-seq",
        "audit_leaves",
        "seq",
        _alter(L, third_leaf, seq=lambda log: log.queued[0]),
        seq_of(lambda log: log.queued[0]),
    ),
    mutation(
        "leaf-chain_hash",
        "audit_leaves",
        "chain_hash",
        _alter(L, third_leaf, chain_hash=lambda log: bytes(32)),
        seq_of(lambda log: log.placed[2]),
    ),
    mutation(
        "leaf-deleted",
        "audit_leaves",
        None,
        lambda s, log: s.execute(delete(L).where(*third_leaf(log))),
        lambda log: f"leaf {log.leaves_from + 2}",
    ),
    mutation("leaf-inserted", "audit_leaves", None, _queued_leaf_inserted, seq_of(lambda log: log.queued[0])),
    # audit_queue: its column; a row deleted (the entry would never reach the tree); a row added
    mutation(
        "queue-seq",
        "audit_queue",
        "seq",
        _alter(Q, first_queued, seq=lambda log: log.placed[0]),
        seq_of(lambda log: log.placed[0]),
    ),
    mutation(
        "queue-deleted",
        "audit_queue",
        None,
        lambda s, log: s.execute(delete(Q).where(*first_queued(log))),
        seq_of(lambda log: log.queued[0]),
    ),
    mutation(
        "queue-inserted",
        "audit_queue",
        None,
        lambda s, log: s.execute(insert(Q).values(seq=log.placed[1])),
        seq_of(lambda log: log.placed[1]),
    ),
    # audit_head.leaves_from: cleared, moved on
    mutation(
        "head-leaves_from-cleared",
        "audit_head",
        "leaves_from",
        _alter(AuditHead, head, leaves_from=lambda log: None),
        seq_of(lambda log: log.leaves_from),
    ),
    mutation(
        "head-leaves_from-later",
        "audit_head",
        "leaves_from",
        _alter(AuditHead, head, leaves_from=lambda log: log.leaves_from + 1),
        seq_of(lambda log: log.leaves_from),
    ),
    # entries named by id: a chain hash of their own; a queued entry altered
    mutation(
        "id-entry-chain_hash",
        "audit_entries",
        "chain_hash",
        _alter(E, lambda log: [E.seq == log.placed[2]], chain_hash=lambda log: bytes(32)),
        seq_of(lambda log: log.placed[2]),
    ),
    mutation("queued-body", "audit_entries", "body", _queued_body_altered, seq_of(lambda log: log.queued[0])),
]
# The tables batched integration adds, and the columns the mutations above change: test_tamper.py's
# coverage check counts them.
TABLES = {"audit_leaves", "audit_queue"}
COVERED = {(m.table, m.column) for m in MUTATIONS if m.column is not None and m.table != "audit_entries"}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_tampering_with_a_batched_log_is_found_at_the_first_bad_position(db_session, runtime, log, mutation):
    expected = mutation.apply(db_session, log)
    report = verify(db_session, runtime)
    assert not report.ok, f"{mutation.name} went unnoticed"
    assert report.first.where == expected, str(report.first)


def test_a_queued_entry_is_not_late_within_the_maximum_merge_delay(db_session, runtime, log, now):
    report = verify_log(
        db_session,
        public_key=runtime.audit_signer.public_key,
        max_merge_delay=dt.timedelta(seconds=60),
        now=now,
    )
    assert report.ok


# --- findings at a leaf position name it as a leaf, not as the seq of another entry -------------


@pytest.fixture
def shuffled(db_session, runtime, now) -> int:
    """A batched log whose ids are not their leaf positions (an inline append after two queued
    entries is placed ahead of them), a checkpoint over all of it; its last leaf's position."""
    for i in range(3):
        append(db_session, _event(i), now=now)
    late = [append(db_session, _event(10 + i), now=now, integration=BATCHED).seq for i in range(2)]
    append(db_session, _event(12), now=now)  # inline: placed at once, ahead of the queue
    integrate_batch(db_session)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    size = tree_size(db_session)
    last = db_session.scalar(select(L.seq).where(L.leaf_index == size - 1))
    assert last == late[-1] != size - 1  # SQLite: "seq 5" would be `early`, at leaf 3
    assert verify(db_session, runtime).ok
    _bypass_guard(db_session.connection())
    return size - 1


@pytest.mark.parametrize("column", ["body", "signature"])
def test_a_tampered_checkpoint_over_batched_entries_names_its_last_leaf(
    db_session, runtime, shuffled, column
):
    size = shuffled + 1
    body = json.loads(
        db_session.scalar(select(AuditCheckpoint.body).where(AuditCheckpoint.tree_size == size))
    )
    body["root_hash"] = "00" * 32
    changed = {"body": json.dumps(body)} if column == "body" else {"signature": "A" * 86}
    db_session.execute(update(AuditCheckpoint).where(AuditCheckpoint.tree_size == size).values(changed))

    report = verify(db_session, runtime)

    assert not report.ok and report.first.where == f"leaf {shuffled}", str(report.first)
    assert f"checkpoint at size {size}" in report.first.problem


def test_a_truncated_batched_tree_names_the_missing_leaf(db_session, runtime, shuffled):
    db_session.execute(update(AuditHead).where(AuditHead.id == 1).values(next_seq=shuffled + 2))
    report = verify(db_session, runtime)
    assert not report.ok and report.first.where == f"leaf {shuffled + 1}", str(report.first)
