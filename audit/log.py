"""Appending to the audit log, signing checkpoints and serving proofs.

Every function runs inside the caller's transaction and never commits: a disclosure and its audit
entry commit together or not at all ("no audit entry, no data").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    LargeBinary,
    SmallInteger,
    String,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from core.errors import NotFound, ValidationFailed

from . import integrator
from .canonical import canonical_json
from .entry_sql import PG_ENTRY_CTES
from .merkle import chain_next, consistency_proof, frontier_append, inclusion_proof, leaf_hash, root
from .models import AuditCheckpoint, AuditEntry, AuditEntryAttribute, AuditHead, AuditTreeNode
from .note import checkpoint_body as checkpoint_note_body
from .note import note_text
from .signer import AuditSigner

ZERO_HASH = bytes(32)
INLINE, BATCHED = "inline", "batched"  # AUDIT_INTEGRATION (docs/audit.md, "Batched integration")
KINDS = frozenset(
    {
        "disclosure",
        "consent_granted",
        "consent_declined",
        "consent_revoked",
        "consent_expired",
        "profile_refreshed",
        "admin_action",
        "auditor_search",
        "auditor_export",
        "citizen_download",  # a citizen downloaded their whole record (details: format), no values
        "staff_lookup",  # a member of staff opened a citizen's profile (details: actor, reason)
        "staff_reveal",  # ... and asked to see one masked value in full (the attribute)
        "declaration_changed",  # a citizen declared, changed or removed a fact (the attribute)
        "consent_paused",  # a citizen paused a standing consent (details: consent_id)
        "consent_resumed",  # ... and resumed it
        "consent_narrowed",  # ... dropped optional items from it (attributes: the items dropped)
        "disclosure_reported",  # a citizen said an entry was not them (details: seq, report_id)
        "disclosure_report_updated",  # an auditor moved a report (details: report_id, state, reason)
        "activation_letter_issued",  # an activation letter was issued (details: actor, letter_id)
        "citizen_activation_refused",  # a wrong, expired, locked or used activation code (details)
        "citizen_activation_started",  # a citizen entered a right activation code
        "citizen_password_chosen",  # an activating citizen chose a password (never the password)
        "citizen_activated",  # a citizen confirmed their authenticator and opened their account
        "citizen_recovery_used",  # a citizen signed in with a recovery code (never the code)
        "citizen_authenticator_changed",  # ... and enrolled a new authenticator
        "citizen_account_closed",  # a citizen closed their account (details: consents withdrawn)
        "correction_requested",  # a citizen reported a wrong value (the attribute, agency; never text)
        "correction_answered",  # the agency answered it (details: request_id, status)
        "correction_read",  # the agency read it through the agency API (details: request_id, agency)
        "correction_withdrawn",  # the citizen withdrew it before an answer (details: request_id)
        "citizen_reveal",  # a citizen asked to see their own national id in full (after a step-up)
    }
)


@dataclass(frozen=True)
class Event:
    """What happened. Never personal values: attribute names only, the citizen as a keyed digest."""

    kind: str
    citizen_ref: str | None = None
    app_id: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    attributes: tuple[str, ...] = ()
    details: dict[str, Any] | None = None


# Built once, from the tables (not the ORM classes) and run on the session's Connection: on the
# disclosure path every statement's construction, and the ORM's handling of it, showed in profiles.
_HEAD, _NODES = AuditHead.__table__, AuditTreeNode.__table__
_HEAD_COLUMNS = (_HEAD.c.next_seq, _HEAD.c.chain_head, _HEAD.c.frontier, _HEAD.c.leaves_from)
_HEAD_FOR_UPDATE = select(*_HEAD_COLUMNS).where(_HEAD.c.id == 1).with_for_update()
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(
        next_seq=bindparam("next_seq"), chain_head=bindparam("chain_head"), frontier=bindparam("frontier")
    )
)
_NODE_HASH = select(_NODES.c.hash).where(
    _NODES.c.level == bindparam("level"), _NODES.c.index == bindparam("index")
)
_INSERT_ENTRY, _INSERT_ATTRIBUTES = insert(AuditEntry.__table__), insert(AuditEntryAttribute.__table__)
_INSERT_NODES = insert(_NODES)
# PostgreSQL: _write's four statements as one, through data-modifying CTEs. A foreign key is
# checked at the end of the statement, by when the entry its attributes name is in.
_PG_WRITE = text(
    PG_ENTRY_CTES  # noqa: S608 (two constants, no input)
    + """, nodes AS (
        INSERT INTO audit_tree_nodes (level, "index", hash)
        SELECT * FROM unnest(
            CAST(:levels AS smallint[]), CAST(:indexes AS bigint[]), CAST(:hashes AS bytea[])
        )
    )
    UPDATE audit_head SET next_seq = :next_seq, chain_head = :chain_head, frontier = :frontier WHERE id = 1
    """
).bindparams(
    bindparam("recorded_at", type_=UTCDateTime()),
    *(bindparam(name, type_=LargeBinary()) for name in ("leaf_hash", "chain_hash", "chain_head", "frontier")),
    bindparam("attributes", type_=ARRAY(String())),
    bindparam("levels", type_=ARRAY(SmallInteger())),
    bindparam("indexes", type_=ARRAY(BigInteger())),
    bindparam("hashes", type_=ARRAY(LargeBinary())),
)


class DbNodeStore:
    """merkle.NodeStore over `audit_tree_nodes` (read only: appends write their nodes
    themselves), with the nodes read cached."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self._cache: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes | None:
        key = (level, index)
        if key not in self._cache:
            node_hash = self.connection.execute(_NODE_HASH, {"level": level, "index": index}).scalar()
            if node_hash is None:
                return None
            self._cache[key] = node_hash
        return self._cache[key]


