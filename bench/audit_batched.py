"""The product's batched audit append (AUDIT_INTEGRATION=batched, audit/integrator.py) under the
same load as bench/audit_scale.py's locked append: writers call `audit.log.append(...,
integration="batched")`, one transaction per release, while one integrator thread runs
`integrate_batch` in a loop, as `consentry audit integrate --every` does. At the end the queue is
drained and the whole log verified with `audit.verify.verify_log` (leaves, tree, chain, queue).

Run after the inline settings on the same database: the first batched entry sets
`audit_head.leaves_from` for good.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

from sqlalchemy import create_engine, select

from app.config import DEMO_AUDIT_SIGNING_KEY
from audit.integrator import BATCH, integrate_batch
from audit.log import BATCHED, append, tree_size
from audit.models import AuditEntry, AuditLeaf
from audit.signer import AuditSigner
from audit.verify import verify_log
from core.db import make_session_factory, transaction

from .common import MEETS, MISSES, Row, log

TARGET = 2_000
PERIOD_S = 0.05  # the integrator's wait when it found less than a full batch


class _Integrator(threading.Thread):
    def __init__(self, sessions) -> None:
        super().__init__(daemon=True)
        self.sessions, self.stop = sessions, threading.Event()
        self.integrated, self.batches, self.busy_s = 0, 0, 0.0
        self.lags: list[float] = []  # per entry: integration commit minus recorded_at
        self.error: str | None = None

    def run(self) -> None:
        try:
            while True:
                began = time.perf_counter()
                with transaction(self.sessions) as session:
                    before = tree_size(session)
                    done = integrate_batch(session, limit=BATCH)
                    recorded = (
                        session.scalars(
                            select(AuditEntry.recorded_at)
                            .join(AuditLeaf, AuditLeaf.seq == AuditEntry.seq)
                            .where(AuditLeaf.leaf_index >= before)
                        ).all()
                        if done
                        else []
                    )
                committed = dt.datetime.now(dt.UTC)
                self.busy_s += time.perf_counter() - began
                self.lags.extend((committed - at).total_seconds() for at in recorded)
                self.integrated += done
                self.batches += 1 if done else 0
                if done < BATCH:
                    if self.stop.is_set() and done == 0:
                        return
                    time.sleep(PERIOD_S)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]


def run_product(url: str, writers: int, seconds: float) -> Row:
    from .audit_scale import MAX_PER_SETTING, disclosure_event, percentile

    engine = create_engine(url, pool_size=writers + 2, max_overflow=0, pool_timeout=60)
    sessions = make_session_factory(engine, writer=True)
    log(
        f"audit-scale: product batched append (AUDIT_INTEGRATION=batched), {writers} writers, {seconds:.0f} s"
    )
    integrator = _Integrator(sessions)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers + 1)
    stop_at = [math.inf]

    def work(w: int) -> None:
        mine: list[float] = []
        n = 10_000_000 + w * 1_000_000
        try:
            barrier.wait(timeout=60)
            while time.perf_counter() < stop_at[0] and len(mine) < MAX_PER_SETTING // writers:
                began = time.perf_counter()
                with sessions() as session, session.begin():
                    event = disclosure_event(n)
                    now = dt.datetime.now(dt.UTC)
                    append(session, event, now=now, request_id=f"r{n}", integration=BATCHED)
                mine.append(time.perf_counter() - began)
                n += 1
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(writers)]
    for thread in threads:
        thread.start()
    integrator.start()
    barrier.wait(timeout=60)
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join(timeout=seconds + 120)
    wall = time.perf_counter() - began
    drain_began = time.perf_counter()
    integrator.stop.set()
    integrator.join(timeout=300)
    drain = time.perf_counter() - drain_began
    verdict = _check(sessions) if integrator.error is None else f"integrator failed: {integrator.error}"
    engine.dispose()
    rate = len(latencies) / wall
    per_busy_s = integrator.integrated / integrator.busy_s if integrator.busy_s else math.nan
    lag_p50, lag_p99 = percentile(integrator.lags, 50), percentile(integrator.lags, 99)
    result = (
        f"{rate:,.0f} releases/s; latency p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms; integrator {integrator.batches} batches, "
        f"{per_busy_s:,.0f} entries per busy second; entry to proof p50 {lag_p50 * 1000:.0f} ms, "
        f"p99 {lag_p99 * 1000:.0f} ms; drained in {drain:.1f} s; {verdict}"
        + (f"; {len(errors)} errors, first: {errors[0]}" if errors else "")
    )
    return Row(
        f"audit append, product batched (AUDIT_INTEGRATION=batched), {writers} writers (entry + attributes "
        "+ queue row per release; one integrator thread)",
        "postgresql",
        len(latencies),
        result,
        f"≥ {TARGET:,} releases/s",
        MEETS if rate >= TARGET and not errors and verdict.startswith("log OK") else MISSES,
        {
            "writers": writers,
            "releases_per_s": rate,
            "latency_p50_ms": percentile(latencies, 50) * 1000,
            "latency_p99_ms": percentile(latencies, 99) * 1000,
            "integrated": integrator.integrated,
            "batches": integrator.batches,
            "integrator_entries_per_busy_s": per_busy_s,
            "integration_lag_p50_ms": lag_p50 * 1000,
            "integration_lag_p99_ms": lag_p99 * 1000,
            "drain_s": drain,
            "check": verdict,
            "errors": errors[:5],
        },
    )


def _check(sessions) -> str:
    """The whole log as `consentry audit verify` checks it (after a checkpoint of the drained log)."""
    signer = AuditSigner.from_pem("bench", DEMO_AUDIT_SIGNING_KEY)
    with transaction(sessions) as session:
        from audit.log import create_checkpoint

        create_checkpoint(session, signer=signer, now=dt.datetime.now(dt.UTC))
        report = verify_log(session, public_key=signer.public_key)
    if not report.ok:
        return f"NOT OK: {report.first}"
    return f"log OK ({report.entries:,} leaves verified, queue empty)"
