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

This module runs the steps and makes the rows; the sample citizens (step 2) are made in
bench/scale_sample.py, the bulk load (step 3) is in bench/scale_load.py, and what is asked of
PostgreSQL directly (bare SQL, EXPLAIN, sizes, free disk) in bench/scale_pg.py.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from app.extensions import Runtime
from core.uinfin import demo_uinfin
from profile_store.assembly import load_fields
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.models import Citizen

from .common import (
    INFO,
    MEETS,
    MISSES,
    SKIPPED,
    Options,
    Row,
    Stopwatch,
    fresh_database,
    log,
    med_p95,
    summarize,
)
from .scale_load import bulk_load
from .scale_pg import (
    PENDING_SQL,
    PROFILE_SQL,
    ROTATION_SQL,
    disk_problem,
    explain,
    relation_sizes,
    sql_latency,
)
from .scale_sample import create_real, sample_citizens
from .seeding import build_runtime, close_runtime, full_record_indices

DEFAULT_CITIZENS = 1_000_000
QUICK_CITIZENS = 50_000
HANDFUL = 5
SAMPLES = 200
READS = 200
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
        problem = disk_problem(db_url, total)
        if problem:
            return [Row(name, "postgresql", total, f"skipped: {problem}", "-", SKIPPED)]
        runtime = build_runtime(db_url)
        indices = full_record_indices(HANDFUL + samples)
        log(f"scale: {HANDFUL} citizens through the real code; near-empty reads")
        handful_ids = create_real(runtime, indices[:HANDFUL])
        handful_uinfins = [demo_uinfin(n) for n in indices[:HANDFUL]]
        with runtime.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        for citizen_id in handful_ids:  # warm-up
            _read_once(runtime, citizen_id)
        empty = summarize([_read_once(runtime, rng.choice(handful_ids)) for _ in range(READS)])
        empty_lookup = summarize([_lookup_once(runtime, rng.choice(handful_uinfins)) for _ in range(READS)])
        empty_sql = sql_latency(db_url, [rng.choice(handful_ids) for _ in range(READS)])
        log(f"scale: near-empty {med_p95(empty)}; encrypting {samples} sample citizens for real")
        sample = sample_citizens(indices[HANDFUL:])
        load = bulk_load(
            db_url, runtime.vault, bulk, sample, first_index=max(indices) + 1, rng=rng, handful=HANDFUL
        )
        order = list(sample.ids)
        rng.shuffle(order)
        log("scale: reading sample profiles")
        first = summarize([_read_once(runtime, citizen_id) for citizen_id in order])
        warm = summarize([_read_once(runtime, rng.choice(order)) for _ in range(READS)])
        sample_uinfins = [demo_uinfin(n) for n in indices[HANDFUL:]]
        lookup = summarize([_lookup_once(runtime, rng.choice(sample_uinfins)) for _ in range(READS)])
        sql = sql_latency(db_url, [rng.choice(order) for _ in range(READS)])
        plan = explain(db_url, PROFILE_SQL, (order[0],))
        rotation = explain(db_url, ROTATION_SQL, (runtime.vault.keyring.active_kid,))
        pending = explain(db_url, PENDING_SQL, (runtime.vault.keyring.active_kid,))
        sizes = relation_sizes(db_url, load["rows_total"])
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


def _read_once(runtime: Runtime, citizen_id: str) -> float:
    clock = Stopwatch()
    with runtime.sessions() as session:
        citizen = session.get(Citizen, citizen_id)
        views = load_fields(session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)
    elapsed = clock.seconds()
    assert len(views) == len(runtime.catalogue.names())
    return elapsed
