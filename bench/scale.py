"""National-scale benchmark (PostgreSQL only): load N citizens' profiles quickly, then time one
profile read at that size next to a near-empty database.

1. A fresh database gets a handful of citizens through the real code (create_citizen,
   apply_agency_record for all eight agencies, two declarations); reads are timed there.
2. A sample of citizens (those read back later) is created the same way, with real encryption, in
   a scratch in-memory SQLite database; their rows are copied out as they are.
3. Everyone else is bulk-loaded with binary COPY, in chunks, one transaction per chunk: real
   national-id digests and correct key columns, but random ciphertext bytes of realistic sizes (the
   sizes the sample's real values have, attribute by attribute), so tables and indexes reach
   national size without encrypting a million profiles. The sample citizens are spread at random
   positions through the load. Constraints and indexes are dropped for the load and re-created
   afterwards (sorted builds are far faster than maintaining a B-tree row by row), foreign keys
   are re-validated, then ANALYZE.
4. One profile read (session.get(Citizen) + load_fields, a new session per read, as a request
   does) is timed for every sample citizen in random order (first read after the load), then
   again for random sample citizens (warm), plus the bare SQL of the profile_fields range scan.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app.config import AGENCY_CODES
from app.extensions import Runtime
from core import migrate
from core.clock import utcnow
from core.db import Base, make_engine
from core.uinfin import demo_uinfin
from profile_store.assembly import load_fields
from profile_store.citizens import create_citizen, find_citizen_by_uinfin
from profile_store.models import Citizen
from profile_store.vault import Vault

from . import pgcopy
from .common import (
    DECLARED_VALUES,
    INFO,
    MEETS,
    MISSES,
    SKIPPED,
    Options,
    Row,
    Stopwatch,
    bench_config,
    build_runtime,
    close_runtime,
    fresh_database,
    full_record_indices,
    log,
    med_p95,
    store_full_profile,
    summarize,
)

DEFAULT_CITIZENS = 1_000_000
QUICK_CITIZENS = 50_000
HANDFUL = 5
SAMPLES = 200
READS = 200
CHUNK = 5_000
TEMPLATES = 64
HISTORY_MAX = 4  # superseded values per bulk citizen: uniform 0..4, mean 2
BYTES_PER_CITIZEN_GUESS = 32 * 1024  # with WAL and index builds; for the free-disk check
READ_SLOWDOWN_ALLOWED = 2.0  # warm median at N may be at most this many times the near-empty median


def run(options: Options) -> list[Row]:
    url = options.postgres_url()
    name = "national scale: bulk load + profile read"
    if url is None:
        return [Row(name, "postgresql", "-", "skipped: needs --pg-url (PostgreSQL)", "-", SKIPPED)]
    total = options.citizens_pg or (QUICK_CITIZENS if options.quick else DEFAULT_CITIZENS)
    samples = min(SAMPLES, max(1, total - HANDFUL))
    bulk = max(0, total - HANDFUL - samples)
    rng = random.Random(20261123)
    with fresh_database(options, url, "scale") as db_url:
        problem = _disk_problem(db_url, total)
        if problem:
            return [Row(name, "postgresql", total, f"skipped: {problem}", "-", SKIPPED)]
        runtime = build_runtime(db_url)
        indices = full_record_indices(HANDFUL + samples)
        log(f"scale: {HANDFUL} citizens through the real code; near-empty reads")
        handful_ids = _create_real(runtime, indices[:HANDFUL])
        handful_uinfins = [demo_uinfin(n) for n in indices[:HANDFUL]]
        with runtime.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        for citizen_id in handful_ids:  # warm-up
            _read_once(runtime, citizen_id)
        empty = summarize([_read_once(runtime, rng.choice(handful_ids)) for _ in range(READS)])
        empty_lookup = summarize([_lookup_once(runtime, rng.choice(handful_uinfins)) for _ in range(READS)])
        empty_sql = _sql_latency(db_url, [rng.choice(handful_ids) for _ in range(READS)])
        log(f"scale: near-empty {med_p95(empty)}; encrypting {samples} sample citizens for real")
        sample = _sample_citizens(indices[HANDFUL:])
        load = _bulk_load(db_url, runtime.vault, bulk, sample, first_index=max(indices) + 1, rng=rng)
        order = list(sample.ids)
        rng.shuffle(order)
        log("scale: reading sample profiles")
        first = summarize([_read_once(runtime, citizen_id) for citizen_id in order])
        warm = summarize([_read_once(runtime, rng.choice(order)) for _ in range(READS)])
        sample_uinfins = [demo_uinfin(n) for n in indices[HANDFUL:]]
        lookup = summarize([_lookup_once(runtime, rng.choice(sample_uinfins)) for _ in range(READS)])
        sql = _sql_latency(db_url, [rng.choice(order) for _ in range(READS)])
        plan = _explain(db_url, _PROFILE_SQL, (order[0],))
        rotation = _explain(db_url, _ROTATION_SQL, (runtime.vault.keyring.active_kid,))
        pending = _explain(db_url, _PENDING_SQL, (runtime.vault.keyring.active_kid,))
        sizes = _relation_sizes(db_url, load["rows_total"])
        close_runtime(runtime)
    measured = {
        "empty": empty,
        "first": first,
        "warm": warm,
        "sql": sql,
        "plan": plan,
        "load": load,
        "sizes": sizes,
        "empty_lookup": empty_lookup,
        "empty_sql": empty_sql,
        "lookup": lookup,
        "rotation": rotation,
        "pending": pending,
    }
    return _rows(total, samples, measured)


def _rows(total: int, samples: int, m: dict[str, Any]) -> list[Row]:
    empty, first, warm, sql, plan, load, sizes = (
        m[k] for k in ("empty", "first", "warm", "sql", "plan", "load", "sizes")
    )
    synthetic = total - HANDFUL - samples
    limit = empty["median_ms"] * READ_SLOWDOWN_ALLOWED
    lookup_limit = m["empty_lookup"]["median_ms"] * READ_SLOWDOWN_ALLOWED
    load_result = (
        f"{total:,} citizens, {load['rows_loaded']:,} rows in {load['total_s']:.0f} s "
        f"({load['rows_loaded'] / load['copy_s']:,.0f} rows/s COPY, {load['citizens_per_s']:,.0f} citizens/s "
        f"overall; COPY {load['copy_s']:.0f} s, indexes {load['index_s']:.0f} s, FKs {load['fk_s']:.0f} s, "
        f"ANALYZE {load['analyze_s']:.0f} s); {sizes['database_bytes'] / 2**30:.1f} GiB. "
        f"{HANDFUL + samples} citizens encrypted for real, "
        f"{synthetic:,} with random ciphertext of realistic size"
    )
    plan_note = (
        f"; plan: {plan['node']} on {plan['index']}, {plan['rows']} rows, "
        f"{plan['hit']} buffers hit / {plan['read']} read, {plan['execution_ms']:.2f} ms in the server"
    )
    rotation, pending = m["rotation"], m["pending"]
    return [
        Row(
            "national scale: bulk load (binary COPY, chunked)",
            "postgresql",
            total,
            load_result,
            "loads quickly, in chunks",
            INFO,
            {**load, "sizes": sizes},
        ),
        Row(
            "profile read (get citizen + load_fields), near-empty db",
            "postgresql",
            HANDFUL,
            f"{med_p95(empty)}; SQL alone median {m['empty_sql']['median_ms']:.2f} ms",
            "baseline",
            INFO,
            {**empty, "sql": m["empty_sql"]},
        ),
        Row(
            "profile read, first read of each sample after the load",
            "postgresql",
            total,
            f"{med_p95(first)} over {first['n']} citizens",
            "info (cold shared_buffers)",
            INFO,
            first,
        ),
        Row(
            "profile read, warm (random sample citizens)",
            "postgresql",
            total,
            f"{med_p95(warm)}; SQL alone median {sql['median_ms']:.2f} ms{plan_note}",
            f"median ≤ {READ_SLOWDOWN_ALLOWED:g} x near-empty ({limit:.2f} ms)",
            MEETS if warm["median_ms"] <= limit else MISSES,
            {**warm, "sql": sql, "plan": plan},
        ),
        Row(
            "find citizen by national id (uinfin_digest unique index)",
            "postgresql",
            total,
            f"{med_p95(m['lookup'])}; near-empty {med_p95(m['empty_lookup'])}",
            f"median ≤ {READ_SLOWDOWN_ALLOWED:g} x near-empty ({lookup_limit:.2f} ms)",
            MEETS if m["lookup"]["median_ms"] <= lookup_limit else MISSES,
            {"at_n": m["lookup"], "near_empty": m["empty_lookup"]},
        ),
        Row(
            "key rotation: rotate_batch query / pending_rotation count, nothing left to rotate",
            "postgresql",
            total,
            f"batch query {rotation['execution_ms']:.0f} ms ({rotation['node']}); "
            f"count {pending['execution_ms']:.0f} ms ({pending['node']})",
            "info (worst case: scans every citizen)",
            INFO,
            {"rotate_batch": rotation, "pending_rotation": pending},
        ),
    ]


def _lookup_once(runtime: Runtime, uinfin: str) -> float:
    clock = Stopwatch()
    with runtime.sessions() as session:
        citizen = find_citizen_by_uinfin(session, vault=runtime.vault, uinfin=uinfin)
    elapsed = clock.seconds()
    assert citizen is not None
    return elapsed


# --- real citizens -----------------------------------------------------------------------------


def _create_real(runtime: Runtime, indices: list[int]) -> list[str]:
    ids = []
    for n in indices:
        uinfin = demo_uinfin(n)
        now = utcnow()
        with runtime.sessions() as session, session.begin():
            citizen = create_citizen(session, vault=runtime.vault, uinfin=uinfin, now=now)
            store_full_profile(session, runtime, citizen, uinfin, now)
            ids.append(citizen.id)
    return ids


def _read_once(runtime: Runtime, citizen_id: str) -> float:
    clock = Stopwatch()
    with runtime.sessions() as session:
        citizen = session.get(Citizen, citizen_id)
        views = load_fields(session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)
    elapsed = clock.seconds()
    assert len(views) == len(runtime.catalogue.names())
    return elapsed


@dataclass
class SampleSet:
    """Real citizens made in a scratch database: their COPY rows and what their values look like."""

    ids: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, list[bytes]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    fields: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    declared: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    citizen_sizes: list[tuple[int, int]] = field(default_factory=list)
    dek_kid: str = ""


def _sample_citizens(indices: list[int]) -> SampleSet:
    engine = make_engine("sqlite://")
    migrate.upgrade(engine)
    runtime = Runtime.build(bench_config("sqlite://"), engine)
    sample = SampleSet()
    for n in indices:
        uinfin = demo_uinfin(n)
        now = utcnow()
        with runtime.sessions() as session, session.begin():
            citizen = create_citizen(session, vault=runtime.vault, uinfin=uinfin, now=now)
            store_full_profile(session, runtime, citizen, uinfin, now)
            sample.ids.append(citizen.id)
    tables = Base.metadata.tables
    with engine.connect() as conn:
        for table in pgcopy.TABLES:
            columns = [tables[table].c[name] for name, _ in pgcopy.COLUMNS[table]]
            key = tables[table].c["id" if table == "citizens" else "citizen_id"]
            for row in conn.execute(select(*columns)):
                values = row._mapping
                citizen_id = values[key.name]
                sample.rows[citizen_id][table].append(pgcopy.encode_mapping(table, values))
                if table == "profile_fields":
                    ct = values["ciphertext"]
                    sample.fields[values["attribute"]].append(
                        (
                            values["agency"],
                            values["source"],
                            values["lastupdated"],
                            values["unavailable"],
                            None if ct is None else len(ct),
                        )
                    )
                elif table == "declarations":
                    sample.declared[values["attribute"]].append(len(values["ciphertext"]))
                elif table == "citizens":
                    sample.citizen_sizes.append(
                        (len(values["uinfin_ciphertext"]), len(values["dek_wrapped"]))
                    )
                    sample.dek_kid = values["dek_kid"]
    close_runtime(runtime)
    return sample


# --- bulk load ---------------------------------------------------------------------------------


@dataclass
class _Template:
    rows: dict[str, bytes]
    counts: dict[str, int]


def _templates(sample: SampleSet, rng: random.Random, now: dt.datetime) -> list[_Template]:
    """Synthetic profiles: per attribute, the status, provenance and ciphertext size of a random
    sample citizen's real value, with random bytes in place of the ciphertext."""
    placeholder = pgcopy.ID_PLACEHOLDER
    templates = []
    for index in range(TEMPLATES):
        rows: dict[str, list[bytes]] = defaultdict(list)
        available = []
        for attribute, observed in sample.fields.items():
            agency, source, lastupdated, unavailable, size = rng.choice(observed)
            ciphertext = None if size is None else rng.randbytes(size)
            rows["profile_fields"].append(
                pgcopy.encode_row(
                    "profile_fields",
                    [
                        placeholder,
                        attribute,
                        agency,
                        source,
                        "C",
                        lastupdated,
                        unavailable,
                        ciphertext,
                        1,
                        now,
                    ],
                )
            )
            if ciphertext is not None:
                available.append((attribute, agency, source, lastupdated, size))
        for attribute, agency, source, lastupdated, size in rng.sample(
            available, rng.randint(0, HISTORY_MAX)
        ):
            rows["field_versions"].append(
                pgcopy.encode_row(
                    "field_versions",
                    [
                        placeholder,
                        attribute,
                        "agency",
                        1,
                        agency,
                        source,
                        lastupdated,
                        False,
                        rng.randbytes(size),
                        now - dt.timedelta(days=400),
                        now - dt.timedelta(days=30),
                    ],
                )
            )
        if index % 4 == 0:  # a quarter of citizens have declared an email and a mobile number
            for attribute in DECLARED_VALUES:
                size = rng.choice(sample.declared[attribute])
                rows["declarations"].append(
                    pgcopy.encode_row(
                        "declarations",
                        [
                            placeholder,
                            attribute,
                            rng.randbytes(size),
                            1,
                            now,
                        ],
                    )
                )
        for agency in AGENCY_CODES:
            rows["agency_syncs"].append(
                pgcopy.encode_row("agency_syncs", [placeholder, agency, now, now, None])
            )
        templates.append(
            _Template(
                rows={table: b"".join(parts) for table, parts in rows.items()},
                counts={table: len(parts) for table, parts in rows.items()},
            )
        )
    return templates


