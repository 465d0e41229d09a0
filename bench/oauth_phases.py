"""The OAuth API benchmark's load runs (bench/oauth_api.py): a timed phase of calls from CLIENTS
connections (bench/loadgen.py) with its CPU, status and audit accounting, its figures, and the
rate-limit windows the phases wait for."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from audit.models import AuditEntry

from . import loadgen
from .common import log
from .oauth_server import Server
from .oauth_settings import CLIENTS, Api


@dataclass
class Call:
    method: str
    path: str  # or an absolute URL
    headers: dict[str, str]
    form: dict[str, str] | None = None


@dataclass
class Outcome:
    ok: int = 200  # the status that counts as success
    seconds: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[tuple[int, bytes]] = field(default_factory=list)  # first few failures, for the log
    issued: int = 0
    started_at: float = 0.0  # time.time(), for the rate-limit windows
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    database_cpu_s: float | None = None  # PostgreSQL backends (SQLite runs inside the workers)
    machine_busy: float = 0.0
    responses: dict[int, bytes] = field(default_factory=dict)
    audited: dict[str, int] = field(default_factory=dict)  # audit entries written, by kind


class RateWindows:
    """The bench's share of the server's per-client limits (core.rate_limit: fixed windows of 60 s
    from the epoch, one counter per scope): before a warm-up and its timed phase, wait for a
    window with room for both, so that no 429 is of the bench's own making (the v4 and v5 token
    phases of one run count against one `oauth_token` counter)."""

    def __init__(self, limit: int, window_s: int = 60) -> None:
        self.limit, self.window_s = limit, window_s
        self.sent: dict[str, list[tuple[int, int, int]]] = {}  # (first window, last window, calls)
        self.waited_s = 0.0

    def wait_for_room(self, scope: str, calls: int) -> None:
        if calls > self.limit:
            raise ValueError(f"{calls} {scope} calls cannot fit one window of {self.limit}")
        while True:
            now = time.time()
            window = int(now) // self.window_s
            used = sum(n for first, last, n in self.sent.get(scope, []) if first <= window <= last)
            if used + calls <= self.limit:
                return
            pause = (window + 1) * self.window_s - now + 0.5
            log(f"oauth: waiting {pause:.0f} s for the next {scope} rate-limit window ({used} calls in it)")
            time.sleep(pause)
            self.waited_s += pause

    def record(self, scope: str, outcome: Outcome) -> None:
        """Count a phase's calls in every window it touched (an over-estimate, never under: the
        server stamps each call between the phase's start and end, on the same clock)."""
        first = int(outcome.started_at) // self.window_s
        last = int(outcome.started_at + outcome.elapsed_s) // self.window_s
        self.sent.setdefault(scope, []).append((first, last, outcome.issued))


def run_phase(
    server: Server,
    calls: list[Call],
    *,
    keep: int = 0,
    deadline: float | None = None,
    ok: int = 200,
    runtime=None,
) -> Outcome:
    """Send `calls` from CLIENTS concurrent connections (bench/loadgen.py, dynamic hand-out); keep
    the bodies of the first `keep` successful (status `ok`) calls by index. Stops handing out work
    at `deadline` (monotonic). With `runtime`, counts the agency refreshes and disclosures audited
    meanwhile."""
    outcome = Outcome(ok=ok)
    wire = [loadgen.build(server.base_url, c.method, c.path, c.headers, c.form) for c in calls]
    audited = _audit_counts(runtime) if runtime is not None else {}
    server_cpu, client_cpu, busy = server.cpu_seconds(), time.process_time(), _cpu_ticks()
    database_cpu = server.database_cpu()
    outcome.started_at = time.time()
    began = time.perf_counter()
    answers = loadgen.run(server.base_url, wire, clients=CLIENTS, deadline=deadline)
    outcome.elapsed_s = time.perf_counter() - began
    outcome.server_cpu_s = server.cpu_seconds() - server_cpu
    if database_cpu or server.database_cpu():
        # Backends that connected during the phase count from zero.
        after = server.database_cpu()
        outcome.database_cpu_s = sum(cpu - database_cpu.get(pid, 0.0) for pid, cpu in after.items())
    outcome.client_cpu_s = time.process_time() - client_cpu
    outcome.machine_busy = _busy_fraction(busy, _cpu_ticks())
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        outcome.statuses[answer.status] = outcome.statuses.get(answer.status, 0) + 1
        if answer.status == ok:
            outcome.seconds.append(answer.seconds)
            if i < keep:
                outcome.responses[i] = answer.body
        elif len(outcome.bodies) < 5:
            outcome.bodies.append((answer.status, answer.body))
    outcome.issued = sum(outcome.statuses.values())
    if runtime is not None:
        after_audit = _audit_counts(runtime)
        outcome.audited = {kind: after_audit.get(kind, 0) - audited.get(kind, 0) for kind in AUDITED}
    return outcome


