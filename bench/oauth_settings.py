"""What the OAuth API benchmark's modules share (bench/oauth_api.py runs it): the server's and
clients' sizes, the app's scope and return address, the two wire profiles, the targets."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from .common import Options

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
CLIENTS = 16
THREADS = int(os.environ.get("BENCH_OAUTH_THREADS", "4"))  # per gthread worker


@dataclass(frozen=True)
class Target:
    """Issue 18's targets, per database, at CLIENTS clients against WORKERS workers: the worker
    CPU of a resource call (person, userinfo) and, on PostgreSQL, PostgreSQL's own CPU for it;
    the worker CPU of a token call; the resource call's p99."""

    resource_cpu_ms: float
    database_cpu_ms: float | None
    token_cpu_ms: float
    p99_ms: float

    def describe(self) -> str:
        database = f" + ≤ {self.database_cpu_ms:.1f} ms in PostgreSQL" if self.database_cpu_ms else ""
        return (
            f"CPU ≤ {self.resource_cpu_ms:.1f} ms{database} per call, token ≤ {self.token_cpu_ms:.0f} ms, "
            f"p99 ≤ {self.p99_ms:.0f} ms"
        )


TARGETS = {
    "sqlite": Target(resource_cpu_ms=2.6, database_cpu_ms=None, token_cpu_ms=4.0, p99_ms=50.0),
    "postgresql": Target(resource_cpu_ms=3.5, database_cpu_ms=1.0, token_cpu_ms=4.0, p99_ms=80.0),
}
CLIENT_ID = "bench-oauth-app"  # the crypto ceiling's; each HTTP run registers an app of its own
PURPOSE_ID = "bench-prefill"
REDIRECT_URI = "https://bench.example.gov/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The MyInfo demo app's 17 attributes (spec §11 wire sample: 17 attributes, JWE ~7.9 kB).
SCOPE = [
    *("uinfin", "name", "sex", "race", "nationality", "dob", "email", "mobileno", "regadd"),
    *("housingtype", "hdbtype", "marital", "edulevel", "noa-basic", "ownerprivate"),
    *("cpfcontributions", "cpfbalances"),
]
DPOP_WINDOW_S = 120  # the server accepts a proof this long after its iat
PHASE_DEADLINE_S = 100.0  # stop handing out calls this long after their proofs were made
NO_AGENCIES = "http://127.0.0.1:9"  # nothing listens: an attempted refresh would fail fast
# Codes live 20 minutes here (the consent screen: 5 for v4, 60 s for v5) so that a slow run never
# redeems an expired one; the token endpoint's work does not depend on the lifetime.
CODE_TTL = dt.timedelta(minutes=20)
# The server's per-client rate-limit counters (app.oauth.token_service.authenticate_client).
TOKEN_LIMIT, PAR_LIMIT = "oauth_token", "oauth_par"
CEILING_ROUNDS = 5
CEILING_BASE = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL of the crypto ceiling (no server)
# The code on the request paths beyond the runner's own fingerprint (common.MEASURED_CODE).
HOT_PATH = (
    *("app/myinfo_v4", "app/fapi", "app/oauth", "app/auditing.py"),
    *("consent", "audit/log.py", "audit/entry_write.py", "audit/integrator.py", "audit/merkle.py"),
)


@dataclass(frozen=True)
class Api:
    """One wire profile's share of a run: its resource call (the one held to the crypto ceiling)
    and the calls that obtain its tokens, each a timed phase keyed by name in the results."""

    profile: str
    title: str
    resource: str
    grants: tuple[str, ...]


V4 = Api("myinfo-v4", "MyInfo v4", "person", ("token",))


V5 = Api("myinfo-v5", "Myinfo v5 (FAPI 2.0)", "userinfo", ("par", "token"))


LABELS = {"person": "person", "userinfo": "userinfo", "par": "PAR", "token": "token"}


@dataclass(frozen=True)
class Sizes:
    """Calls per phase. v5 uses the same counts: `tokens` PAR and token calls (one login each),
    `persons` userinfo calls, each phase after its own `warmup`."""

    citizens: int
    warmup: int
    tokens: int
    persons: int
    crypto_iterations: int


def sizes(options: Options) -> Sizes:
    if options.quick:
        return Sizes(citizens=16, warmup=2 * CLIENTS, tokens=240, persons=600, crypto_iterations=300)
    # Warm-up + timed token calls (and PAR calls) stay under the per-client limit of one window
    # (token_rate_limit, 1,200 a minute); RateWindows keeps v4's and v5's in separate windows.
    return Sizes(citizens=64, warmup=4 * CLIENTS, tokens=1000, persons=3000, crypto_iterations=2000)


def worker_classes(options: Options) -> list[str]:
    """sync: one request at a time per worker process. gthread: THREADS threads per worker, kept-
    alive connections, a request's database waits overlapping another's CPU (and, on SQLite,
    writers queueing on the database lock inside the process)."""
    chosen = os.environ.get("BENCH_OAUTH_WORKER_CLASS", "")
    if chosen.strip():
        return [name.strip() for name in chosen.split(",") if name.strip()]
    return ["sync"] if options.quick else ["sync", "gthread"]
