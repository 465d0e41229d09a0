"""Batched integration (AUDIT_INTEGRATION=batched; docs/audit.md, "Batched integration").

A release appends its entry with `append_queued`: an id instead of a leaf position, the final
body and leaf hash, its attribute rows and a queue row, all in the release's own transaction and
without the head's row lock, so releases never wait for each other ("no audit row, no data" holds
as with the inline append: the entry commits with the release or not at all). One integrator
(`integrate_batch`, run by `consentry audit integrate` or the demo's thread) later takes queued
entries in id order, gives them the next leaf indexes, folds them into the tree nodes, the chain
and the head, writes their `audit_leaves` rows and deletes their queue rows, in one transaction
per batch, and signs a checkpoint at the batch's end when one is due. A failed batch rolls back
whole: its entries stay queued for the next run.

Entries are named by `seq` throughout (receipts, search, reports). For entries from
`audit_head.leaves_from` on, seq is an id (body field "id") and the leaf index is in
`audit_leaves`; below it, seq is the leaf index (body field "seq"), as the log always was.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    String,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from core.db import UTCDateTime, transaction
from core.errors import DomainError, NotFound

from .entry_sql import PG_ENTRY_CTES
from .entry_write import locked_head
from .merkle import chain_next, frontier_append
from .models import AuditEntry, AuditEntryAttribute, AuditHead, AuditLeaf, AuditQueued, AuditTreeNode

# pg_try_advisory_xact_lock key electing the one integrator: "INTG" in ASCII.
_PG_INTEGRATOR_LOCK = 0x494E5447
BATCH = 5000
NOT_CHAINED = b""  # audit_entries.chain_hash of an entry named by id: its chain hash is its leaf's

_E, _A, _H = AuditEntry.__table__, AuditEntryAttribute.__table__, AuditHead.__table__
_L, _Q, _N = AuditLeaf.__table__, AuditQueued.__table__, AuditTreeNode.__table__
_PG_ID = text(
    "SELECT nextval('audit_entry_id') AS n, (SELECT leaves_from FROM audit_head WHERE id = 1) AS base"
)
_SQLITE_ID = select(
    select(func.coalesce(func.max(_E.c.seq), -1) + 1).scalar_subquery().label("n"),
    select(_H.c.leaves_from).where(_H.c.id == 1).scalar_subquery().label("base"),
)
_PG_WRITE_QUEUED = text(
    PG_ENTRY_CTES  # noqa: S608 (two constants, no input)
    + """
    INSERT INTO audit_queue (seq) VALUES (:seq)
    """
).bindparams(
    bindparam("recorded_at", type_=UTCDateTime()),
    bindparam("leaf_hash", type_=LargeBinary()),
    bindparam("chain_hash", type_=LargeBinary()),
    bindparam("attributes", type_=ARRAY(String())),
)
# PostgreSQL: fold_in's three writes as one statement, straight to the driver: psycopg sends
# Python lists as arrays, where SQLAlchemy's ARRAY types process each element in Python (most of
# a 5,000-entry batch's write in bench/audit_integrator.py's measurements).
_PG_FOLD = """
    WITH leaves AS (
        INSERT INTO audit_leaves (leaf_index, seq, chain_hash)
        SELECT * FROM unnest(CAST(%(leaf_indexes)s AS bigint[]), CAST(%(seqs)s AS bigint[]),
                             CAST(%(chains)s AS bytea[]))
    ), nodes AS (
        INSERT INTO audit_tree_nodes (level, "index", hash)
        SELECT * FROM unnest(CAST(%(levels)s AS smallint[]), CAST(%(indexes)s AS bigint[]),
                             CAST(%(hashes)s AS bytea[]))
    )
    UPDATE audit_head SET next_seq = %(size)s, chain_head = %(chain_head)s, frontier = %(frontier)s
    WHERE id = 1