def append(
    session: Session,
    event: Event,
    *,
    now: dt.datetime,
    request_id: str | None = None,
    signer: AuditSigner | None = None,
    checkpoint_every: int = 0,
    integration: str = INLINE,
) -> AuditEntry:
    """Append one entry (flushed, not committed) and return it (a detached copy of the row).

    Inline (the default): locks the log head, so concurrent appenders queue and the chain stays
    gapless and fork-free, and the entry is in the tree at once; with `signer` and
    `checkpoint_every` N, every Nth entry also gets a signed checkpoint. Batched: the entry, named
    by an id, and its queue row, with no lock; the integrator places it in the tree later
    (audit/integrator.py). Raises ValidationFailed for an unknown kind."""
    if event.kind not in KINDS:
        raise ValidationFailed("unknown audit event kind", {"kind": [event.kind]})
    session.flush()  # what the ORM holds for this transaction goes first, as any query would
    connection = session.connection()
    if integration == BATCHED:
        row = _entry_row(event, integrator.allocate_id(connection), now, request_id, named_by="id")
        integrator.write_entry(connection, row, sorted(set(event.attributes)), queued=True)
        return AuditEntry(**row)
    sqlite = connection.dialect.name == "sqlite"
    head = _sqlite_head(connection) if sqlite else connection.execute(_HEAD_FOR_UPDATE).one_or_none()
    if head is None:
        raise NotFound("audit log not initialised (run the migrations)")
    if head.leaves_from is not None:
        # The log has entries named by id: this one is too, and is integrated at once.
        row = _entry_row(event, integrator.allocate_id(connection), now, request_id, named_by="id")
        integrator.write_entry(connection, row, sorted(set(event.attributes)), queued=False)
        state = integrator.Head(head.next_seq, head.chain_head, head.frontier, head.leaves_from)
        size = integrator.fold_in(connection, state, [(row["seq"], row["leaf_hash"])]).next_seq
    else:
        seq = head.next_seq
        row = _entry_row(event, seq, now, request_id, named_by="seq", chain_head=head.chain_head)
        nodes, frontier = frontier_append(head.frontier, seq, row["leaf_hash"])
        _write(connection, row, sorted(set(event.attributes)), nodes, frontier)
        size = seq + 1
    if signer is not None and checkpoint_every and size % checkpoint_every == 0:
        create_checkpoint(session, signer=signer, now=now)
    return AuditEntry(**row)


def _entry_row(
    event: Event,
    seq: int,
    now: dt.datetime,
    request_id: str | None,
    *,
    named_by: str,
    chain_head: bytes | None = None,
) -> dict[str, Any]:
    """The entry's row (ENTRY_COLUMNS): its canonical body naming it by `named_by` ("seq": the
    leaf index; "id": placed by audit_leaves), the leaf hash, and the chain hash after
    `chain_head` (entries named by id keep theirs in audit_leaves)."""
    body = _body(event, seq, now, request_id, named_by)
    canonical = canonical_json(body)
    leaf = leaf_hash(canonical)
    return {  # ENTRY_COLUMNS
        "seq": seq,
        "recorded_at": now,
        "kind": event.kind,
        "citizen_ref": event.citizen_ref,
        "app_id": event.app_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "body": canonical.decode(),
        "leaf_hash": leaf,
        "chain_hash": integrator.NOT_CHAINED if chain_head is None else chain_next(chain_head, leaf),
    }