class _CitizenRows:
    """Encodes bulk `citizens` rows fast: constant fields pre-encoded."""

    def __init__(self, vault: Vault, sample: SampleSet, now: dt.datetime) -> None:
        self.vault = vault
        self.sizes = sample.citizen_sizes
        self.head = b"\x00\x07"
        self.kid = pgcopy.encode_field("text", sample.dek_kid)
        self.stamps = pgcopy.encode_field("timestamptz", now) * 2

    def encode(self, citizen_id: bytes, uinfin: str, rng: random.Random) -> bytes:
        uinfin_size, wrapped_size = rng.choice(self.sizes)
        digest = self.vault.digest_uinfin(uinfin).encode()
        return b"".join(
            (
                self.head,
                b"\x00\x00\x00\x24",
                citizen_id,
                len(digest).to_bytes(4, "big"),
                digest,
                uinfin_size.to_bytes(4, "big"),
                os.urandom(uinfin_size),
                self.kid,
                wrapped_size.to_bytes(4, "big"),
                os.urandom(wrapped_size),
                self.stamps,
            )
        )


def _conninfo(db_url: str) -> str:
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _bulk_load(
    db_url: str, vault: Vault, bulk: int, sample: SampleSet, *, first_index: int, rng: random.Random
) -> dict[str, Any]:
    now = utcnow()
    templates = _templates(sample, rng, now)
    citizen_rows = _CitizenRows(vault, sample, now)
    placeholder = pgcopy.ID_PLACEHOLDER
    new = bulk + len(sample.ids)
    slots = dict(zip(sorted(rng.sample(range(new), len(sample.ids))), sample.ids, strict=True))
    loaded: dict[str, int] = dict.fromkeys(pgcopy.TABLES, 0)
    timings: list[tuple[str, float]] = []
    total = Stopwatch()
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in pgcopy.TABLES}  # noqa: S608
        ddl = _capture_ddl(conn)
        for statement in ddl["drop"]:
            conn.execute(statement)
        for table in pgcopy.TABLES:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        log(f"scale: loading {new:,} citizens in chunks of {CHUNK:,} (constraints and indexes dropped)")
        copy_clock = Stopwatch()
        bulk_index = 0
        next_report = 0.1
        for start in range(0, new, CHUNK):
            chunk = []  # (citizen id bytes, template or None for a sample citizen, uinfin or sample id)
            for position in range(start, min(new, start + CHUNK)):
                if position in slots:
                    chunk.append((slots[position].encode(), None, slots[position]))
                else:
                    uinfin = demo_uinfin(first_index + bulk_index)
                    bulk_index += 1
                    chunk.append((str(uuid.uuid4()).encode(), rng.randrange(TEMPLATES), uinfin))
            with conn.transaction(), conn.cursor() as cur:
                for table in pgcopy.TABLES:
                    loaded[table] += _copy_chunk(
                        cur, table, chunk, templates, citizen_rows, sample, rng, placeholder
                    )
            done = min(new, start + CHUNK)
            if done / new >= next_report or done == new:
                rows = sum(loaded.values())
                log(
                    f"scale: {done:,}/{new:,} citizens, {rows:,} rows, "
                    f"{rows / copy_clock.seconds():,.0f} rows/s"
                )
                next_report += 0.1
        copy_s = copy_clock.seconds()
        index_clock = Stopwatch()
        for statement in ddl["create"]:
            clock = Stopwatch()
            conn.execute(statement)
            timings.append((statement, clock.seconds()))
            log(f"scale: {clock.seconds():6.1f} s  {statement[:110]}")
        index_s = index_clock.seconds()
        fk_clock = Stopwatch()
        for statement in ddl["foreign_keys"]:
            clock = Stopwatch()
            conn.execute(statement)
            timings.append((statement, clock.seconds()))
            log(f"scale: {clock.seconds():6.1f} s  {statement[:110]}")
        fk_s = fk_clock.seconds()
        analyze_clock = Stopwatch()
        conn.execute(f"ANALYZE {', '.join(pgcopy.TABLES)}")
        analyze_s = analyze_clock.seconds()
        for table in pgcopy.TABLES:
            conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    rows_loaded = sum(loaded.values())
    total_s = total.seconds()
    log(f"scale: loaded {rows_loaded:,} rows in {total_s:.0f} s")
    return {
        "citizens_loaded": new,
        "rows_loaded": rows_loaded,
        "rows_by_table": loaded,
        "rows_total": {t: before[t] + loaded[t] for t in pgcopy.TABLES},
        "copy_s": copy_s,
        "index_s": index_s,
        "fk_s": fk_s,
        "analyze_s": analyze_s,
        "total_s": total_s,
        "rows_per_s_copy": rows_loaded / copy_s,
        "citizens_per_s": new / total_s,
        "chunk_citizens": CHUNK,
        "statements": timings,
        "templates": TEMPLATES,
        "synthetic_citizens": bulk,
        "real_citizens": len(sample.ids) + HANDFUL,
    }


