"""OAuth API benchmark: MyInfo v4 token and person calls over HTTP against gunicorn.

Per backend (SQLite, or `--database-url`; PostgreSQL with `--pg-url`, in a database of its own
named `<that name>_oauth_<pid>_<random>`) and worker class (sync and gthread; sync only with
`--quick`): a fresh migrated database, one registered agency app (inline JWKS from keys generated
here), N citizens with a full profile (refreshed from the simulated agencies in this process, plus
the usual declarations), then gunicorn with 2 workers on a free loopback port (`consentry serve`,
configured through the environment as in production). See bench/README.md.

Timed, with 16 concurrent clients (bench/loadgen.py: one asyncio loop, every request built
before the clock starts) and a bounded number of requests:

- **token**: `POST /com/v4/token` with a fresh code (minted in the database beforehand: consent,
  pending request and code in one transaction, what the consent screen does), PKCE verifier,
  private_key_jwt client assertion and DPoP proof, all generated before the clock starts;
- **person**: `GET /com/v4/person/{sub}` (17 attributes, the MyInfo demo app's scope) with the
  tokens the token phase issued and a fresh DPoP proof per call, pre-generated just before the
  phase (the phase is cut off before their `iat` could leave the 120 s window). Each call is the
  whole production path: access-token ES256 verify, DPoP verify (replay cache write), token row,
  profile decrypt, JWS sign, JWE encrypt, audit append, commit.

Agencies are never called while timing: the profiles were fetched during setup, the server runs
with `PERSON_REFRESH_MAX_AGE_S` = 30 days and agency URLs pointing at a closed loopback port, and
the bench checks that no `profile_refreshed` audit entry appeared during the timed phases.

The crypto ceiling: in this process, one thread, the same functions the person endpoint calls
(`verify_access_token`, `verify_dpop_proof` incl. thumbprint, `seal` = JWS ES256 + JWE
ECDH-ES+A256KW/A256GCM of a real person response), their database look-ups stubbed; calls/s on
one core times the 2 workers is the most the endpoint could serve if it did nothing but crypto.
Target: person calls/s >= 50% of that ceiling and p99 <= 50 ms at 16 concurrent clients.

Then, on the same server and in the same run, bench/fapi_api.py times the Myinfo v5 (FAPI 2.0)
calls of the same app (registered for both profiles): PAR, token and userinfo, the userinfo row
beside the person row with a ceiling of its own. Both halves share this module's client side:
the server, the phase runner and its CPU accounting, DPoP proofs, client assertions, codes minted
as the consent screen issues them, and the crypto ceiling.

Last, once per run, the stack floor (bench/stack_floor.py): the same gunicorn, Flask and clients
with no database, a bare route and the person call's crypto alone, to show how much of the
ceiling any database-backed endpoint could reach on this stack and machine.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from agency_connectors.refresh import refresh_citizen
from audit.models import AuditEntry
from consent.apps import register_app
from consent.consents import grant_consent
from consent.grant_models import AuthorizationRequest
from consent.grants import issue_code, open_request, pkce_challenge
from consent.models import AgencyApp, Purpose
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.models import Citizen

from . import loadgen
from .common import (
    BENCH_MASTER_KEYS,
    SKIPPED,
    Options,
    Row,
    build_runtime,
    close_runtime,
    declare_usual,
    fresh_database,
    full_record_indices,
    log,
    seed_citizens,
    simulators,
)

if TYPE_CHECKING:
    from .oauth_ceiling import CryptoPath

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
CLIENTS = 16
THREADS = int(os.environ.get("BENCH_OAUTH_THREADS", "4"))  # per gthread worker
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
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
    *("consent", "audit/log.py", "audit/merkle.py"),
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


# --- entry point -----------------------------------------------------------------------------------


def run(options: Options) -> list[Row]:
    # Both build on this module (its constants and client side), so they are imported here.
    from .oauth_ceiling import _crypto_ceiling
    from .oauth_report import _row, _title

    rows: list[Row] = []
    classes = worker_classes(options)
    person_path: CryptoPath | None = None
    for backend, url in _backends(options):
        if url is None:
            title = _title(" or ".join(classes))
            rows.append(Row(title, backend, "-", "skipped: needs --pg-url", "-", SKIPPED, {"oauth": None}))
            continue
        for worker_class in classes:
            log(f"oauth: {backend}, {worker_class} workers: setting up")
            result = _run_backend(options, backend, _unique(url), worker_class)
            parts = {api: result.pop(api.profile) for api in (V4, V5)}
            for api, part in parts.items():
                path = part.pop("crypto_path")
                person_path = person_path or (path if api is V4 else None)
                ceiling = _crypto_ceiling(options, path)
                rows.append(_row(backend, worker_class, api, {**result, **part}, ceiling))
    if person_path is not None:
        rows.append(_stack_floor(options, person_path))
    return rows


def _stack_floor(options: Options, path: CryptoPath) -> Row:
    """bench/stack_floor.py under the person phase's load: Flask and gunicorn alone, then the
    person call's crypto alone, each over HTTP from CLIENTS clients; against the crypto ceiling."""
    from .oauth_ceiling import _access_token, _crypto_ceiling
    from .stack_floor import CONFIG_ENV, write_config

    ceiling = _crypto_ceiling(options, path)
    calls = sizes(options).persons
    platform = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    encryption = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
    config, port = options.workdir / "stack-floor.json", _free_port()
    issuer = f"http://127.0.0.1:{port}/com/v4"
    write_config(config, platform=platform, encryption=encryption, issuer=issuer, payload=path.payload)
    log(f"oauth: stack floor ({calls} calls per route)")
    floor_app, env = "bench.stack_floor:app", {CONFIG_ENV: str(config), "PYTHONPATH": str(ROOT)}
    with _gunicorn("sqlite://", options.workdir, "sync", app=floor_app, env_extra=env, port=port) as server:
        keys = [ECKey.generate_key("P-256", auto_kid=True) for _ in range(CLIENTS)]
        audience = f"{issuer}/person"
        tokens = [
            Token(_access_token(platform, key, issuer=issuer, audience=audience, sub=path.sub), path.sub, key)
            for key in keys
        ]

        def reads(count: int) -> list[Call]:
            return _resource_calls(tokens, count, lambda token: f"{audience}/{token.sub}")

        _phase(server, [Call("GET", "/healthz", {}), *reads(4 * CLIENTS)])  # warm-up: imports, key caches
        hello = _phase(server, [Call("GET", "/healthz", {}) for _ in range(calls)])
        made = time.monotonic()
        crypto = _phase(server, reads(calls), deadline=made + PHASE_DEADLINE_S, keep=1)
    first = first_response(crypto)
    assert first.count(b".") == 4, "the floor's person route did not answer a JWE"
    figures = {"flask": _stats(hello), "crypto_only": _stats(crypto)}
    bare, only = figures["flask"], figures["crypto_only"]
    ratio = only["calls_per_s"] / ceiling["ceiling_calls_per_s"]
    text = (
        f"no database: bare Flask route {bare['calls_per_s']:,.0f} calls/s (server CPU "
        f"{bare['server_cpu_ms_per_call']:.2f} ms/call); the person call's crypto alone "
        f"{only['calls_per_s']:,.0f} calls/s (p99 {only['p99_ms']:.1f} ms, server CPU "
        f"{only['server_cpu_ms_per_call']:.2f} ms/call) = {ratio:.0%} of the crypto ceiling "
        f"({ceiling['ceiling_calls_per_s']:,.0f}/s)"
    )
    return Row(
        benchmark=(
            f"Stack floor: gunicorn ({WORKERS} sync workers) + Flask + crypto, no database, {CLIENTS} clients"
        ),
        backend="-",
        n=only["calls"],
        result=text,
        target="reported (the most a person endpoint on this stack could reach)",
        verdict="-",
        data={"stack_floor": {**figures, "ratio": ratio}, "crypto": ceiling},
    )