def _write(
    connection: Connection,
    row: dict[str, Any],
    attributes: list[str],
    nodes: dict[tuple[int, int], bytes],
    frontier: bytes,
) -> None:
    """The entry, its attributes, the tree nodes it completes, and the head moved on. Core
    statements throughout: these rows are write-once, and the unit of work's per-object
    bookkeeping (a disclosure names ~17 attributes) was most of every append. On PostgreSQL one
    statement, one round trip instead of four, with the head's row lock held that much less."""
    seq = row["seq"]
    head = {"next_seq": seq + 1, "chain_head": row["chain_hash"], "frontier": frontier}
    if connection.dialect.name == "postgresql":
        levels, indexes = zip(*nodes, strict=True)
        hashes = list(nodes.values())
        arrays = {"attributes": attributes, "levels": levels, "indexes": indexes, "hashes": hashes}
        connection.execute(_PG_WRITE, {**row, **head, **arrays})
        return
    if connection.dialect.name == "sqlite":
        _write_sqlite(connection, row, attributes, nodes, head)
        return
    connection.execute(_INSERT_ENTRY, row)
    if attributes:
        connection.execute(_INSERT_ATTRIBUTES, [{"seq": seq, "attribute": a} for a in attributes])
    node_rows = [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in nodes.items()]
    connection.execute(_INSERT_NODES, node_rows)
    connection.execute(_ADVANCE_HEAD, head)


# The columns an append writes (`row` in append), in the order SQLite's INSERT names them.
ENTRY_COLUMNS = ("seq", "recorded_at", "kind", "citizen_ref", "app_id", "purpose", "outcome", "body")
ENTRY_COLUMNS += ("leaf_hash", "chain_hash")


class _Head(NamedTuple):
    next_seq: int
    chain_head: bytes
    frontier: bytes
    leaves_from: int | None


