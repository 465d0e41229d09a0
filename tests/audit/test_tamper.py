"""Tamper suite: every column of every audit table, changed one at a time (and rows of the
append-only tables deleted and inserted), and `verify_log` must name the first bad position; the
stored witness cosignatures, changed the same way, must fail `verify_cosignatures` (which
`audit verify` runs when witnesses are configured) at their tree size and witness.

The columns come from the table metadata: a new column, or a new audit_* table, fails
`test_every_column_of_every_audit_table_is_tampered_with` until a mutation here covers it or it is
named in UNVERIFIABLE with the reason (docs/audit.md, "What verification covers").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, literal_column, select, text, update
from sqlalchemy.orm import Session

import audit.auditor_models
import audit.models
import audit.witness_models  # noqa: F401 (their tables in the metadata)
from audit import note
from audit.cosignature_check import verify_cosignatures
from audit.log import Event, append
from audit.merkle import frontier_of
from audit.models import AuditCheckpoint, AuditEntry, AuditEntryAttribute, AuditHead, AuditTreeNode
from audit.tree import DbNodeStore, checkpoint_note, create_checkpoint, tree_size
from audit.verify import verify_log
from audit.witness_format import CosignerKey, cosign, parse_cosigner_vkey
from audit.witness_models import AuditCosignature
from core.db import Base
from core.db_roles import APPEND_ONLY
from tests.audit.test_append_only_guard import MUTABLE
from tests.audit.test_tamper_batched import COVERED as BATCHED_COVERED
from tests.audit.test_tamper_batched import TABLES as BATCHED_TABLES

pytestmark = pytest.mark.as_owner  # the attacker has the tables' owner's rights

LOG_TABLES = ("audit_entries", "audit_entry_attributes", "audit_tree_nodes", "audit_checkpoints")
ENTRIES, CHECKPOINT_EVERY = 34, 8  # four checkpoints, then two entries no checkpoint covers
PLAIN, TARGET = 9, 10  # offsets of an entry without attributes and of one with every field set
E, A, N, C = AuditEntry, AuditEntryAttribute, AuditTreeNode, AuditCheckpoint


def _bypass_guard(connection) -> None:
    """Play the attacker with the owner's rights: switch off the append-only triggers (and
    foreign keys) inside the test's transaction, which the fixture rolls back. The only DDL in
    this module: point it at an owner connection if the test's connection may not do this."""
    if connection.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        return
    connection.execute(text("PRAGMA defer_foreign_keys = ON"))  # never checked: rolled back
    for table in APPEND_ONLY:
        for guard in ("no_update", "no_delete", "no_overwrite"):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_{guard}"))


@dataclass(frozen=True)
class Log:
    base: int  # seq of the first entry the test appended (earlier tests may have committed some)
    size: int
    checkpoints: tuple[int, ...]  # tree sizes signed by the test

    def seq(self, offset: int) -> int:
        return self.base + offset


def _event(i: int) -> Event:
    if i % 5 == 4:  # no attributes, no purpose: a consent withdrawn
        return Event(kind="consent_revoked", citizen_ref=f"{i:064x}", app_id=f"app-{i % 3}")
    attributes = ("name", "regadd", "dob", "email")[: 1 + i % 4]
    return Event(
        kind="disclosure",
        citizen_ref=f"{i % 7:064x}",
        app_id=f"app-{i % 3}",
        purpose="housing-loan",
        outcome="released",
        attributes=attributes,
        details={"n": i},
    )


def _append(session: Session, runtime, now: dt.datetime) -> None:
    for i in range(ENTRIES):
        when = now + dt.timedelta(seconds=i, microseconds=7 * i)
        append(session, _event(i), now=when, request_id=f"req-{i}")
        if (i + 1) % CHECKPOINT_EVERY == 0:
            create_checkpoint(session, signer=runtime.audit_signer, now=when)


@pytest.fixture
def log(db_session, runtime, now) -> Log:
    base = tree_size(db_session)
    _append(db_session, runtime, now)
    signed = tuple(base + n for n in range(CHECKPOINT_EVERY, ENTRIES + 1, CHECKPOINT_EVERY))
    assert verify(db_session, runtime).ok
    _bypass_guard(db_session.connection())
    return Log(base, base + ENTRIES, signed)


