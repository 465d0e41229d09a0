"""Prototype of the batched audit integrator (bench only; the product's log is untouched).

Writers insert the entry, its attributes and a queue row in the release's own transaction, with
an id from a sequence and no global lock, so their commits group in the WAL. One integrator
thread takes the head's row lock once per batch, gives each queued entry the next leaf index in
id order, folds the batch into the frontier, the tree nodes and the hash chain, and deletes the
batch from the queue, all in one transaction. Its own tables (`bench_*`) sit beside the real ones
in the bench database, with the real entries' indexes, so a writer's insert costs what it would.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import LargeBinary, String, bindparam, create_engine, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from audit.canonical import canonical_json
from audit.merkle import (
    ZERO_HASH,
    chain_next,
    frontier_append,
    inclusion_proof,
    leaf_hash,
    mth,
    root,
    verify_inclusion,
)
from core.db import UTCDateTime

from .audit_load import disclosure_event
from .audit_writers import TARGET, run_writers
from .common import MEETS, MISSES, Row, log

PERIOD_S = 0.05  # the integrator's cadence when the queue is empty: the longest a proof waits, idle
BATCH = 5_000

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS bench_entry_id;
CREATE TABLE IF NOT EXISTS bench_entries (
    id bigint PRIMARY KEY, recorded_at timestamptz NOT NULL, kind varchar(32) NOT NULL,
    citizen_ref varchar(64), app_id varchar(100), purpose varchar(100), outcome varchar(32),
    body text NOT NULL, leaf_hash bytea NOT NULL);
CREATE INDEX IF NOT EXISTS bench_entries_citizen_time ON bench_entries (citizen_ref, recorded_at, id);
CREATE INDEX IF NOT EXISTS bench_entries_app_time ON bench_entries (app_id, recorded_at, id);
CREATE INDEX IF NOT EXISTS bench_entries_kind_time ON bench_entries (kind, recorded_at, id);
CREATE INDEX IF NOT EXISTS bench_entries_time ON bench_entries (recorded_at, id);
CREATE TABLE IF NOT EXISTS bench_entry_attributes (
    id bigint REFERENCES bench_entries, attribute varchar(64), PRIMARY KEY (id, attribute));
CREATE INDEX IF NOT EXISTS bench_entry_attributes_attribute ON bench_entry_attributes (attribute, id);
CREATE TABLE IF NOT EXISTS bench_queue (id bigint PRIMARY KEY REFERENCES bench_entries);
CREATE TABLE IF NOT EXISTS bench_leaves (
    leaf_index bigint PRIMARY KEY, id bigint NOT NULL UNIQUE REFERENCES bench_entries,
    chain_hash bytea NOT NULL);
CREATE TABLE IF NOT EXISTS bench_nodes (
    level smallint, "index" bigint, hash bytea NOT NULL, PRIMARY KEY (level, "index"));
CREATE TABLE IF NOT EXISTS bench_head (id int PRIMARY KEY, size bigint NOT NULL,
    chain_head bytea NOT NULL, frontier bytea NOT NULL);
"""
RESET = "TRUNCATE bench_queue, bench_leaves, bench_nodes, bench_entry_attributes, bench_entries, bench_head"

_NEXT_ID = text("SELECT nextval('bench_entry_id')")
_WRITE = text(
    """
    WITH entry AS (
        INSERT INTO bench_entries
            (id, recorded_at, kind, citizen_ref, app_id, purpose, outcome, body, leaf_hash)
        VALUES (:id, :recorded_at, :kind, :citizen_ref, :app_id, :purpose, :outcome, :body, :leaf_hash)
    ), attributes AS (
        INSERT INTO bench_entry_attributes (id, attribute) SELECT :id, unnest(CAST(:attributes AS varchar[]))
    )
    INSERT INTO bench_queue (id) VALUES (:id)
    """
).bindparams(
    bindparam("recorded_at", type_=UTCDateTime()),
    bindparam("leaf_hash", type_=LargeBinary()),
    bindparam("attributes", type_=ARRAY(String())),
)
_TAKE = text(
    """
    WITH taken AS (
        DELETE FROM bench_queue WHERE id IN (SELECT id FROM bench_queue ORDER BY id LIMIT :batch)
        RETURNING id
    )
    SELECT e.id, e.leaf_hash, e.recorded_at FROM taken JOIN bench_entries e USING (id) ORDER BY e.id
    """
)
# Straight to the driver: psycopg sends Python lists as arrays, where SQLAlchemy's ARRAY types
# process every element in Python (most of a 5,000-entry batch's write when measured).
_FOLD = """
    WITH leaves AS (
        INSERT INTO bench_leaves (leaf_index, id, chain_hash)
        SELECT * FROM unnest(CAST(%(leaf_indexes)s AS bigint[]), CAST(%(ids)s AS bigint[]),
                             CAST(%(chains)s AS bytea[]))
    ), nodes AS (
        INSERT INTO bench_nodes (level, "index", hash)
        SELECT * FROM unnest(CAST(%(levels)s AS smallint[]), CAST(%(indexes)s AS bigint[]),
                             CAST(%(hashes)s AS bytea[]))
    )
    UPDATE bench_head SET size = %(size)s, chain_head = %(chain_head)s, frontier = %(frontier)s WHERE id = 1
"""