@functools.cache
def _sqlite_sql(dialect: Dialect) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The append's statements compiled once for SQLite: (SQL, the parameters' names in order)."""
    statements = {
        "head": (select(*_HEAD_COLUMNS).where(_HEAD.c.id == 1), None),
        "entry": (_INSERT_ENTRY, list(ENTRY_COLUMNS)),
        "attributes": (_INSERT_ATTRIBUTES, ["seq", "attribute"]),
        "nodes": (_INSERT_NODES, ["level", "index", "hash"]),
        "advance": (_ADVANCE_HEAD, None),
    }
    compiled = {}
    for name, (statement, keys) in statements.items():
        done = statement.compile(dialect=dialect, column_keys=keys)
        compiled[name] = (str(done), tuple(done.positiontup or ()))
    return compiled


def _sqlite_head(connection: Connection) -> _Head | None:
    dialect = connection.dialect
    sql, _names = _sqlite_sql(dialect)["head"]
    try:
        found = connection.connection.driver_connection.execute(sql, (1,)).fetchone()
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
    return None if found is None else _Head(*found)


def _write_sqlite(
    connection: Connection,
    row: dict[str, Any],
    attributes: list[str],
    nodes: dict[tuple[int, int], bytes],
    head: dict[str, Any],
) -> None:
    """_write's statements straight on the driver's connection, in the transaction the session
    began there (core.db begins it on the driver too): SQLAlchemy's execution path cost more than
    SQLite's work for each of these four statements on every disclosure. Same SQL, compiled from
    the same table statements; the one typed value (recorded_at) goes through its column type."""
    dialect = connection.dialect
    sql = _sqlite_sql(dialect)
    driver = connection.connection.driver_connection
    values = {**row, "recorded_at": _sqlite_datetime(dialect)(row["recorded_at"])}
    entry_sql, entry_names = sql["entry"]
    statement = entry_sql
    try:
        driver.execute(entry_sql, tuple(values[name] for name in entry_names))
        if attributes:
            statement = sql["attributes"][0]
            driver.executemany(statement, [(row["seq"], name) for name in attributes])
        statement = sql["nodes"][0]
        driver.executemany(statement, [(level, index, h) for (level, index), h in nodes.items()])
        statement, advance_names = sql["advance"]
        driver.execute(statement, tuple({**head, "id_1": 1}[name] for name in advance_names))
    except dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError...): callers catch those.
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc


@functools.cache
def _sqlite_datetime(dialect: Dialect) -> Any:
    # The dialect's own DATETIME processor (dialect_impl): the generic type's is None, and the
    # driver's default adapter writes another text format ("+00:00", no microseconds), which
    # then compares wrongly against every other stored time (keyset pages repeated rows).
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


def _body(event: Event, seq: int, now: dt.datetime, request_id: str | None, named_by: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        named_by: seq,
        "time": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": event.kind,
    }
    for name in ("citizen_ref", "app_id", "purpose", "outcome"):
        if (value := getattr(event, name)) is not None:
            body[name] = value
    if event.attributes:
        body["attributes"] = sorted(set(event.attributes))
    if request_id:
        body["request_id"] = request_id
    if event.details:
        body["details"] = event.details
    return body


def tree_size(session: Session) -> int:
    return session.scalar(select(AuditHead.next_seq).where(AuditHead.id == 1)) or 0


def create_checkpoint(session: Session, *, signer: AuditSigner, now: dt.datetime) -> AuditCheckpoint | None:
    """Sign the current tree head (None if the log is empty or that size is already signed)."""
    head = session.execute(
        select(AuditHead.next_seq, AuditHead.chain_head).where(AuditHead.id == 1)
    ).one_or_none()
    size = head.next_seq if head else 0
    if size == 0 or session.get(AuditCheckpoint, size) is not None:
        return None
    body = {
        "log_id": signer.log_id,
        "tree_size": size,
        "root_hash": root(DbNodeStore(session), size).hex(),
        "chain_head": head.chain_head.hex(),
        "timestamp": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": signer.key_id,
    }
    signed = signer.sign(body)
    root_hash = bytes.fromhex(body["root_hash"])
    note_body = checkpoint_note_body(signer.note_origin, size, root_hash)
    checkpoint = AuditCheckpoint(
        tree_size=size,
        created_at=now,
        key_id=signer.key_id,
        body=canonical_json(body).decode(),
        signature=signed["signature"],
        note_origin=signer.note_origin,
        note_signature=signer.sign_note(note_body),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_note(checkpoint: AuditCheckpoint) -> str | None:
    """The checkpoint as a C2SP signed note, or None for one signed before notes were."""
    if checkpoint.note_origin is None or checkpoint.note_signature is None:
        return None
    root_hash = bytes.fromhex(json.loads(checkpoint.body)["root_hash"])
    body = checkpoint_note_body(checkpoint.note_origin, checkpoint.tree_size, root_hash)
    return note_text(body, checkpoint.note_origin, checkpoint.note_signature)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def get_checkpoint(session: Session, size: int) -> AuditCheckpoint:
    checkpoint = session.get(AuditCheckpoint, size)
    if checkpoint is None:
        raise NotFound("no checkpoint at that tree size")
    return checkpoint


def checkpoints(session: Session) -> Iterable[AuditCheckpoint]:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size))


def prove_inclusion(session: Session, *, seq: int, size: int) -> dict[str, Any]:
    """Inclusion proof (RFC 9162 2.1.3) of entry `seq` in the tree of `size` entries. Raises
    NotFound for no such entry, integrator.Pending for one not yet in the tree."""
    index = integrator.leaf_index(session, seq)
    if not 0 <= index < size <= tree_size(session):
        raise ValidationFailed("entry is not inside that tree size", {"tree_size": [str(size)]})
    entry = session.get(AuditEntry, seq)
    store = DbNodeStore(session)
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": entry.leaf_hash.hex(),
        "audit_path": [h.hex() for h in inclusion_proof(store, index, size)],
        "root_hash": root(store, size).hex(),
    }


def prove_consistency(session: Session, *, first: int, second: int) -> dict[str, Any]:
    """Consistency proof (RFC 9162 2.1.4) between two tree sizes."""
    if not 0 < first <= second <= tree_size(session):
        raise ValidationFailed(
            "need 0 < first <= second <= tree size", {"first": [str(first)], "second": [str(second)]}
        )
    store = DbNodeStore(session)
    return {
        "first": first,
        "second": second,
        "first_root": root(store, first).hex(),
        "second_root": root(store, second).hex(),
        "consistency_path": [h.hex() for h in consistency_proof(store, first, second)],
    }