"""
_TAKE = (
    select(_Q.c.seq, _E.c.leaf_hash)
    .join(_E, _E.c.seq == _Q.c.seq)
    .order_by(_Q.c.seq)
    .limit(bindparam("limit"))
)


class Pending(DomainError):
    """The entry is in the log but not yet in its tree: its proof exists within the maximum merge
    delay. Never a 404: the entry exists."""

    code = "pending"


@dataclass(frozen=True)
class Head:
    next_seq: int
    chain_head: bytes
    frontier: bytes
    leaves_from: int | None


def allocate_id(connection: Connection) -> int:
    """An id for an entry named by id, without the head's row lock (PostgreSQL: a sequence;
    SQLite: its writers are serialised already). The first one in a log sets `leaves_from`."""
    postgres = connection.dialect.name == "postgresql"
    found = connection.execute(_PG_ID if postgres else _SQLITE_ID).one()
    base = found.base if found.base is not None else _start_leaves(connection)
    # PostgreSQL: ids above leaves_from from a sequence only these appends use (gaps are fine:
    # the id is not the leaf position). SQLite: max(seq) + 1 >= leaves_from already.
    return base + found.n if postgres else found.n


def _start_leaves(connection: Connection) -> int:
    """Set `leaves_from` (once, under the head's row lock): every entry below it is at its seq."""
    head = locked_head(connection)
    if head is None:
        raise NotFound("audit log not initialised (run the migrations)")
    if head.leaves_from is not None:  # another writer set it while we waited for the lock
        return head.leaves_from
    connection.execute(update(_H).where(_H.c.id == 1).values(leaves_from=head.next_seq))
    return head.next_seq


def write_entry(connection: Connection, row: dict[str, Any], attributes: list[str], *, queued: bool) -> None:
    """The entry and its attribute rows, and its queue row when `queued`."""
    if queued and connection.dialect.name == "postgresql":
        connection.execute(_PG_WRITE_QUEUED, {**row, "attributes": attributes})
        return
    connection.execute(insert(_E), row)
    if attributes:
        connection.execute(insert(_A), [{"seq": row["seq"], "attribute": a} for a in attributes])
    if queued:
        connection.execute(insert(_Q), {"seq": row["seq"]})


def fold_in(connection: Connection, head: Head, entries: Sequence[tuple[int, bytes]]) -> Head:
    """Give `entries` ((seq, leaf hash), in this order) the next leaf indexes after `head`, and
    write their leaf rows, the tree nodes they complete and the head moved on. The caller holds
    the head (its row lock, or SQLite's write lock)."""
    size, chain, frontier = head.next_seq, head.chain_head, head.frontier
    leaves, nodes = [], {}
    for seq, leaf in entries:
        completed, frontier = frontier_append(frontier, size, leaf)
        nodes.update(completed)
        chain = chain_next(chain, leaf)
        leaves.append({"leaf_index": size, "seq": seq, "chain_hash": chain})
        size += 1
    if connection.dialect.name == "postgresql":
        (levels, indexes), hashes = zip(*nodes, strict=True), list(nodes.values())
        arrays = {
            "leaf_indexes": [leaf["leaf_index"] for leaf in leaves],
            "seqs": [leaf["seq"] for leaf in leaves],
            "chains": [leaf["chain_hash"] for leaf in leaves],
            **{"levels": list(levels), "indexes": list(indexes), "hashes": hashes},
        }
        head_values = {"size": size, "chain_head": chain, "frontier": frontier}
        connection.exec_driver_sql(_PG_FOLD, {**arrays, **head_values})
        return Head(size, chain, frontier, head.leaves_from)
    connection.execute(insert(_L), leaves)
    connection.execute(insert(_N), [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in nodes.items()])
    connection.execute(
        update(_H).where(_H.c.id == 1).values(next_seq=size, chain_head=chain, frontier=frontier)
    )
    return Head(size, chain, frontier, head.leaves_from)


def integrate_batch(
    session: Session,
    *,
    limit: int = BATCH,
    after: Callable[[Session], Any] | None = None,
) -> int:
    """Integrate up to `limit` queued entries, oldest id first, inside the caller's transaction
    (a writer on SQLite); the caller commits. Returns how many, 0 when the queue is empty or
    another integrator is at work (PostgreSQL: an advisory lock elects one; the others skip at
    once). `after` runs in the same transaction when entries were integrated (e.g. signing a
    checkpoint when one is due)."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        elected = connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _PG_INTEGRATOR_LOCK}
        )
        if not elected.scalar():
            return 0
    found = locked_head(connection)
    if found is None:
        raise NotFound("audit log not initialised (run the migrations)")
    taken = connection.execute(_TAKE, {"limit": limit}).all()
    if not taken:
        return 0
    head = Head(found.next_seq, bytes(found.chain_head), bytes(found.frontier), found.leaves_from)
    fold_in(connection, head, [(seq, bytes(leaf)) for seq, leaf in taken])
    # After the leaf rows: the queue's guard lets a row go only once its entry has a leaf.
    seqs = [seq for seq, _ in taken]
    if postgres:
        connection.exec_driver_sql("DELETE FROM audit_queue WHERE seq = ANY(%(seqs)s)", {"seqs": seqs})
    else:
        connection.execute(delete(_Q).where(_Q.c.seq.in_(bindparam("seqs", expanding=True))), {"seqs": seqs})
    if after is not None:
        after(session)
    return len(taken)


def run_integrator(
    sessions: sessionmaker[Session],
    *,
    stop: threading.Event,
    every_s: float,
    limit: int = BATCH,
    after: Callable[[Session], Any] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Integrate until `stop` is set: batch after batch while the queue is full, then every
    `every_s` seconds. A failed batch (rolled back whole) is reported to `on_error` and retried."""
    while not stop.is_set():
        done = 0
        try:
            with transaction(sessions) as session:
                done = integrate_batch(session, limit=limit, after=after)
            if done and on_batch is not None:
                on_batch(done)
        except Exception as exc:  # reported, and the next round retries
            if on_error is None:
                raise
            on_error(exc)
        if done < limit:
            stop.wait(every_s)


def leaf_index(session: Session, seq: int) -> int:
    """The leaf index of entry `seq`. Raises NotFound when there is no such entry and Pending when
    it is queued, not yet integrated."""
    connection = session.connection()
    exists = connection.execute(select(_E.c.seq).where(_E.c.seq == seq)).scalar()
    if exists is None:
        raise NotFound("no such audit entry")
    base = connection.execute(select(_H.c.leaves_from).where(_H.c.id == 1)).scalar()
    if base is None or seq < base:
        return seq
    found = connection.execute(select(_L.c.leaf_index).where(_L.c.seq == seq)).scalar()
    if found is None:
        raise Pending("the entry is being added to the log's tree; try again in a moment")
    return found


def oldest_queued(session: Session) -> dt.datetime | None:
    """When the oldest entry still waiting for integration was recorded (None: none waits)."""
    query = select(func.min(_E.c.recorded_at)).join(_Q, _Q.c.seq == _E.c.seq)
    return session.execute(query).scalar()


def queued_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(_Q)).scalar_one()
