"""Assembly benchmark: decrypt and assemble one full profile.

The citizen is refreshed over HTTP from all eight agencies (every agency holds a record) and has
declared an email and a mobile number, so `assemble_person` returns all 62 attributes. Each
iteration opens a new session and loads the citizen (not timed), then times `assemble_person`:
the two SELECTs (profile fields, declarations), unwrapping the data key, 58 AES-GCM decryptions
plus JSON decoding, and building the person-format items. Target: median <= 2 ms.
"""

from __future__ import annotations

import statistics
import time

from agency_connectors.refresh import refresh_citizen
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.assembly import assemble_person
from profile_store.models import Citizen

from .common import (
    MEETS,
    MISSES,
    Options,
    Row,
    Stopwatch,
    fresh_database,
    med_p95,
    summarize,
)
from .seeding import (
    build_runtime,
    close_runtime,
    declare_usual,
    full_record_indices,
    seed_citizens,
    simulators,
)

TARGET_MS = 2.0
WARMUP = 50


def run(options: Options) -> list[Row]:
    rows: list[Row] = []
    count = 300 if options.quick else 3000
    for backend, url in options.backends():
        with fresh_database(options, url, "assembly") as db_url, simulators() as sims:
            runtime = build_runtime(db_url, sims.base_url)
            (citizen_id,) = seed_citizens(runtime, [demo_uinfin(full_record_indices(1)[0])])
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
                assert not result.failed and all(o.found for o in result.outcomes.values()), result
                declare_usual(session, runtime, citizen, utcnow())
            timings, cpu, attributes, available = _measure(runtime, citizen_id, count)
            close_runtime(runtime)
        stats = summarize(timings[WARMUP:])
        # CPU time of the same calls: what other work on the machine moves least.
        stats.update(
            attributes=attributes, available=available, cpu_median_ms=statistics.median(cpu[WARMUP:]) * 1000
        )
        rows.append(
            Row(
                benchmark=(
                    f"decrypt + assemble 1 full profile ({attributes} attributes, {available} with values)"
                ),
                backend=backend,
                n=stats["n"],
                result=f"{med_p95(stats)}; CPU median {stats['cpu_median_ms']:.2f} ms",
                target=f"median ≤ {TARGET_MS:g} ms",
                verdict=MEETS if stats["median_ms"] <= TARGET_MS else MISSES,
                data=stats,
            )
        )
    return rows


def _measure(runtime, citizen_id: str, count: int) -> tuple[list[float], list[float], int, int]:
    timings: list[float] = []
    cpu: list[float] = []
    person: dict = {}
    for _ in range(count + WARMUP):
        with runtime.sessions() as session:
            citizen = session.get(Citizen, citizen_id)
            clock, cpu_started = Stopwatch(), time.thread_time()
            person = assemble_person(
                session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen
            )
            timings.append(clock.seconds())
            cpu.append(time.thread_time() - cpu_started)
    available = sum(
        1 for item in person.values() if item and not (isinstance(item, dict) and item.get("unavailable"))
    )
    return timings, cpu, len(person), available