@dataclass
class Folded:
    """What integrating one batch writes: leaf rows (index, id, chain hash), nodes, the new head."""

    leaves: list[tuple[int, int, bytes]]
    nodes: dict[tuple[int, int], bytes]
    size: int
    chain_head: bytes
    frontier: bytes


def fold(size: int, chain_head: bytes, frontier: bytes, batch: Sequence[tuple[int, bytes]]) -> Folded:
    """Pure: append the batch's (id, leaf hash) pairs, in the given order, to a tree of `size`
    leaves with that chain head and frontier; what the integrator writes in one transaction."""
    leaves: list[tuple[int, int, bytes]] = []
    nodes: dict[tuple[int, int], bytes] = {}
    for entry_id, leaf in batch:
        completed, frontier = frontier_append(frontier, size, leaf)
        nodes.update(completed)
        chain_head = chain_next(chain_head, leaf)
        leaves.append((size, entry_id, chain_head))
        size += 1
    return Folded(leaves, nodes, size, chain_head, frontier)


def entry_body(entry_id: int, n: int, now: dt.datetime) -> dict:
    """The body a writer hashes: the entry's id (from the sequence), not its leaf index."""
    event = disclosure_event(n)
    body = {
        "id": entry_id,
        "time": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": event.kind,
        "citizen_ref": event.citizen_ref,
        "app_id": event.app_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "attributes": sorted(event.attributes),
        "request_id": f"r{n}",
        "details": event.details,
    }
    return body


def _write(conn: Connection, n: int) -> None:
    entry_id = conn.execute(_NEXT_ID).scalar_one()
    now = dt.datetime.now(dt.UTC)
    body = entry_body(entry_id, n, now)
    canonical = canonical_json(body)
    conn.execute(
        _WRITE,
        {
            "id": entry_id,
            "recorded_at": now,
            "kind": body["kind"],
            "citizen_ref": body["citizen_ref"],
            "app_id": body["app_id"],
            "purpose": body["purpose"],
            "outcome": body["outcome"],
            "body": canonical.decode(),
            "leaf_hash": leaf_hash(canonical),
            "attributes": body["attributes"],
        },
    )


