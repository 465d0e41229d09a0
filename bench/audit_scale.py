"""National-scale audit append (issue 18 item 4): releases/s of `audit.log.append` alone, with
1, 16 and 64 concurrent writers, each its own pooled connection and one transaction per release.

On PostgreSQL every append takes the audit head's row lock (`SELECT ... FOR UPDATE`) and holds it
through its write and its commit, so throughput is capped near 1 / (lock hold time). Per release
the bench times the wait for that lock and the hold after it (an engine event around the head's
FOR UPDATE), samples what every backend waits on (pg_stat_activity), and repeats the 16 and 64
writer runs with `SET LOCAL synchronous_commit = off` in each transaction, a measurement only (an
acknowledged release whose commit is lost would break "no audit row, no data"), and the 64 writers
as 4 processes of 16 threads (is the client's GIL the limit?). Then it runs the
batched-integrator prototype (bench/audit_integrator.py) with the same writers, and last the
product's batched append (bench/audit_batched.py, AUDIT_INTEGRATION=batched). SQLite (BEGIN
IMMEDIATE serialises writers) is the reference. See bench/audit_scale.md for figures and analysis.
BENCH_AUDIT_SCALE_SETTINGS picks PostgreSQL settings (inline, sync-off, processes, prototype,
batched; default all).

Bounded: each setting runs BENCH_AUDIT_SCALE_SECONDS (default 20, 5 with --quick) or
MAX_PER_SETTING releases (bench/audit_load.py), whichever comes first; loopback only.

This module picks the settings, measures the floors and makes the rows; the timed locked append
and the backend sampling are in bench/audit_append.py, the release every setting writes in
bench/audit_load.py.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path

from sqlalchemy import create_engine

import audit.entry_write
import audit.integrator
import audit.log

from . import audit_batched, audit_integrator
from .audit_append import Run, measure, measure_processes
from .audit_writers import TARGET
from .common import INFO, MEETS, MISSES, SKIPPED, Options, Row, fresh_database, percentile

PG_WRITERS = (1, 16, 64)
SQLITE_WRITERS = (1, 16)  # core's SQLite pool holds 15 connections: the 16th writer queues there too
PROCESSES = 4  # the 64 writers once more as 4 processes of 16 threads: the client's GIL, or not


def run(options: Options) -> list[Row]:
    rows = _run(options)
    # The append's modules are not among common.MEASURED_CODE, and they change under this bench:
    # name them (one digest over the lot).
    digest = hashlib.sha256()
    for module in (audit.log, audit.entry_write, audit.integrator):
        digest.update(Path(module.__file__).read_bytes())
    measured = digest.hexdigest()[:12]
    for row in rows:
        row.data["audit_log_sha256"] = measured
    return rows


def _run(options: Options) -> list[Row]:
    seconds = float(os.environ.get("BENCH_AUDIT_SCALE_SECONDS", 5 if options.quick else 20))
    rows = _sqlite_rows(options, seconds)
    url = options.postgres_url()
    if url is None:
        return [
            *rows,
            Row("audit append at scale", "postgresql", "-", "skipped: needs --pg-url", "-", SKIPPED),
        ]
    wanted = _settings()
    with fresh_database(options, url, "audit-scale") as db_url:
        rows.append(_floors(db_url))
        if "inline" in wanted:
            for writers in PG_WRITERS:
                rows.append(_row(measure(db_url, writers, seconds), "postgresql"))
        if "sync-off" in wanted:
            for writers in PG_WRITERS[1:]:
                rows.append(_row(measure(db_url, writers, seconds, sync_off=True), "postgresql"))
        if "processes" in wanted:
            rows.append(_row(measure_processes(db_url, PROCESSES, 64 // PROCESSES, seconds), "postgresql"))
        if "prototype" in wanted:
            for writers in PG_WRITERS[1:]:
                rows.append(audit_integrator.run_prototype(db_url, writers, seconds))
            rows.append(audit_integrator.capacity(db_url, 20_000 if options.quick else 100_000))
        if "batched" in wanted:  # last: the first batched entry changes the log for good
            for writers in PG_WRITERS[1:]:
                rows.append(audit_batched.run_product(db_url, writers, seconds))
    return rows


def _settings() -> set[str]:
    """BENCH_AUDIT_SCALE_SETTINGS: which PostgreSQL settings run (comma-separated; default all)."""
    known = {"inline", "sync-off", "processes", "prototype", "batched"}
    chosen = {s.strip() for s in os.environ.get("BENCH_AUDIT_SCALE_SETTINGS", ",".join(known)).split(",")}
    if chosen - known:
        raise SystemExit(
            f"BENCH_AUDIT_SCALE_SETTINGS: unknown {sorted(chosen - known)}; known {sorted(known)}"
        )
    return chosen


def _sqlite_rows(options: Options, seconds: float) -> list[Row]:
    url = f"sqlite:///{options.workdir / 'audit-scale.db'}"
    with fresh_database(options, url, "audit-scale") as db_url:
        return [_row(measure(db_url, writers, seconds), "sqlite") for writers in SQLITE_WRITERS]


def _floors(url: str) -> Row:
    """What any transaction pays here, alone: a round trip (SELECT 1) and the commit of a one-row
    insert, with synchronous_commit on (WAL flushed) and off."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    found: dict[str, list[float]] = {"rtt": [], "commit_on": [], "commit_off": []}
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, at timestamptz)")
        conn.commit()
        for i in range(600):
            began = time.perf_counter()
            conn.exec_driver_sql("SELECT 1").scalar()
            conn.rollback()
            found["rtt"].append(time.perf_counter() - began)
            name = "commit_on" if i % 2 else "commit_off"
            if name == "commit_off":
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("INSERT INTO bench_floor (at) VALUES (now())")
            began = time.perf_counter()
            conn.commit()
            found[name].append(time.perf_counter() - began)
    engine.dispose()
    p50 = {name: percentile(samples, 50) for name, samples in found.items()}
    return Row(
        "floors: one round trip (SELECT 1), one commit with and without the WAL flush",
        "postgresql",
        600,
        f"round trip p50 {_ms(p50['rtt'])} ms (p99 {_ms(percentile(found['rtt'], 99))}); commit p50 "
        f"{_ms(p50['commit_on'])} ms (p99 {_ms(percentile(found['commit_on'], 99))}) with "
        f"synchronous_commit on, {_ms(p50['commit_off'])} ms off",
        "-",
        INFO,
        {f"{name}_p50_ms": value * 1000 for name, value in p50.items()},
    )


