"""Refresh benchmarks.

`refresh`: one citizen from all eight agencies, each answering after 100 ms (target: median <= 150
ms, so at most ~50 ms on top of the slowest agency). Timed from opening the session to the commit:
load the citizen, decrypt the national id, fan out over HTTP, store and commit. Measured for a
first refresh (every value new: 56 inserts, 56 encryptions) and a re-refresh (nothing changed:
56 decrypt-and-compare).

`bulk`: `refresh_all` over N citizens (agencies answering at once), each N in a fresh child
process so its peak RSS is its own: citizens/s, and the growth of peak RSS over the RSS before the
run. Streaming means that growth does not rise with N.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
from typing import Any

from agency_connectors.refresh import refresh_all, refresh_citizen
from agency_connectors.simulators.persona import persona_for
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.models import Citizen

from .common import (
    INFO,
    MEETS,
    MISSES,
    Options,
    Row,
    Stopwatch,
    fresh_database,
    med_p95,
    mib,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    summarize,
)
from .seeding import build_runtime, close_runtime, full_record_indices, seed_citizens, simulators

AGENCY_LATENCY_MS = 100
BATCH_SIZE = 200  # refresh_all's defaults, as `consentry refresh --all` uses them
CONCURRENCY = 64
JUDGE_BATCHES = 5
TARGET_MS = 150.0
WARMUP = 3


def run_single(options: Options) -> list[Row]:
    rows: list[Row] = []
    count = 10 if options.quick else 40
    for backend, url in options.backends():
        with fresh_database(options, url, "refresh") as db_url, simulators(AGENCY_LATENCY_MS) as sims:
            runtime = build_runtime(db_url, sims.base_url)
            uinfins = [demo_uinfin(n) for n in full_record_indices(count + WARMUP)]
            ids = seed_citizens(runtime, uinfins)
            first = [_timed_refresh(runtime, citizen_id) for citizen_id in ids]
            again = [_timed_refresh(runtime, citizen_id) for citizen_id in ids]
            close_runtime(runtime)
        for label, timings in (("first refresh", first), ("re-refresh, unchanged", again)):
            kept = timings[WARMUP:]
            stats = summarize([t for t, _ in kept])
            slowest = summarize([s for _, s in kept])
            stats["slowest_agency_median_ms"] = slowest["median_ms"]
            stats["overhead_median_ms"] = stats["median_ms"] - slowest["median_ms"]
            rows.append(
                Row(
                    benchmark=f"refresh 1 citizen, 8 agencies @ {AGENCY_LATENCY_MS} ms ({label})",
                    backend=backend,
                    n=len(kept),
                    result=f"{med_p95(stats)} (slowest agency {slowest['median_ms']:.0f} ms)",
                    target=f"median ≤ {TARGET_MS:.0f} ms",
                    verdict=MEETS if stats["median_ms"] <= TARGET_MS else MISSES,
                    data=stats,
                )
            )
    return rows


def _timed_refresh(runtime, citizen_id: str) -> tuple[float, float]:
    """(seconds for the whole unit of work, seconds of the slowest agency call)."""
    clock = Stopwatch()
    with runtime.sessions() as session, session.begin():
        citizen = session.get(Citizen, citizen_id)
        result = refresh_citizen(
            session,
            registry=runtime.connectors,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            now=utcnow(),
        )
    elapsed = clock.seconds()
    assert not result.failed, result.failed
    return elapsed, max(o.elapsed_ms for o in result.outcomes.values()) / 1000


# --- bulk ------------------------------------------------------------------------------------------


def bulk_sizes(options: Options) -> tuple[int, ...]:
    return (100, 200, 400) if options.quick else (1000, 3000, 10000)


def run_bulk(options: Options) -> list[Row]:
    rows: list[Row] = []
    sizes = bulk_sizes(options)
    for backend, url in options.backends():
        results = []
        for n in sizes:
            with fresh_database(options, url, f"bulk{n}") as db_url:
                runtime = build_runtime(db_url)
                seed_citizens(runtime, (demo_uinfin(i) for i in range(n)))
                close_runtime(runtime)
                results.append(_in_child(_bulk_child, db_url))
        rows.extend(_bulk_rows(backend, sizes, results))
    return rows


def _bulk_rows(backend: str, sizes: tuple[int, ...], results: list[dict[str, Any]]) -> list[Row]:
    growth = [mib(r["peak_rss"] - r["rss_before"]) for r in results]
    # refresh_all holds up to two batches at once (one being written, the next being fetched), so
    # memory rises until N is a few batches and must be flat from there on. Judged on the sizes of
    # at least JUDGE_BATCHES batches: the largest may not need noticeably more than the smallest.
    # Allowance: 16 MiB or a quarter of the smallest one's growth (allocator noise).
    judged = [g for n, g in zip(sizes, growth, strict=True) if n >= JUDGE_BATCHES * BATCH_SIZE]
    allowance = max(16.0, judged[0] * 0.25) if judged else 0.0
    if len(judged) >= 2:
        verdict = MEETS if judged[-1] - judged[0] <= allowance else MISSES
        target = f"peak memory flat as N grows (within {allowance:.0f} MiB)"
    else:
        verdict = INFO
        target = f"flatness judged for N ≥ {JUDGE_BATCHES * BATCH_SIZE:,} (full run)"
    rows = []
    for n, result, grew in zip(sizes, results, growth, strict=True):
        assert result["citizens"] == n, result
        rate = n / result["seconds"]
        cpu_ms = 1000 * result["cpu_seconds"] / n
        data = {
            **result,
            "citizens_per_s": rate,
            "cpu_ms_per_citizen": cpu_ms,
            "peak_rss_growth_mib": grew,
            "flat_allowance_mib": allowance,
            "batch_size": BATCH_SIZE,
            "concurrency": CONCURRENCY,
        }
        note = "" if result["hwm_reset"] else " (VmHWM not resettable: process peak)"
        rows.append(
            Row(
                benchmark=(
                    f"bulk refresh_all, streamed (batch {BATCH_SIZE}, concurrency {CONCURRENCY}, "
                    "agencies answer at once)"
                ),
                backend=backend,
                n=n,
                result=(
                    f"{rate:,.0f} citizens/s ({result['seconds']:.1f} s, CPU {cpu_ms:.1f} ms per citizen); "
                    f"peak RSS +{grew:.1f} MiB over {mib(result['rss_before']):.0f} MiB{note}"
                ),
                target=target,
                verdict=verdict,
                data=data,
            )
        )
        if result["failed_citizens"]:
            rows[-1].result += f"; {result['failed_citizens']} citizens had an agency failing"
    return rows


def _in_child(function, *args):
    """Run `function(*args)` in a child process, so its memory readings are its own. Forked, not
    spawned: the child keeps the modules this process already imported (the tree may be mid-edit
    by then), and nothing here holds a database connection or a thread across the fork."""
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _bulk_child(db_url: str) -> dict[str, Any]:
    # The simulated agencies keep an LRU of up to 16,384 personas: memory of the fake agencies, not
    # of Consentry. Clearing it after every batch keeps it out of the peak-RSS reading.
    with simulators() as sims:
        runtime = build_runtime(db_url, sims.base_url)
        rss_before = rss_bytes()
        hwm_reset = reset_peak_rss()
        if not hwm_reset:
            rss_before = peak_rss_bytes()
        clock, cpu_started = Stopwatch(), _cpu_seconds()
        progress = refresh_all(
            runtime.sessions,
            registry=runtime.connectors,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            clock=utcnow,
            batch_size=BATCH_SIZE,
            concurrency=CONCURRENCY,
            on_batch=lambda _progress: persona_for.cache_clear(),
        )
        seconds, cpu = clock.seconds(), _cpu_seconds() - cpu_started
        peak = peak_rss_bytes()
        close_runtime(runtime)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "citizens": progress.citizens,
        "failed_citizens": progress.failed_citizens,
        "agency_failures": progress.agency_failures,
        "rss_before": rss_before,
        "peak_rss": peak,
        "hwm_reset": hwm_reset,
    }


def _cpu_seconds() -> float:
    """CPU time of this process so far (every thread, the in-process simulated agencies included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
