"""The locked audit append under concurrent writers, timed (the inline, sync-off and processes
settings of `--only audit-scale`, and its SQLite reference): `measure` runs writer threads that
each append one release per transaction for a while, timing per release the wait for the audit
head's row lock and the hold after it (split into Python, the write and the commit);
`measure_processes` runs it in several processes at once; `Sampler` counts what PostgreSQL's
backends wait on meanwhile (classify_wait).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from audit.log import append
from core.db import make_engine, make_session_factory

from .audit_load import MAX_PER_SETTING, disclosure_event
from .common import log

SAMPLE_EVERY_S = 0.02


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


def measure(url: str, writers: int, seconds: float, *, sync_off: bool = False, sample: bool = True) -> Run:
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
    sampler = None if sqlite or not sample else Sampler(url)
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


def measure_processes(url: str, processes: int, threads: int, seconds: float) -> Run:
    """`measure` in `processes` processes at once (spawned, each with its own pool), merged. They
    start within a few hundred ms of each other; the rate divides by the longest run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [pool.submit(measure, url, threads, seconds, sample=False) for _ in range(processes)]
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


class Sampler:
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
