"""The inline append's statements: the log head read (locked on PostgreSQL), and the entry, its
attributes, the tree nodes it completes and the head moved on, written in the caller's
transaction. audit.log.append decides what to write; this module only writes it, as cheaply as
each database allows (it is on every disclosure's path)."""

from __future__ import annotations

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

from core.db import UTCDateTime
from core.driver_sql import DriverStatement

from .entry_sql import PG_ENTRY_CTES
from .models import AuditEntry, AuditEntryAttribute, AuditHead, AuditTreeNode

# Built once, from the tables (not the ORM classes), and run on the driver (core.driver_sql): on
# the disclosure path every statement's construction, and SQLAlchemy's handling of it, showed in
# profiles. SQLite leaves out FOR UPDATE (its write transaction holds the database's one lock).
_HEAD, _NODES = AuditHead.__table__, AuditTreeNode.__table__
_HEAD_FOR_UPDATE = DriverStatement(
    select(_HEAD.c.next_seq, _HEAD.c.chain_head, _HEAD.c.frontier, _HEAD.c.leaves_from)
    .where(_HEAD.c.id == 1)
    .with_for_update()
)
_ADVANCE_HEAD = DriverStatement(
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(
        next_seq=bindparam("next_seq"), chain_head=bindparam("chain_head"), frontier=bindparam("frontier")
    )
)
_INSERT_ENTRY = DriverStatement(insert(AuditEntry.__table__))
_INSERT_ATTRIBUTES = DriverStatement(insert(AuditEntryAttribute.__table__))
_INSERT_NODES = DriverStatement(insert(_NODES))
# PostgreSQL: write_inline's four statements as one, through data-modifying CTEs. A foreign key is
# checked at the end of the statement, by when the entry its attributes name is in.
_PG_WRITE = DriverStatement(
    text(
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
        *(
            bindparam(name, type_=LargeBinary())
            for name in ("leaf_hash", "chain_hash", "chain_head", "frontier")
        ),
        bindparam("attributes", type_=ARRAY(String())),
        bindparam("levels", type_=ARRAY(SmallInteger())),
        bindparam("indexes", type_=ARRAY(BigInteger())),
        bindparam("hashes", type_=ARRAY(LargeBinary())),
    )
)


class _Head(NamedTuple):
    next_seq: int
    chain_head: bytes
    frontier: bytes
    leaves_from: int | None


def locked_head(connection: Connection) -> _Head | None:
    """The log head, or None before the migrations made it. Locked on PostgreSQL (FOR UPDATE), so
    appenders queue; SQLite's write transaction already holds the database's one write lock."""
    found = _HEAD_FOR_UPDATE.first(connection, {})
    return None if found is None else _Head(*found)


def write_inline(
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
        arrays = {
            "attributes": attributes,
            "levels": levels,
            "indexes": indexes,
            "hashes": list(nodes.values()),
        }
        _PG_WRITE.rows(connection, {**row, **head, **arrays})
        return
    _INSERT_ENTRY.rows(connection, row)
    _INSERT_ATTRIBUTES.many(connection, [{"seq": seq, "attribute": name} for name in attributes])
    _INSERT_NODES.many(connection, [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in nodes.items()])
    _ADVANCE_HEAD.rows(connection, head)