def verify(session, runtime):
    return verify_log(session, public_key=runtime.audit_signer.public_key, batch_size=7)


# --- the mutations ------------------------------------------------------------------------------
# Each returns where verification must stop: "seq N", "tree node level L index I", or "log" (head).

ALTER, DELETE, INSERT = "alter", "delete", "insert"
Where = Callable[[Log], list]  # the WHERE clause picking the row to change
Expect = Callable[[Log], str]


@dataclass(frozen=True)
class Mutation:
    name: str
    table: str
    column: str | None  # None: a row deleted or inserted (`action`)
    apply: Callable[[Session, Log], str]
    action: str = ALTER


def alter(name: str, model, where: Where, expect: Expect, **value) -> Mutation:
    """Set one column (`value`, a constant or a function of the Log) of the rows `where` picks."""
    ((column, new),) = value.items()

    def apply(session: Session, log: Log) -> str:
        session.execute(update(model).where(*where(log)).values({column: new(log) if callable(new) else new}))
        return expect(log)

    return Mutation(name, model.__tablename__, column, apply)


def removal(name: str, model, where: Where, expect: Expect) -> Mutation:
    def apply(session: Session, log: Log) -> str:
        session.execute(delete(model).where(*where(log)))
        return expect(log)

    return Mutation(name, model.__tablename__, None, apply, DELETE)


def addition(name: str, model, row: Callable[[Session, Log], dict], expect: Expect) -> Mutation:
    def apply(session: Session, log: Log) -> str:
        session.execute(insert(model).values(row(session, log)))
        return expect(log)

    return Mutation(name, model.__tablename__, None, apply, INSERT)


def at(offset: int) -> Expect:
    return lambda log: f"seq {log.seq(offset)}"


def entry(offset: int) -> Where:
    return lambda log: [E.seq == log.seq(offset)]


def attribute(offset: int, name: str) -> Where:
    return lambda log: [A.seq == log.seq(offset), A.attribute == name]


def node2(log: Log) -> tuple[int, int]:
    """A level-2 node wholly inside the test's entries."""
    return 2, (log.base >> 2) + 2


def leaf(log: Log) -> tuple[int, int]:
    return 0, log.seq(TARGET)


def node(position: Callable[[Log], tuple[int, int]]) -> Where:
    return lambda log: [N.level == position(log)[0], N.index == position(log)[1]]


def at_node(position: Callable[[Log], tuple[int, int]]) -> Expect:
    return lambda log: "tree node level {} index {}".format(*position(log))


def checkpoint(log: Log) -> list:
    return [C.tree_size == log.checkpoints[1]]


def at_checkpoint(log: Log) -> str:
    return f"seq {log.checkpoints[1] - 1}"


def head(log: Log) -> list:
    return [AuditHead.id == 1]


def at_log(log: Log) -> str:
    return "log"


def _with_body_outcome(session: Session, log: Log) -> str:
    body = json.loads(session.scalar(select(E.body).where(*entry(TARGET)(log))))
    body["outcome"] = "denied"  # re-serialised as JSON, not canonical: the leaf hash no longer fits
    session.execute(update(E).where(*entry(TARGET)(log)).values(body=json.dumps(body, separators=(",", ":"))))
    return at(TARGET)(log)


def _a_second_later(session: Session, log: Log) -> str:
    recorded = session.scalar(select(E.recorded_at).where(*entry(TARGET)(log)))
    session.execute(
        update(E).where(*entry(TARGET)(log)).values(recorded_at=recorded + dt.timedelta(seconds=1))
    )
    return at(TARGET)(log)


def _checkpoint_root_zeroed(session: Session, log: Log) -> str:
    body = json.loads(session.scalar(select(C.body).where(*checkpoint(log))))
    body["root_hash"] = "00" * 32
    session.execute(update(C).where(*checkpoint(log)).values(body=json.dumps(body)))
    return at_checkpoint(log)


def _frontier_zeroed(session: Session, log: Log) -> str:
    frontier = session.scalar(select(AuditHead.frontier).where(*head(log)))
    session.execute(update(AuditHead).where(*head(log)).values(frontier=bytes(32) + frontier[32:]))
    return "log"