class Integrator(threading.Thread):
    """The single integrator: one batch per transaction, the head row lock held for the batch."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.stop_when_drained = threading.Event()
        self.integrated = 0
        self.batches = 0
        self.busy_s = 0.0
        self.lags: list[float] = []  # per entry: integrated (committed) minus recorded_at
        self.error: str | None = None
        self.phases: Counter[str] = Counter()  # seconds per phase of a batch, summed

    def run(self) -> None:
        deadline = math.inf  # set once asked to stop: drain what is queued, within 120 s
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                taken = self._one_batch()
                self.busy_s += time.perf_counter() - began
                if self.stop_when_drained.is_set():
                    if taken == 0:
                        return
                    deadline = min(deadline, time.perf_counter() + 120)
                elif taken == 0:
                    time.sleep(PERIOD_S)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]

    def _one_batch(self) -> int:
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            self.phases[name] += now - clock
            clock = now

        with self.engine.begin() as conn:
            head = conn.execute(
                text("SELECT size, chain_head, frontier FROM bench_head WHERE id = 1 FOR UPDATE")
            ).one()
            rows = conn.execute(_TAKE, {"batch": BATCH}).all()
            lap("take")
            if not rows:
                return 0
            done = fold(
                head.size,
                bytes(head.chain_head),
                bytes(head.frontier),
                [(r.id, bytes(r.leaf_hash)) for r in rows],
            )
            levels, indexes = zip(*done.nodes, strict=True)
            leaf_indexes, ids, chains = zip(*done.leaves, strict=True)
            lap("fold")
            conn.exec_driver_sql(
                _FOLD,
                {
                    "leaf_indexes": list(leaf_indexes),
                    "ids": list(ids),
                    "chains": list(chains),
                    "levels": list(levels),
                    "indexes": list(indexes),
                    "hashes": list(done.nodes.values()),
                    "size": done.size,
                    "chain_head": done.chain_head,
                    "frontier": done.frontier,
                },
            )
            lap("write")
        lap("commit")
        committed = dt.datetime.now(dt.UTC)
        self.lags.extend((committed - r.recorded_at).total_seconds() for r in rows)
        self.integrated += len(rows)
        self.batches += 1
        return len(rows)


class _Nodes:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, level: int, index: int) -> bytes | None:
        found = self.conn.execute(
            text('SELECT hash FROM bench_nodes WHERE level = :l AND "index" = :i'), {"l": level, "i": index}
        ).scalar()
        return None if found is None else bytes(found)


def _check(engine: Engine) -> str:
    """The tree the integrator built is RFC 9162's over the entries' leaf hashes in leaf order,
    every entry has exactly one leaf, and inclusion proofs from the stored nodes verify."""
    with engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM bench_entries")).scalar_one()
        leaves = [
            bytes(h)
            for (h,) in conn.execute(
                text(
                    "SELECT e.leaf_hash FROM bench_leaves AS l JOIN bench_entries AS e USING (id) "
                    "ORDER BY l.leaf_index"
                )
            )
        ]
        size = conn.execute(text("SELECT size FROM bench_head WHERE id = 1")).scalar_one()
        if not leaves or size != len(leaves) or entries != len(leaves):
            return f"NOT OK: {entries} entries, {len(leaves)} leaves, head size {size}"
        store = _Nodes(conn)
        stored_root = root(store, size)
        if stored_root != mth(leaves):
            return "NOT OK: stored root differs from the leaves' root"
        for index in {0, size // 3, size // 2, size - 1}:
            if not verify_inclusion(
                leaves[index], index, size, inclusion_proof(store, index, size), stored_root
            ):
                return f"NOT OK: inclusion proof of leaf {index}"
    return f"tree OK ({size:,} leaves, root = RFC 9162 over the leaves, inclusion proofs verify)"


def run_prototype(url: str, writers: int, seconds: float) -> Row:
    engine = create_engine(url, pool_size=writers + 2, max_overflow=0, pool_timeout=60)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
        conn.exec_driver_sql(RESET)
        conn.exec_driver_sql("INSERT INTO bench_head VALUES (1, 0, %(z)s, '')", {"z": ZERO_HASH})
    log(f"audit-scale: batched integrator prototype, {writers} writers, {seconds:.0f} s")

    def write(n: int) -> None:
        with engine.begin() as conn:
            _write(conn, n)

    integrator = Integrator(engine)
    try:
        return run_writers(
            title=f"audit append, batched integrator prototype, {writers} writers (entry + attributes + "
            f"queue row per release; one integrator folds batches every {PERIOD_S * 1000:.0f} ms or sooner)",
            writers=writers,
            seconds=seconds,
            write=write,
            first=0,
            cap=200_000,
            integrator=integrator,
            stop=integrator.stop_when_drained,
            drain_timeout=180,
            check=lambda: _check(engine),
            ok="tree OK",
        )
    finally:
        engine.dispose()


_BACKLOG = """
WITH ids AS (SELECT nextval('bench_entry_id') AS id, g FROM generate_series(1, %(n)s) AS g),
entry AS (
    INSERT INTO bench_entries (id, recorded_at, kind, citizen_ref, app_id, purpose, outcome, body, leaf_hash)
    SELECT id, now(), 'disclosure', md5(g::text) || md5(g::text), 'bench-app-' || (g %% 300), 'pre-fill',
           'released', body, sha256('\\x00'::bytea || convert_to(body, 'UTF8'))
    FROM ids, LATERAL (SELECT format('{"id":%%s,"kind":"disclosure"}', id) AS body) AS b
    RETURNING id
)
INSERT INTO bench_queue (id) SELECT id FROM entry
"""


def capacity(url: str, entries: int) -> Row:
    """The integrator alone: `entries` queued at once (inserted in SQL), then drained in batches
    of BATCH by one integrator, with no writers competing for the client or the server."""
    engine = create_engine(url, pool_size=2, max_overflow=0)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
        conn.exec_driver_sql(RESET)
        conn.exec_driver_sql("INSERT INTO bench_head VALUES (1, 0, %(z)s, '')", {"z": ZERO_HASH})
        conn.exec_driver_sql(_BACKLOG, {"n": entries})
    log(f"audit-scale: integrator alone, draining {entries:,} queued entries")
    integrator = Integrator(engine)
    integrator.stop_when_drained.set()
    began = time.perf_counter()
    integrator.start()
    integrator.join(timeout=300)
    wall = time.perf_counter() - began
    verdict = _check(engine) if integrator.error is None else f"integrator failed: {integrator.error}"
    engine.dispose()
    rate = integrator.integrated / wall
    per_batch = {name: spent / max(integrator.batches, 1) for name, spent in integrator.phases.items()}
    phases = ", ".join(f"{name} {spent * 1000:.0f} ms" for name, spent in per_batch.items())
    return Row(
        f"audit integrator alone: one thread folds a backlog in batches of {BATCH:,}",
        "postgresql",
        integrator.integrated,
        f"{rate:,.0f} entries/s ({integrator.batches} batches, {wall:.1f} s; per batch {phases}); {verdict}",
        f"≥ {TARGET:,} entries/s",
        MEETS if rate >= TARGET and verdict.startswith("tree OK") else MISSES,
        {
            "entries_per_s": rate,
            "batches": integrator.batches,
            "wall_s": wall,
            "per_batch_ms": {name: spent * 1000 for name, spent in per_batch.items()},
            "check": verdict,
        },
    )
