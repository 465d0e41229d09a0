"""The inline append's statements: the log head read (locked on PostgreSQL), and the entry, its
attributes, the tree nodes it completes and the head moved on, written in the caller's
transaction. audit.log.append decides what to write; this module only writes it, as cheaply as
each database allows (it is on every disclosure's path)."""

from __future__ import annotations

import functools
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

from core.db import UTCDateTime

from .entry_sql import PG_ENTRY_CTES
from .models import AuditEntry, AuditEntryAttribute, AuditHead, AuditTreeNode

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
_INSERT_ENTRY, _INSERT_ATTRIBUTES = insert(AuditEntry.__table__), insert(AuditEntryAttribute.__table__)
_INSERT_NODES = insert(_NODES)
# PostgreSQL: write_inline's four statements as one, through data-modifying CTEs. A foreign key is
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


# The columns an append writes (its entry row), in the order SQLite's INSERT names them.
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
    """write_inline's statements straight on the driver's connection, in the transaction the session
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


def locked_head(connection: Connection) -> Any:
    """The head's next_seq, chain_head, frontier and leaves_from, or None before the migrations
    made it. Locked on PostgreSQL (FOR UPDATE) so appenders queue; SQLite's write transaction
    already holds the database's one write lock."""
    if connection.dialect.name == "sqlite":
        return _sqlite_head(connection)
    return connection.execute(_HEAD_FOR_UPDATE).one_or_none()