def _copy_chunk(cur, table, chunk, templates, citizen_rows, sample, rng, placeholder) -> int:
    count = 0
    pieces: list[bytes] = []
    size = 0
    with cur.copy(pgcopy.copy_sql(table), writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(pgcopy.SIGNATURE)
        for citizen_id, template, key in chunk:
            if template is None:
                parts = sample.rows[key][table]
                data = b"".join(parts)
                count += len(parts)
            elif table == "citizens":
                data = citizen_rows.encode(citizen_id, key, rng)
                count += 1
            else:
                chosen = templates[template]
                data = chosen.rows.get(table, b"").replace(placeholder, citizen_id)
                count += chosen.counts.get(table, 0)
            pieces.append(data)
            size += len(data)
            if size >= 1 << 20:
                copy.write(b"".join(pieces))
                pieces, size = [], 0
        pieces.append(pgcopy.TRAILER)
        copy.write(b"".join(pieces))
    return count


def _capture_ddl(conn) -> dict[str, list[str]]:
    """Statements to drop every key, index and foreign key of the bulk tables (including foreign
    keys of other tables that point at them, e.g. consents -> citizens), and to re-create them
    exactly as pg_get_constraintdef / pg_get_indexdef render them."""
    tables = list(pgcopy.TABLES)
    keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u') ORDER BY conrelid, conname",
        (tables,),
    ).fetchall()
    fks = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND (conrelid = ANY(%s::regclass[]) OR confrelid = ANY(%s::regclass[])) "
        "ORDER BY conrelid, conname",
        (tables, tables),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
        "FROM pg_index i "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY indrelid, indexrelid",
        (tables,),
    ).fetchall()
    drop = [f"ALTER TABLE {t} DROP CONSTRAINT {name}" for t, name, _ in fks]
    drop += [f"ALTER TABLE {t} DROP CONSTRAINT {name}" for t, name, _ in keys]
    drop += [f"DROP INDEX {name}" for _, name, _ in indexes]
    create = [f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}" for t, name, definition in keys]
    create += [definition for _, _, definition in indexes]
    foreign = [f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}" for t, name, definition in fks]
    return {"drop": drop, "create": create, "foreign_keys": foreign}