def _backends(options: Options) -> list[tuple[str, str | None]]:
    """SQLite (or --database-url), then PostgreSQL (None without --pg-url)."""
    found: list[tuple[str, str | None]] = list(options.backends())
    if not any(backend == "postgresql" for backend, _ in found):
        found.append(("postgresql", None))
    return found


def _unique(url: str) -> str:
    """PostgreSQL: a database of this run's own, `<given name>_oauth_<pid>_<random>` (the given
    name contains "bench", so fresh_database may drop and re-create it); SQLite as given."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    unique = f"{parsed.database}_oauth_{os.getpid()}_{secrets.token_hex(3)}"
    return parsed.set(database=unique).render_as_string(hide_password=False)


# --- one backend -----------------------------------------------------------------------------------


@dataclass
class Citizenry:
    """What the client side knows: the app's keys and the citizens' ids."""

    client_id: str
    signing: ECKey
    encryption: ECKey
    citizen_ids: list[str]


def _run_backend(options: Options, backend: str, url: str, worker_class: str) -> dict[str, Any]:
    size = sizes(options)
    with fresh_database(options, url, f"oauth-{worker_class}") as db_url:
        runtime = build_runtime(db_url)
        try:
            people = _seed(db_url, size.citizens)
            with _gunicorn(db_url, options.workdir, worker_class) as server:
                if backend == "postgresql":
                    server.database_pids = lambda: _backend_pids(runtime)
                result = _drive(runtime, server, people, size)
                result["worker_class"] = worker_class
        finally:
            close_runtime(runtime)
    for api in (V4, V5):
        part = result[api.profile]
        calls = ", ".join(
            f"{LABELS[name]} {part[name]['calls_per_s']:,.0f}" for name in (api.resource, *api.grants)
        )
        log(f"oauth: {backend}: {api.title}: {calls} calls/s")
    return result


def _seed(db_url: str, count: int) -> Citizenry:
    """One app (inline JWKS) and `count` citizens with a full profile fetched from the agencies."""
    signing = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    encryption = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
    # Unique per run: rate limits count per client id, and REDIS_URL may outlive the database.
    client_id = f"bench-oauth-{secrets.token_hex(4)}"
    document = {
        "client_id": client_id,
        "name": "Benchmark pre-fill app",
        "agency": "Benchmark Agency",
        "redirect_uris": [REDIRECT_URI],
        "allowed_attributes": SCOPE,
        "purposes": [
            {
                "id": PURPOSE_ID,
                "description": "To pre-fill a benchmark application form.",
                "required": SCOPE,
                "optional": [],
            }
        ],
        "jwks": {"keys": [signing.as_dict(private=False), encryption.as_dict(private=False)]},
        "profiles": [V4.profile, V5.profile],
    }
    uinfins = [demo_uinfin(n) for n in full_record_indices(count)]
    with simulators() as sims:
        fetching = build_runtime(db_url, sims.base_url)
        try:
            ids = seed_citizens(fetching, uinfins)
            with fetching.sessions() as session, session.begin():
                register_app(session, document=document, catalogue=fetching.catalogue, now=utcnow())
                for citizen_id in ids:
                    citizen = session.get(Citizen, citizen_id)
                    result = refresh_citizen(
                        session,
                        registry=fetching.connectors,
                        vault=fetching.vault,
                        catalogue=fetching.catalogue,
                        citizen=citizen,
                        now=utcnow(),
                    )
                    assert not result.failed, result.failed
                    declare_usual(session, fetching, citizen, utcnow())
        finally:
            close_runtime(fetching)
    return Citizenry(client_id=client_id, signing=signing, encryption=encryption, citizen_ids=ids)


@dataclass(frozen=True)
class Code:
    code: str
    verifier: str


# (session, app, purpose, index, now) -> the pending request and its PKCE verifier
RequestOpener = Callable[[Session, AgencyApp, Purpose, int, dt.datetime], tuple[AuthorizationRequest, str]]


def _mint_codes(runtime, people: Citizenry, count: int, open_one: RequestOpener) -> list[Code]:
    """Authorization codes as the consent screen issues them: the pending request (`open_one`
    gives the index-th, with its PKCE verifier), the citizen's consent to every attribute it asks
    for, and the code (`issue_code` closes the request); one transaction per 200 codes. Citizens
    take turns."""
    codes: list[Code] = []
    cycle = itertools.cycle(people.citizen_ids)
    while len(codes) < count:
        with runtime.sessions() as session, session.begin():
            app = session.get(AgencyApp, people.client_id)
            purpose = session.get(Purpose, (people.client_id, PURPOSE_ID))
            for _ in range(min(200, count - len(codes))):
                now = utcnow()
                pending, verifier = open_one(session, app, purpose, len(codes), now)
                citizen_id = next(cycle)
                consent = grant_consent(
                    session,
                    citizen_id=citizen_id,
                    app=app,
                    purpose=purpose,
                    requested=pending.scope,
                    approved=pending.scope,
                    remember_for=None,
                    now=now,
                )
                code = issue_code(
                    session, request=pending, citizen_id=citizen_id, consent=consent, now=now, ttl=CODE_TTL
                )
                codes.append(Code(code, verifier))
    return codes


def _v4_request(
    session: Session, app: AgencyApp, purpose: Purpose, _index: int, now: dt.datetime
) -> tuple[AuthorizationRequest, str]:
    """What GET /com/v4/authorize records for the consent screen (its checks are not measured)."""
    verifier = secrets.token_urlsafe(48)
    pending = open_request(
        session,
        profile=V4.profile,
        app=app,
        purpose=purpose,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        state=secrets.token_urlsafe(8),
        code_challenge=pkce_challenge(verifier),
        now=now,
    )
    return pending, verifier


# --- gunicorn --------------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    # PostgreSQL: the backend processes serving this database (their CPU is not the workers').
    database_pids: Callable[[], list[int]] = list

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the workers so far (Linux /proc; 0 elsewhere)."""
        return sum(_cpu_by_pid(self.worker_pids()).values())

    def database_cpu(self) -> dict[int, float]:
        return _cpu_by_pid(self.database_pids())

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _backend_pids(runtime) -> list[int]:
    """Local PostgreSQL backends connected to the bench database (not this query's own); none
    when the server is elsewhere (a pid in another namespace names no postgres process here)."""
    query = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    with runtime.engine.connect() as conn:
        pids = list(conn.execute(query).scalars())
    local = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
                local.append(pid)
    return local


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (Linux /proc; missing ones left out)."""
    found: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _gunicorn(
    db_url: str,
    workdir: Path,
    worker_class: str,
    *,
    app: str | None = None,
    env_extra: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    port = port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CATALOGUE_PATH")},
        "CONSENTRY_ENV": "development",
        "DATABASE_URL": db_url,
        "PUBLIC_BASE_URL": base_url,
        "MASTER_KEYS": BENCH_MASTER_KEYS,
        "AGENCY_BASE_URL": NO_AGENCIES,
        "AGENCY_TIMEOUT_S": "0.5",
        "AGENCY_RETRIES": "0",
        "PERSON_REFRESH_MAX_AGE_S": str(30 * 86400),
    }
    env.pop("ACTIVE_MASTER_KID", None)
    if os.environ.get("BENCH_OAUTH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_OAUTH_REDIS_URL"]
    env |= env_extra or {}
    # The production server command (app/serve_cli.py), access log and metrics included; `app`
    # names another WSGI app factory (the stack floor's).
    threads = THREADS if worker_class == "gthread" else 1
    command = [str(Path(sys.executable).with_name("consentry")), "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(WORKERS), "--threads", str(threads), "--log-level", "warning"]
    command += ["--graceful-timeout", "5", "--timeout", "60", *(["--factory", app] if app else [])]
    log_path = workdir / f"gunicorn-{port}.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(process, base_url, log_path)
    try:
        _wait_healthy(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_healthy(server: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({server.process.returncode}):\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{server.base_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout_s:.0f} s:\n{server.log_tail()}")


# --- the client side -------------------------------------------------------------------------------


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


def _drive(runtime, server: Server, people: Citizenry, size: Sizes) -> dict[str, Any]:
    """MyInfo v4's phases, then Myinfo v5's (bench/fapi_api.py), on one server."""
    from app.config import Config

    from .fapi_api import drive_v5  # builds on this module's client side

    windows = RateWindows(Config.token_rate_limit)
    v4 = _drive_v4(runtime, server, people, size, windows)
    v5 = drive_v5(runtime, server, people, size, windows)
    return {
        V4.profile: v4,
        V5.profile: v5,
        "citizens": len(people.citizen_ids),
        "scope": list(SCOPE),
        "threads": THREADS,
        "rate_limit_waits_s": windows.waited_s,
        "server_log_tail": server.log_tail(10),
    }


def _drive_v4(
    runtime, server: Server, people: Citizenry, size: Sizes, windows: RateWindows
) -> dict[str, Any]:
    from .oauth_ceiling import _v4_crypto_path

    dpop_keys = [ECKey.generate_key("P-256", auto_kid=True) for _ in range(CLIENTS * 2)]
    token_url = f"{server.base_url}/com/v4/token"

    def token_calls(codes: list[Code]) -> list[Call]:
        def assertion(key: ECKey) -> str:
            return client_assertion(people, audience=token_url, cnf_key=key)

        return _token_calls(token_url, people, codes, dpop_keys, assertion)

    def person_calls(tokens: list[Token], count: int) -> list[Call]:
        query = "?scope=" + quote(" ".join(SCOPE), safe="")
        return _resource_calls(
            tokens,
            count,
            lambda token: f"{server.base_url}/com/v4/person/{token.sub}",
            query=query,
            headers={"Cache-Control": "no-cache"},
        )

    log("oauth: v4: minting codes")
    codes = _mint_codes(runtime, people, size.warmup + size.tokens, _v4_request)
    warm_codes, timed_codes = codes[: size.warmup], codes[size.warmup :]
    windows.wait_for_room(TOKEN_LIMIT, len(codes))

    # Warm-up: both workers import, open pools, load keys; then check one response end to end.
    warm = _phase(server, token_calls(warm_codes), keep=size.warmup)
    windows.record(TOKEN_LIMIT, warm)
    warm_tokens = _tokens(warm, dpop_keys, len(warm_codes))
    warm_person = _phase(server, person_calls(warm_tokens, size.warmup), keep=1)
    payload = _open_sealed(first_response(warm_person), people, _platform_jwks(server))
    missing = [name for name in SCOPE if name not in payload]
    assert not missing, f"person response lacks {missing}"

    log(f"oauth: v4 token phase ({len(timed_codes)} calls)")
    made = time.monotonic()
    calls = token_calls(timed_codes)
    token = _phase(server, calls, keep=len(calls), deadline=made + PHASE_DEADLINE_S, runtime=runtime)
    windows.record(TOKEN_LIMIT, token)
    tokens = _tokens(token, dpop_keys, len(timed_codes))
    log(f"oauth: v4 person phase ({size.persons} calls)")
    made = time.monotonic()
    reads = person_calls(tokens, size.persons)
    person = _phase(server, reads, deadline=made + PHASE_DEADLINE_S, runtime=runtime)
    return {
        **_report(
            V4,
            {"token": (token, len(calls)), "person": (person, len(reads))},
            warm={"token": warm, "person": warm_person},
        ),
        "response_bytes": len(first_response(warm_person)),
        "crypto_path": _v4_crypto_path(payload),
    }


def _report(api: Api, timed: dict[str, tuple[Outcome, int]], *, warm: dict[str, Outcome]) -> dict[str, Any]:
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
        report[name] = {**_stats(outcome), "planned": planned}
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


AUDITED = ("profile_refreshed", "disclosure")


def _audit_counts(runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        counted = session.execute(
            select(AuditEntry.kind, func.count())
            .where(AuditEntry.kind.in_(AUDITED))
            .group_by(AuditEntry.kind)
        ).all()
    return {kind: n for kind, n in counted}


def _token_calls(
    token_url: str,
    people: Citizenry,
    codes: list[Code],
    dpop_keys: Sequence[ECKey],
    assertion: Callable[[ECKey], str],
) -> list[Call]:
    """One token request per code, by the i-th DPoP key (cycling), `assertion(key)` its client
    assertion; everything signed now."""
    calls = []
    for i, code in enumerate(codes):
        key = dpop_keys[i % len(dpop_keys)]
        form = {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": people.client_id,
            "code_verifier": code.verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key),
        }
        headers = {"DPoP": dpop_proof(key, method="POST", url=token_url), "Accept": "application/json"}
        calls.append(Call("POST", token_url, headers, form))
    return calls


@dataclass(frozen=True)
class Token:
    access_token: str
    sub: str
    key: ECKey


def _tokens(outcome: Outcome, dpop_keys: Sequence[ECKey], count: int) -> list[Token]:
    """The access tokens of the successful token calls, each with the DPoP key its call used."""
    tokens = []
    for i in range(count):
        body = outcome.responses.get(i)
        if body is None:
            continue
        access_token = json.loads(body)["access_token"]
        tokens.append(Token(access_token, jwt_claims(access_token)["sub"], dpop_keys[i % len(dpop_keys)]))
    if not tokens:
        raise RuntimeError(f"no token call succeeded: {outcome.statuses} {outcome.bodies[:1]}")
    return tokens


def first_response(outcome: Outcome) -> bytes:
    """The body of the first call kept, or why there is none."""
    if not outcome.responses:
        raise RuntimeError(f"no call succeeded: {outcome.statuses} {outcome.bodies[:1]}")
    return outcome.responses[min(outcome.responses)]


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, unverified (the client reading its own token's `sub`)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _resource_calls(
    tokens: list[Token],
    count: int,
    url_of: Callable[[Token], str],
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> list[Call]:
    """`count` GETs round-robin over `tokens`, each with a fresh DPoP proof (`ath`, unique `jti`)
    for `url_of(token)`, signed now."""
    calls = []
    for i in range(count):
        token = tokens[i % len(tokens)]
        url = url_of(token)
        proof = dpop_proof(token.key, method="GET", url=url, access_token=token.access_token)
        sent = {"Authorization": f"DPoP {token.access_token}", "DPoP": proof, **(headers or {})}
        calls.append(Call("GET", url + query, sent))
    return calls


def _platform_jwks(server: Server, path: str = "/.well-known/keys.json") -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{server.base_url}{path}", timeout=10).json())


def _open_sealed(
    body: bytes | str, people: Citizenry, platform: KeySet, enc: str = "A256GCM"
) -> dict[str, Any]:
    """Decrypt (the app's key) and verify (ES256, the platform's published JWKS) a JWS-in-JWE
    response; its payload."""
    decrypted = jwe.decrypt_compact(body, people.encryption, algorithms=["ECDH-ES+A256KW", enc])
    signed = jws.deserialize_compact(decrypted.plaintext, platform, algorithms=["ES256"])
    return json.loads(signed.payload)


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


def _phase(
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


def _stats(outcome: Outcome) -> dict[str, Any]:
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


def dpop_proof(key: ECKey, *, method: str, url: str, access_token: str | None = None) -> str:
    """An RFC 9449 proof as the MyInfo connector builds it (as examples/myinfo_v4_client.py)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "htu": url,
        "htm": method,
        "jti": secrets.token_urlsafe(30),
        "iat": now,
        "exp": now + DPOP_WINDOW_S,
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def client_assertion(
    people: Citizenry, *, audience: str, lifetime_s: int = 300, cnf_key: ECKey | None = None
) -> str:
    """A private_key_jwt assertion (RFC 7523) by the app's signing key, with a fresh `jti`; v4's
    carries `cnf.jkt` of the DPoP key, as the MyInfo connectors send it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": people.client_id,
        "sub": people.client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(30),
        "iat": now,
        "exp": now + lifetime_s,
    }
    if cnf_key is not None:
        claims["cnf"] = {"jkt": cnf_key.thumbprint()}
    signing = people.signing
    return jwt.encode({"alg": "ES256", "typ": "JWT", "kid": signing.kid}, claims, signing)