def _copy(model, where: Where, **changes) -> Callable[[Session, Log], dict]:
    """A copy of the row `where` picks, with `changes` (functions of the Log)."""

    def row(session: Session, log: Log) -> dict:
        found = session.execute(select(*model.__table__.c).where(*where(log))).one()
        return {**found._mapping, **{k: f(log) for k, f in changes.items()}}

    return row


def _new_node(position: Callable[[Log], tuple[int, int]]) -> Callable[[Session, Log], dict]:
    return lambda session, log: dict(zip(("level", "index"), position(log), strict=True), hash=bytes(32))


def _new_attribute(offset: int, name: str) -> Callable[[Session, Log], dict]:
    return lambda session, log: {"seq": log.seq(offset), "attribute": name}


AT_TARGET, TARGET_ROW, PLAIN_ROW = at(TARGET), entry(TARGET), entry(PLAIN)
MUTATIONS = [
    # audit_entries: every column; a row deleted, a row added after the last
    alter("entry-seq", E, PLAIN_ROW, at(PLAIN), seq=lambda log: log.size + 100),
    Mutation("recorded_at", "audit_entries", "recorded_at", _a_second_later),
    alter("kind", E, TARGET_ROW, AT_TARGET, kind="admin_action"),
    alter("citizen_ref", E, TARGET_ROW, AT_TARGET, citizen_ref="d" * 64),
    alter("citizen_ref-null", E, TARGET_ROW, AT_TARGET, citizen_ref=None),
    alter("app_id", E, TARGET_ROW, AT_TARGET, app_id="app-other"),
    alter("purpose", E, TARGET_ROW, AT_TARGET, purpose="marketing"),
    alter("outcome", E, TARGET_ROW, AT_TARGET, outcome="denied"),
    Mutation("body", "audit_entries", "body", _with_body_outcome),
    alter("leaf_hash", E, TARGET_ROW, AT_TARGET, leaf_hash=bytes(32)),
    alter("chain_hash", E, TARGET_ROW, AT_TARGET, chain_hash=bytes(32)),
    removal("entry-deleted", E, PLAIN_ROW, at(PLAIN)),
    addition(
        "entry-inserted", E, _copy(E, TARGET_ROW, seq=lambda log: log.size), lambda log: f"seq {log.size}"
    ),
    # audit_entry_attributes: altered, moved to another entry, deleted, added
    alter("attribute", A, attribute(TARGET, "name"), AT_TARGET, attribute="vehicles"),
    alter("attribute-seq", A, attribute(TARGET, "name"), at(PLAIN), seq=lambda log: log.seq(PLAIN)),
    removal("attribute-deleted", A, attribute(TARGET, "regadd"), AT_TARGET),
    addition("attribute-inserted", A, _new_attribute(TARGET, "cpfbalances"), AT_TARGET),
    addition("attribute-inserted-on-plain", A, _new_attribute(PLAIN, "name"), at(PLAIN)),
    # audit_tree_nodes: hash altered (a leaf, an interior node), moved, deleted, added outside
    alter("node-hash", N, node(node2), at_node(node2), hash=bytes(32)),
    alter("leaf-node-hash", N, node(leaf), at_node(leaf), hash=bytes(32)),
    alter("node-level", N, node(node2), at_node(node2), level=40),
    alter("node-index", N, node(node2), at_node(node2), index=lambda log: log.size * 10),
    removal("node-deleted", N, node(node2), at_node(node2)),
    addition(
        "node-beyond-the-tree", N, _new_node(lambda log: (0, log.size)), at_node(lambda log: (0, log.size))
    ),
    addition(
        "node-above-the-tree",
        N,
        _new_node(lambda log: (log.size.bit_length(), 0)),
        at_node(lambda log: (log.size.bit_length(), 0)),
    ),
    addition("node-before-the-tree", N, _new_node(lambda log: (1, -1)), at_node(lambda log: (1, -1))),
    # audit_checkpoints: every column; a genuine body and signature copied to another size
    Mutation("checkpoint-body", "audit_checkpoints", "body", _checkpoint_root_zeroed),
    alter("checkpoint-signature", C, checkpoint, at_checkpoint, signature="A" * 86),
    alter("checkpoint-key_id", C, checkpoint, at_checkpoint, key_id="0" * 16),
    alter(
        "checkpoint-tree_size",
        C,
        checkpoint,
        lambda log: f"seq {log.checkpoints[1]}",
        tree_size=lambda log: log.checkpoints[1] + 1,
    ),
    alter(
        "checkpoint-created_at",
        C,
        checkpoint,
        at_checkpoint,
        created_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    ),
    # The signed-note form: a note of another checkpoint, another origin, half of it removed.
    alter(
        "checkpoint-note_signature",
        C,
        checkpoint,
        at_checkpoint,
        note_signature=lambda log: (
            select(C.note_signature).where(C.tree_size == log.checkpoints[0]).scalar_subquery()
        ),
    ),
    alter("checkpoint-note_origin", C, checkpoint, at_checkpoint, note_origin="other.example/log"),
    alter("checkpoint-note_signature-removed", C, checkpoint, at_checkpoint, note_signature=None),
    addition("checkpoint-inserted", C, _copy(C, checkpoint, tree_size=lambda log: log.seq(3)), at(2)),
    # audit_head: every column
    alter("head-id", AuditHead, head, at_log, id=2),
    alter(
        "head-next_seq-ahead",
        AuditHead,
        head,
        lambda log: f"seq {log.size}",
        next_seq=lambda log: log.size + 1,
    ),
    alter(
        "head-next_seq-behind",
        AuditHead,
        head,
        lambda log: f"seq {log.size - 1}",
        next_seq=lambda log: log.size - 1,
    ),
    alter("head-chain_head", AuditHead, head, at_log, chain_head=bytes(32)),
    Mutation("head-frontier", "audit_head", "frontier", _frontier_zeroed),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_tampering_is_found_at_the_first_bad_position(db_session, runtime, log, mutation):
    expected = mutation.apply(db_session, log)
    report = verify(db_session, runtime)
    assert not report.ok, f"{mutation.name} went unnoticed"
    assert report.first.where == expected, str(report.first)
    assert str(report.first).startswith(f"{expected}: ")


def test_audit_verify_prints_the_bad_tree_node(app, db_session, log):
    expected = next(m for m in MUTATIONS if m.name == "node-hash").apply(db_session, log)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"FAILED {expected}: tree node hash mismatch (expected " in " ".join(result.output.split())


@pytest.mark.parametrize("name", ["head-next_seq-ahead", "head-next_seq-behind"])
def test_a_head_out_of_step_names_both_sizes_of_the_tree(db_session, runtime, log, name):
    next(m for m in MUTATIONS if m.name == name).apply(db_session, log)
    first = verify(db_session, runtime).first
    sizes = {first.expected, first.found}
    # The head says one size, the tree holds another: both are named, as leaves of the tree.
    assert sizes in (
        {f"{log.size} entries in the tree", f"{log.size + 1} entries in the tree"},
        {f"{log.size} entries in the tree", f"{log.size - 1} entries in the tree"},
    )


# --- the witnesses' cosignatures ----------------------------------------------------------------
# Two witnesses: A cosigns every checkpoint but the last, B only the first (so a row can be moved
# to a tree size or a witness name that has no row yet).


@dataclass(frozen=True)
class Witnesses:
    log: Log
    a: CosignerKey
    b: CosignerKey

    @property
    def keys(self) -> list[CosignerKey]:
        return [self.a, self.b]


def _witness(name: str) -> tuple[Ed25519PrivateKey, CosignerKey]:
    private = Ed25519PrivateKey.generate()
    return private, parse_cosigner_vkey(CosignerKey(name, b"", private.public_key()).vkey)


@pytest.fixture
def cosigned(db_session, log, now) -> Witnesses:
    (a_private, a), (b_private, b) = _witness("a.example/w1"), _witness("b.example/w2")
    for private, key, signed in ((a_private, a, log.checkpoints[:-1]), (b_private, b, log.checkpoints[:1])):
        for n, size in enumerate(signed):
            body, _ = note.split_note(checkpoint_note(db_session.get(C, size)))
            timestamp = int(now.timestamp()) + n
            line = cosign(private, key.name, body, timestamp)
            db_session.add(
                AuditCosignature(
                    tree_size=size,
                    witness=key.name,
                    signature=line.split()[-1],
                    cosigned_at=dt.datetime.fromtimestamp(timestamp, dt.UTC),
                    received_at=now,
                )
            )
    db_session.flush()
    report = verify_cosignatures(db_session, [a, b])
    assert report.ok and (report.checked, report.unchecked) == (len(log.checkpoints), 0)
    return Witnesses(log, a, b)


S = AuditCosignature


def _cosignature(w: Witnesses, index: int = 1) -> list:
    return [S.tree_size == w.log.checkpoints[index], S.witness == w.a.name]


def _at_cosignature(size: Callable[[Witnesses], int], witness: Callable[[Witnesses], str]):
    return lambda w: f"cosignature tree size {size(w)} witness {witness(w)}"


def _row_size(w: Witnesses) -> int:
    return w.log.checkpoints[1]


def _a(w: Witnesses) -> str:
    return w.a.name


COSIGNATURE_MUTATIONS = {
    # Moved to a checkpoint A never cosigned: the signature is over another tree.
    "tree_size": (
        {"tree_size": lambda w: w.log.checkpoints[-1]},
        _at_cosignature(lambda w: w.log.checkpoints[-1], _a),
    ),
    # Moved to a size with no checkpoint (foreign keys are off for the attacker).
    "tree_size-no-checkpoint": (
        {"tree_size": lambda w: w.log.seq(3)},
        _at_cosignature(lambda w: w.log.seq(3), _a),
    ),
    # Credited to the other configured witness, or renamed to one nobody configured.
    "witness": ({"witness": lambda w: w.b.name}, _at_cosignature(_row_size, lambda w: w.b.name)),
    "witness-unknown": (
        {"witness": lambda w: "nobody.example/w0"},
        _at_cosignature(_row_size, lambda w: "nobody.example/w0"),
    ),
    # Another checkpoint's genuine signature by the same witness; not base64 at all.
    "signature": (
        {"signature": lambda w: select(S.signature).where(*_cosignature(w, 0)).scalar_subquery()},
        _at_cosignature(_row_size, _a),
    ),
    "signature-garbage": ({"signature": lambda w: "not base64!"}, _at_cosignature(_row_size, _a)),
    # A time the witness did not sign (the status page shows it).
    "cosigned_at": (
        {"cosigned_at": lambda w: dt.datetime(2027, 1, 1, tzinfo=dt.UTC)},
        _at_cosignature(_row_size, _a),
    ),
}
# What no check can cover, and why (docs/audit.md, "What verification covers").
UNVERIFIABLE = {
    # Our own clock when the cosignature arrived: nobody signs it; nothing but the witness status
    # page's ordering reads it.
    ("audit_cosignatures", "received_at"),
    # A refusal is an alarm the witness raised, signed by nobody: the append-only guard keeps the
    # app from changing it, but an owner who removes the guard can; the witness keeps the refused
    # request as evidence and the alarm is also an error log line and a /metrics gauge.
    *(("audit_witness_refusals", c.name) for c in Base.metadata.tables["audit_witness_refusals"].c),
}


@pytest.mark.parametrize("name", sorted(COSIGNATURE_MUTATIONS))
def test_a_changed_cosignature_is_found_at_its_tree_size_and_witness(db_session, runtime, cosigned, name):
    changes, expect = COSIGNATURE_MUTATIONS[name]
    ((column, value),) = changes.items()
    db_session.execute(update(S).where(*_cosignature(cosigned)).values({column: value(cosigned)}))
    assert verify(db_session, runtime).ok  # the log itself is untouched
    report = verify_cosignatures(db_session, cosigned.keys)
    assert not report.ok, f"{name} went unnoticed"
    assert report.first.where == expect(cosigned), str(report.first)


def test_a_cosignature_by_a_witness_not_configured_is_counted_not_checked(db_session, cosigned):
    report = verify_cosignatures(db_session, [cosigned.a])  # B's row is now by an unknown witness
    assert report.ok and (report.checked, report.unchecked) == (len(cosigned.log.checkpoints) - 1, 1)
    db_session.execute(delete(S).where(*_cosignature(cosigned)))  # a deletion only lowers the count
    assert verify_cosignatures(db_session, [cosigned.a]).checked == len(cosigned.log.checkpoints) - 2


def test_every_column_of_every_audit_table_is_tampered_with():
    # Every audit_* table: the append-only ones, and of the mutable ones the head (verify_log
    # checks each of its columns); the verification runs are not the log (MUTABLE says why).
    tables = {t for t in Base.metadata.tables if t.startswith("audit_")} - (set(MUTABLE) - {"audit_head"})
    assert tables == set(APPEND_ONLY) | {"audit_head"} | BATCHED_TABLES
    columns = {(table, column.name) for table in tables for column in Base.metadata.tables[table].c}
    covered = {(m.table, m.column) for m in MUTATIONS if m.action == ALTER}
    covered |= BATCHED_COVERED  # batched integration's tables: tests/audit/test_tamper_batched.py
    covered |= {("audit_cosignatures", name.split("-")[0]) for name in COSIGNATURE_MUTATIONS}
    assert columns - covered - UNVERIFIABLE == set()
    rows = {(m.table, m.action) for m in MUTATIONS if m.action != ALTER}
    # A deleted checkpoint is not in the log's own data: only a witness holding it notices. A
    # deleted cosignature only lowers the count (test above); a cosigned note kept elsewhere
    # (`audit verify --witnessed`) still counts.
    expected_rows = {(t, action) for t in LOG_TABLES for action in (DELETE, INSERT)}
    assert expected_rows - {("audit_checkpoints", DELETE)} <= rows


# --- what only an outside witness can catch ---------------------------------------------------


def _rewrite_from(session: Session, now: dt.datetime, log: Log, offset: int) -> None:
    """A consistent rewrite of the log from `offset` on: rows removed, the head wound back, and
    different entries appended by the real code, hashes, chain, tree and head all recomputed."""
    start = log.seq(offset)
    session.execute(delete(A).where(A.seq >= start))
    session.execute(delete(E).where(E.seq >= start))
    session.execute(delete(N).where((N.index + 1).op("<<")(N.level) > start))  # completed from start on
    chain = session.scalar(select(E.chain_hash).where(E.seq == start - 1))
    frontier = frontier_of(DbNodeStore(session), start)
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(next_seq=start, chain_head=chain, frontier=frontier)
    )
    for i in range(offset, ENTRIES):
        append(session, Event(kind="admin_action", outcome=f"rewritten {i}"), now=now)


