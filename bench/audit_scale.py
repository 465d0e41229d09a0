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
MAX_PER_SETTING releases, whichever comes first; loopback only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

import audit.entry_write
import audit.integrator
import audit.log
from audit.log import Event, append
from core.db import make_engine, make_session_factory

from . import audit_batched, audit_integrator
from .audit_writers import TARGET
from .common import INFO, MEETS, MISSES, SKIPPED, Options, Row, fresh_database, log

PG_WRITERS = (1, 16, 64)
SQLITE_WRITERS = (1, 16)  # core's SQLite pool holds 15 connections: the 16th writer queues there too
MAX_PER_SETTING = 200_000
SAMPLE_EVERY_S = 0.02
PROCESSES = 4  # the 64 writers once more as 4 processes of 16 threads: the client's GIL, or not
# The MyInfo demo app's 17 attributes: what one person call releases (bench/oauth_api.py SCOPE).
PERSON_SCOPE = (
    *("uinfin", "name", "sex", "race", "nationality", "dob", "email", "mobileno", "regadd"),
    *("housingtype", "hdbtype", "marital", "edulevel", "noa-basic", "ownerprivate"),
    *("cpfcontributions", "cpfbalances"),
)


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
                rows.append(_row(_measure(db_url, writers, seconds), "postgresql"))
        if "sync-off" in wanted:
            for writers in PG_WRITERS[1:]:
                rows.append(_row(_measure(db_url, writers, seconds, sync_off=True), "postgresql"))
        if "processes" in wanted:
            rows.append(_row(_measure_processes(db_url, PROCESSES, 64 // PROCESSES, seconds), "postgresql"))
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
        return [_row(_measure(db_url, writers, seconds), "sqlite") for writers in SQLITE_WRITERS]


# --- pure helpers ---------------------------------------------------------------------------------


def disclosure_event(n: int) -> Event:
    """A person call's disclosure as app/oauth/release.py builds it: 17 attributes, the citizen as
    a keyed digest, and the details a release records."""
    return Event(
        kind="disclosure",
        citizen_ref=hashlib.sha256(b"citizen-%d" % (n % 1_000_003)).hexdigest(),
        app_id=f"bench-app-{n % 300}",
        purpose="pre-fill",
        outcome="released",
        attributes=PERSON_SCOPE,
        details={
            "consent_id": f"c-{n % 500_009:08d}",
            "token_jti": hashlib.sha256(b"jti-%d" % n).hexdigest()[:32],
            "profile": "v4",
            "asked": sorted(PERSON_SCOPE),
        },
    )


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def classify_wait(state: str | None, wait_type: str | None, wait_event: str | None) -> str:
    """What one client backend of pg_stat_activity is doing, in the terms of the analysis."""
    if wait_type == "Lock":
        return "head lock (row/xid wait)"
    if wait_event in ("WALSync", "WALWrite", "WALInitSync") or (
        wait_type == "LWLock" and (wait_event or "").startswith("WAL")
    ):
        return "WAL flush (commit)"
    if state == "idle in transaction":
        return "in transaction, waiting on client"
    if state == "idle":
        return "idle (between transactions)"
    if state == "active" and wait_type is None:
        return "on CPU (server)"
    return f"other ({wait_type}:{wait_event})"


def shares(counts: Counter[str]) -> dict[str, float]:
    """Each class's share of all samples, largest first."""
    total = sum(counts.values())
    return {name: count / total for name, count in counts.most_common()} if total else {}


def ceiling(hold_s: float) -> float:
    """Releases/s a single lock allows when each holder keeps it `hold_s` seconds."""
    return 1 / hold_s if hold_s > 0 else math.inf


# --- measurement ----------------------------------------------------------------------------------


@dataclass
class Run:
    writers: int
    seconds: float
    label: str
    latencies: list[float] = field(default_factory=list)  # append + commit, per release
    waits: list[float] = field(default_factory=list)  # until the head lock is granted
    holds: list[float] = field(default_factory=list)  # from the grant to the commit's return
    # The hold split (PostgreSQL): Python between the grant and the write being sent, the write's
    # round trip, and the commit's (with its WAL flush).
    computes: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waits_sampled: dict[str, float] = field(default_factory=dict)
    cpu_share: float = 0.0  # this process's CPU time / wall time (1.0 = one core)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _engine(url: str, writers: int) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return make_engine(url)  # WAL, busy timeout and BEGIN IMMEDIATE for writers, as served
    return create_engine(url, pool_size=writers, max_overflow=0, pool_timeout=60)


def _time_head_lock(engine: Engine) -> None:
    """Record on the connection when its head FOR UPDATE was sent and when it returned."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, statement, _params, _context, _many) -> None:
        if "FOR UPDATE" in statement and "audit_head" in statement:
            conn.info["lock_sent"] = time.perf_counter()
        elif "UPDATE audit_head" in statement:
            conn.info["write_sent"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, _cursor, statement, _params, _context, _many) -> None:
        if "FOR UPDATE" in statement and "audit_head" in statement:
            conn.info["lock_granted"] = time.perf_counter()
        elif "UPDATE audit_head" in statement:
            conn.info["write_done"] = time.perf_counter()


def _measure(url: str, writers: int, seconds: float, *, sync_off: bool = False, sample: bool = True) -> Run:
    engine = _engine(url, writers)
    sqlite = engine.dialect.name == "sqlite"
    if not sqlite:
        _time_head_lock(engine)
    sessions = make_session_factory(engine, writer=True)
    label = f"{writers} writer{'s' if writers > 1 else ''}" + (", synchronous_commit off" if sync_off else "")
    result = Run(writers, seconds, label)
    lock = threading.Lock()
    per_writer = MAX_PER_SETTING // writers
    _warm(engine, writers)
    log(f"audit-scale: {engine.dialect.name}, {label}, {seconds:.0f} s")
    start = threading.Barrier(writers + 1)
    stop_at = [math.inf]

    def work(w: int) -> None:
        mine: list[tuple[float, float, float]] = []
        try:
            start.wait(timeout=60)
            n = w * per_writer
            while time.perf_counter() < stop_at[0] and len(mine) < per_writer:
                began = time.perf_counter()
                with sessions() as session, session.begin():
                    conn = session.connection()  # SQLite: BEGIN IMMEDIATE, i.e. the write lock
                    if sync_off:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    opened = time.perf_counter()
                    append(session, disclosure_event(n), now=dt.datetime.now(dt.UTC), request_id=f"r{n}")
                    info = conn.info
                    sent, granted = info.pop("lock_sent", began), info.pop("lock_granted", opened)
                    write_sent, write_done = info.pop("write_sent", granted), info.pop("write_done", granted)
                    if sqlite:
                        sent = granted = write_sent = write_done = opened
                done = time.perf_counter()
                split = (write_sent - granted, write_done - write_sent, done - write_done)
                mine.append((done - began, granted - sent, done - granted, *split))
                n += 1
        except Exception as exc:  # reported in the row, not raised: the other writers go on
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        with lock:
            for latency, wait, hold, compute, write, commit in mine:
                result.latencies.append(latency)
                result.waits.append(wait)
                result.holds.append(hold)
                result.computes.append(compute)
                result.writes.append(write)
                result.commits.append(commit)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(writers)]
    for thread in threads:
        thread.start()
    sampler = None if sqlite or not sample else _Sampler(url)
    start.wait(timeout=60)
    began, cpu = time.perf_counter(), time.process_time()
    stop_at[0] = began + seconds
    if sampler:
        sampler.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    result.seconds = time.perf_counter() - began
    result.cpu_share = (time.process_time() - cpu) / result.seconds
    if sampler:
        result.waits_sampled = shares(sampler.stop())
    engine.dispose()
    return result


def _measure_processes(url: str, processes: int, threads: int, seconds: float) -> Run:
    """_measure in `processes` processes at once (spawned, each with its own pool), merged. They
    start within a few hundred ms of each other; the rate divides by the longest run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [pool.submit(_measure, url, threads, seconds, sample=False) for _ in range(processes)]
        parts = [future.result(timeout=seconds + 300) for future in futures]
    merged = Run(processes * threads, max(part.seconds for part in parts), "")
    merged.label = f"{merged.writers} writers as {processes} processes x {threads} threads"
    for part in parts:
        for name in ("latencies", "waits", "holds", "computes", "writes", "commits", "errors"):
            getattr(merged, name).extend(getattr(part, name))
        merged.cpu_share += part.cpu_share
    return merged


def _warm(engine: Engine, writers: int) -> None:
    """Open every pooled connection once before the clock starts (SQLite's connect is cheap, and
    its pool is smaller than the writers)."""
    held = [engine.connect() for _ in range(1 if engine.dialect.name == "sqlite" else writers)]
    for conn in held:
        conn.close()


class _Sampler:
    """Polls pg_stat_activity on its own connection until stopped; counts classify_wait's classes."""

    def __init__(self, url: str) -> None:
        import psycopg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._database = make_url(url).database
        self._stop = threading.Event()
        self._counts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        query = (
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        while not self._stop.wait(SAMPLE_EVERY_S):
            for state, wait_type, wait_event in self._conn.execute(query, (self._database,)).fetchall():
                self._counts[classify_wait(state, wait_type, wait_event)] += 1

    def stop(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(timeout=10)
        self._conn.close()
        return self._counts


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
