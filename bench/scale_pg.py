"""What the scale bench asks PostgreSQL directly, beside the product's code: the profile read's bare
SQL and its latency, EXPLAIN (ANALYZE, BUFFERS) of it and of key rotation's queries, table and
index sizes after the load, and whether the server's disk has room for the load at all.
"""

from __future__ import annotations

import shutil
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from . import pgcopy
from .common import Stopwatch, summarize

BYTES_PER_CITIZEN_GUESS = 32 * 1024  # with WAL and index builds; for the free-disk check

# The profile_fields range scan behind load_fields, written out in SQL.
PROFILE_SQL = (
    "SELECT citizen_id, attribute, agency, source, classification, lastupdated, unavailable, ciphertext, "
    "version, fetched_at FROM profile_fields WHERE citizen_id = %s"
)


# What profile_store.key_rotation runs (rotate_batch, pending_rotation), written out in SQL.
ROTATION_SQL = "SELECT id FROM citizens WHERE dek_kid != %s ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED"
PENDING_SQL = "SELECT count(*) FROM citizens WHERE dek_kid != %s"


def conninfo(db_url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string, for psycopg directly (COPY, EXPLAIN)."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def sql_latency(db_url: str, citizen_ids: list[str]) -> dict[str, float]:
    timings = []
    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        for citizen_id in citizen_ids:
            clock = Stopwatch()
            conn.execute(PROFILE_SQL, (citizen_id,)).fetchall()
            timings.append(clock.seconds())
    return summarize(timings)


def explain(db_url: str, sql: str, params: tuple) -> dict[str, Any]:
    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        conn.execute(sql, params).fetchall()
        (document,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()
    top = document[0]
    plan = top["Plan"]
    nodes = list(_plan_nodes(plan))
    return {
        "node": " > ".join(node["Node Type"] for node in nodes),
        "index": next((node["Index Name"] for node in nodes if node.get("Index Name")), None),
        "rows": plan.get("Actual Rows"),
        "hit": plan.get("Shared Hit Blocks"),
        "read": plan.get("Shared Read Blocks"),
        "execution_ms": top.get("Execution Time"),
        "planning_ms": top.get("Planning Time"),
    }


def _plan_nodes(plan: dict[str, Any]):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def relation_sizes(db_url: str, rows_total: dict[str, int]) -> dict[str, Any]:
    tables = list(pgcopy.TABLES)
    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        per_table = conn.execute(
            "SELECT relname, pg_relation_size(oid), pg_table_size(oid), pg_indexes_size(oid), "
            "pg_total_relation_size(oid) FROM pg_class WHERE oid = ANY(%s::regclass[])",
            (tables,),
        ).fetchall()
        per_index = conn.execute(
            "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_relation_size(indexrelid) "
            "FROM pg_index WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            (tables,),
        ).fetchall()
        (database,) = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    result: dict[str, Any] = {"database_bytes": database, "tables": {}, "indexes": {}}
    for name, heap, table_bytes, index_bytes, total in per_table:
        rows = rows_total.get(name, 0)
        result["tables"][name] = {
            "rows": rows,
            "heap_bytes": heap,
            "table_bytes": table_bytes,
            "index_bytes": index_bytes,
            "total_bytes": total,
            "bytes_per_row": total / rows if rows else None,
        }
    for table, index, size in per_index:
        rows = rows_total.get(table, 0)
        result["indexes"][index] = {
            "table": table,
            "bytes": size,
            "bytes_per_row": size / rows if rows else None,
        }
    return result


def disk_problem(db_url: str, citizens: int) -> str | None:
    needed = citizens * BYTES_PER_CITIZEN_GUESS
    try:
        with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
            (directory,) = conn.execute("SHOW data_directory").fetchone()
        free = shutil.disk_usage(directory).free
    except (OSError, psycopg.Error):
        return None  # cannot tell (remote server): go ahead
    if free < needed:
        return (
            f"needs ~{needed / 2**30:.0f} GiB free next to the PostgreSQL data, {free / 2**30:.0f} GiB free"
        )
    return None