def test_a_consistent_rewrite_is_found_at_the_next_checkpoint(db_session, runtime, now, log):
    _rewrite_from(db_session, now, log, TARGET)
    report = verify(db_session, runtime)
    assert report.first.where == at_checkpoint(log) and "root_hash differs" in report.first.problem


def test_a_consistent_rewrite_after_the_last_checkpoint_needs_a_witness(db_session, runtime, now, log):
    """docs/audit.md, "What verification covers": nothing in the database tells this apart."""
    _rewrite_from(db_session, now, log, ENTRIES - 2)
    assert verify(db_session, runtime).ok


def test_a_deleted_checkpoint_needs_a_witness(db_session, runtime, log):
    signed = verify(db_session, runtime).checkpoints
    db_session.execute(delete(C).where(*checkpoint(log)))
    report = verify(db_session, runtime)
    assert report.ok and report.checkpoints == signed - 1


@pytest.mark.parametrize(
    ("table", "column", "key", "expect"),
    [
        ("audit_entries", "recorded_at", "seq", at(TARGET)),
        ("audit_checkpoints", "created_at", "tree_size", at_checkpoint),
    ],
)
def test_a_value_of_the_wrong_type_is_reported_not_raised(
    db_session, runtime, log, table, column, key, expect
):
    if db_session.bind.dialect.name != "sqlite":
        pytest.skip("only SQLite keeps a value its column's type cannot hold")
    row = log.seq(TARGET) if key == "seq" else log.checkpoints[1]
    columns = Base.metadata.tables[table].c
    db_session.execute(
        update(columns[column].table)
        .where(columns[key] == row)
        .values({column: literal_column("'yesterday'")})
    )
    report = verify(db_session, runtime)
    assert str(report.first) == f"{expect(log)}: a stored column cannot be read (not of its type)"