# --- measurements after the load ---------------------------------------------------------------

_PROFILE_SQL = (
    "SELECT citizen_id, attribute, agency, source, classification, lastupdated, unavailable, ciphertext, "
    "version, fetched_at FROM profile_fields WHERE citizen_id = %s"
)


# What profile_store.key_rotation runs (rotate_batch, pending_rotation), written out in SQL.
_ROTATION_SQL = "SELECT id FROM citizens WHERE dek_kid != %s ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED"
_PENDING_SQL = "SELECT count(*) FROM citizens WHERE dek_kid != %s"


def _sql_latency(db_url: str, citizen_ids: list[str]) -> dict[str, float]:
    timings = []
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        for citizen_id in citizen_ids:
            clock = Stopwatch()
            conn.execute(_PROFILE_SQL, (citizen_id,)).fetchall()
            timings.append(clock.seconds())
    return summarize(timings)


def _explain(db_url: str, sql: str, params: tuple) -> dict[str, Any]:
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
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


def _relation_sizes(db_url: str, rows_total: dict[str, int]) -> dict[str, Any]:
    tables = list(pgcopy.TABLES)
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
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


def _disk_problem(db_url: str, citizens: int) -> str | None:
    needed = citizens * BYTES_PER_CITIZEN_GUESS
    try:
        with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
            (directory,) = conn.execute("SHOW data_directory").fetchone()
        free = shutil.disk_usage(directory).free
    except (OSError, psycopg.Error):
        return None  # cannot tell (remote server): go ahead
    if free < needed:
        return (
            f"needs ~{needed / 2**30:.0f} GiB free next to the PostgreSQL data, {free / 2**30:.0f} GiB free"
        )
    return None