AUDITED = ("profile_refreshed", "disclosure")


def _audit_counts(runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        counted = session.execute(
            select(AuditEntry.kind, func.count())
            .where(AuditEntry.kind.in_(AUDITED))
            .group_by(AuditEntry.kind)
        ).all()
    return {kind: n for kind, n in counted}


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat; (0, 0) where unavailable."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def phase_stats(outcome: Outcome) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in outcome.seconds)
    ok = len(ms)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if ok > 1 else ms * 99
    return {
        "calls": ok,
        "issued": outcome.issued,
        "statuses": {str(k): v for k, v in outcome.statuses.items()},
        "elapsed_s": outcome.elapsed_s,
        "calls_per_s": ok / outcome.elapsed_s if outcome.elapsed_s else 0.0,
        "p50_ms": statistics.median(ms) if ms else float("nan"),
        "p95_ms": cuts[94] if ms else float("nan"),
        "p99_ms": cuts[98] if ms else float("nan"),
        "max_ms": ms[-1] if ms else float("nan"),
        "server_cpu_ms_per_call": 1000 * outcome.server_cpu_s / max(outcome.issued, 1),
        "database_cpu_ms_per_call": (
            None if outcome.database_cpu_s is None else 1000 * outcome.database_cpu_s / max(outcome.issued, 1)
        ),
        "client_cpu_ms_per_call": 1000 * outcome.client_cpu_s / max(outcome.issued, 1),
        "machine_busy": outcome.machine_busy,
    }


def phase_report(
    api: Api, timed: dict[str, tuple[Outcome, int]], *, warm: dict[str, Outcome]
) -> dict[str, Any]:
    """Per timed phase its figures (and how many calls were planned); every answer other than the
    phase's success, warm-ups included, counted under `errors` and its first bodies logged; agency
    refreshes and (at the resource call) disclosures audited while timing."""
    report: dict[str, Any] = {}
    errors: dict[str, dict[str, int]] = {}
    phases = [(name, outcome) for name, (outcome, _) in timed.items()]
    phases += [(f"{name} warm-up", outcome) for name, outcome in warm.items()]
    for name, outcome in phases:
        failed = {str(k): v for k, v in outcome.statuses.items() if k != outcome.ok}
        if failed:
            errors[name] = failed
        for status, body in outcome.bodies:
            log(f"oauth: {api.profile} {name} answered {status}: {body[:300]!r}")
    for name, (outcome, planned) in timed.items():
        report[name] = {**phase_stats(outcome), "planned": planned}
        if outcome.issued < planned:
            log(f"oauth: {api.profile} {name} phase cut off at {outcome.issued} calls (DPoP iat window)")
    resource = timed[api.resource][0]
    # Every success of the resource call must have its disclosure on record (committed first).
    disclosures = resource.audited.get("disclosure", 0)
    if disclosures != resource.statuses.get(resource.ok, 0):
        released = resource.statuses.get(resource.ok, 0)
        log(f"oauth: {api.profile}: {disclosures} disclosures audited for {released} releases")
    report["errors"] = errors
    report["refreshes_during_timing"] = sum(o.audited.get("profile_refreshed", 0) for o, _ in timed.values())
    report["disclosures_audited"] = disclosures
    return report
