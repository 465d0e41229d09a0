"""What the two batched-append settings of `--only audit-scale` share (bench/audit_batched.py, the
product's; bench/audit_integrator.py, the prototype's): writer threads that release for `seconds`
while one integrator thread folds their entries in, then the queue drained, the log checked and
the row made."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from .common import MEETS, MISSES, Row, percentile

TARGET = 2_000  # releases/s the issue asks of the append alone (issue 18, item 4)


def run_writers(
    *,
    title: str,
    writers: int,
    seconds: float,
    write: Callable[[int], None],
    first: int,
    cap: int,
    integrator: Any,
    stop: threading.Event,
    drain_timeout: float,
    check: Callable[[], str],
    ok: str,
) -> Row:
    """`write(n)` is one release (its own transaction); writer w numbers its releases from
    `first + w * 1,000,000`, and all of them stop after `cap` releases. `integrator` is a started-
    later thread with `integrated`, `batches`, `busy_s`, `lags` and `error`; setting `stop` asks it
    to drain the queue and end. `check()` judges the log afterwards; it passed if it starts `ok`."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers + 1)
    stop_at = [math.inf]

    def work(w: int) -> None:
        mine: list[float] = []
        n = first + w * 1_000_000
        try:
            barrier.wait(timeout=60)
            while time.perf_counter() < stop_at[0] and len(mine) < cap // writers:
                began = time.perf_counter()
                write(n)
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
    stop.set()
    integrator.join(timeout=drain_timeout)
    drain = time.perf_counter() - drain_began
    verdict = check() if integrator.error is None else f"integrator failed: {integrator.error}"
    rate = len(latencies) / wall
    per_busy_s = integrator.integrated / integrator.busy_s if integrator.busy_s else math.nan
    lag_p50, lag_p99 = percentile(integrator.lags, 50), percentile(integrator.lags, 99)
    result = (
        f"{rate:,.0f} releases/s; latency p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms; integrator {integrator.batches} batches, "
        f"{per_busy_s:,.0f} entries per busy second, busy {integrator.busy_s / (wall + drain):.0%}; "
        f"entry to proof p50 {lag_p50 * 1000:.0f} ms, p99 {lag_p99 * 1000:.0f} ms; drained in {drain:.1f} s; "
        f"{verdict}" + (f"; {len(errors)} errors, first: {errors[0]}" if errors else "")
    )
    return Row(
        title,
        "postgresql",
        len(latencies),
        result,
        f"≥ {TARGET:,} releases/s",
        MEETS if rate >= TARGET and not errors and verdict.startswith(ok) else MISSES,
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