# --- reporting ------------------------------------------------------------------------------------


def ceiling(hold_s: float) -> float:
    """Releases/s a single lock allows when each holder keeps it `hold_s` seconds."""
    return 1 / hold_s if hold_s > 0 else math.inf


def _ms(value: float) -> str:
    return f"{value * 1000:.2f}" if value < 0.01 else f"{value * 1000:.1f}"


def _row(run: Run, backend: str) -> Row:
    p50_hold = percentile(run.holds, 50)
    mean_hold = sum(run.holds) / len(run.holds) if run.holds else math.nan
    waits = sorted(run.waits_sampled.items(), key=lambda item: -item[1])[:4]
    sampled = "; ".join(f"{name} {share:.0%}" for name, share in waits)
    split = (
        f" (p50 split: Python {_ms(percentile(run.computes, 50))}, write {_ms(percentile(run.writes, 50))}, "
        f"commit {_ms(percentile(run.commits, 50))} ms)"
    )
    result = (
        f"{run.rate:,.0f} releases/s; latency p50 {_ms(percentile(run.latencies, 50))} ms, "
        f"p99 {_ms(percentile(run.latencies, 99))} ms; lock wait p50 {_ms(percentile(run.waits, 50))} ms, "
        f"hold p50 {_ms(p50_hold)} ms, mean {_ms(mean_hold)} ms (1/mean = {ceiling(mean_hold):,.0f}/s)"
        + (split if backend == "postgresql" else "")
        + f"; client CPU {run.cpu_share:.2f} cores"
        + (f"; backends: {sampled}" if sampled else "")
        + (f"; {len(run.errors)} errors, first: {run.errors[0]}" if run.errors else "")
    )
    measured = run.writers > 1 and "synchronous_commit" not in run.label and backend == "postgresql"
    verdict = (MEETS if run.rate >= TARGET and not run.errors else MISSES) if measured else INFO
    return Row(
        f"audit append alone, {run.label} (one transaction per release, 17 attributes)",
        backend,
        len(run.latencies),
        result,
        f"≥ {TARGET:,} releases/s" if measured else "-",
        verdict,
        {
            "writers": run.writers,
            "seconds": run.seconds,
            "releases_per_s": run.rate,
            "latency_p50_ms": percentile(run.latencies, 50) * 1000,
            "latency_p99_ms": percentile(run.latencies, 99) * 1000,
            "lock_wait_p50_ms": percentile(run.waits, 50) * 1000,
            "lock_wait_p99_ms": percentile(run.waits, 99) * 1000,
            "hold_p50_ms": p50_hold * 1000,
            "hold_p99_ms": percentile(run.holds, 99) * 1000,
            "hold_mean_ms": mean_hold * 1000,
            "hold_split_p50_ms": {
                "python": percentile(run.computes, 50) * 1000,
                "write": percentile(run.writes, 50) * 1000,
                "commit": percentile(run.commits, 50) * 1000,
            },
            "lock_wait_share": (sum(run.waits) / sum(run.latencies)) if run.latencies else math.nan,
            "client_cpu_cores": run.cpu_share,
            "backend_waits": run.waits_sampled,
            "errors": run.errors[:5],
        },
    )
