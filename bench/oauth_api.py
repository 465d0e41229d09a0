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
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet
from rich.table import Table
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
    MEETS,
    MISSES,
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
from .stack_floor import StubKeys

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
_crypto_cache: dict[str, dict[str, Any]] = {}


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


def _title(worker_class: str, api: Api | None = None) -> str:
    workers = f"{worker_class} x{THREADS}" if worker_class == "gthread" else worker_class
    calls = (
        f"{api.title} {' + '.join(LABELS[name] for name in (api.resource, *api.grants))}"
        if api is not None
        else "MyInfo v4 and Myinfo v5"
    )
    return (
        f"{calls} calls over HTTP ({WORKERS} gunicorn {workers} workers, "
        f"{CLIENTS} clients, {len(SCOPE)} attributes; agencies not called)"
    )


def _row(backend: str, worker_class: str, api: Api, result: dict[str, Any], ceiling: dict[str, Any]) -> Row:
    resource = result[api.resource]
    ratio = resource["calls_per_s"] / ceiling["ceiling_calls_per_s"]
    # What the ratio would be with both cores for the server alone (workers and PostgreSQL; no
    # clients, no other load): crypto CPU over the server's CPU per call.
    server_ms = resource["server_cpu_ms_per_call"] + (resource["database_cpu_ms_per_call"] or 0.0)
    cpu_ratio = ceiling["per_call_ms"] / server_ms if resource["calls"] and server_ms else 0.0
    met = ratio >= TARGET_RATIO and resource["p99_ms"] <= TARGET_P99_MS and not result["errors"]
    oauth: dict[str, Any] = {
        "api": api.profile,
        "resource": api.resource,
        "grants": list(api.grants),
        "database": backend,
        "workers": WORKERS,
        "worker_class": worker_class,
        "threads": THREADS if worker_class == "gthread" else 1,
        "clients": CLIENTS,
    }
    for name in (api.resource, *api.grants):
        for figure in ("calls_per_s", "p50_ms", "p99_ms"):
            oauth[f"{name}_{figure}"] = result[name][figure]
    oauth |= {
        "crypto_ceiling_calls_per_s": ceiling["ceiling_calls_per_s"],
        "ratio": ratio,
        "cpu_bound_ratio": cpu_ratio,
        "target_met": met,
    }
    text = "; ".join(
        f"{LABELS[name]} {result[name]['calls_per_s']:,.0f} calls/s (p50 {result[name]['p50_ms']:.1f} ms, "
        f"p99 {result[name]['p99_ms']:.1f} ms)"
        for name in (api.resource, *api.grants)
    )
    text += (
        f"; crypto ceiling {ceiling['ceiling_calls_per_s']:,.0f} calls/s -> {ratio:.0%}; server CPU "
        f"{resource['server_cpu_ms_per_call']:.1f} ms/{api.resource} call "
        f"(crypto {ceiling['per_call_ms']:.2f} ms)"
    )
    if result["errors"]:
        text += f"; ERRORS {result['errors']}"
    return Row(
        benchmark=_title(worker_class, api),
        backend=backend,
        n=resource["calls"],
        result=text,
        target=f"≥ {TARGET_RATIO:.0%} of crypto ceiling, p99 ≤ {TARGET_P99_MS:.0f} ms",
        verdict=MEETS if met else MISSES,
        data={**result, "crypto": ceiling, "oauth": oauth, "hot_path_code": _hot_path_digest()},
    )


def _hot_path_digest() -> dict[str, str]:
    """sha256 (12 hex digits) of each file on the request path, as on disk now."""
    files: dict[str, str] = {}
    for entry in HOT_PATH:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py") if path.is_dir() else [path]):
            if file.exists():
                files[str(file.relative_to(ROOT))] = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
    return files


def summary_table(rows: Sequence[Row]) -> Table | None:
    """The oauth benchmark's own table (None when it did not run): per run, the v4 person row and
    the v5 userinfo row of the same server, one under the other."""
    found = [row for row in rows if "oauth" in row.data]
    if not found:
        return None
    table = Table(title="MyInfo v4 and Myinfo v5 APIs under load (bench/oauth_api.py, bench/fapi_api.py)")
    for column in (
        "database",
        "workers",
        "clients",
        "call",
        "calls/s",
        "p50",
        "p99",
        "token calls/s",
        "PAR calls/s",
        "crypto ceiling",
        "ratio",
        "of stack floor",
        "target met",
    ):
        table.add_column(column, justify="left" if column in ("database", "call") else "right")
    notes: list[str] = []
    ceilings: dict[str, dict[str, Any]] = {}
    floor = next((row.data["stack_floor"] for row in rows if "stack_floor" in row.data), None)
    for row in found:
        info = row.data["oauth"]
        if info is None:
            table.add_row(row.backend, "", "", "", "skipped: needs --pg-url", *[""] * 8)
            continue
        resource, crypto = info["resource"], row.data["crypto"]
        ceilings.setdefault(resource, crypto)
        table.add_row(
            info["database"],
            f"{info['workers']} {info['worker_class']}"
            + (f" x{info['threads']}" if info["worker_class"] == "gthread" else ""),
            str(info["clients"]),
            f"{'v5' if info['api'] == V5.profile else 'v4'} {resource}",
            f"{info[f'{resource}_calls_per_s']:,.0f}",
            f"{info[f'{resource}_p50_ms']:.1f} ms",
            f"{info[f'{resource}_p99_ms']:.1f} ms",
            *(_grant_cell(info, name) for name in ("token", "par")),
            f"{info['crypto_ceiling_calls_per_s']:,.0f}/s",
            f"{info['ratio']:.0%}",
            f"{info[f'{resource}_calls_per_s'] / floor['crypto_only']['calls_per_s']:.0%}" if floor else "-",
            "[green]yes[/]" if info["target_met"] else "[red]no[/]",
        )
        notes.append(_cpu_note(row))
    header = [
        f"crypto ceiling, {resource}: {crypto['per_core_calls_per_s']:,.0f} calls/s on one core "
        f"({crypto['per_call_ms']:.2f} ms: access token {crypto['parts_ms']['access_token']:.2f}, DPoP "
        f"{crypto['parts_ms']['dpop']:.2f}, JWS+JWE {crypto['parts_ms']['seal']:.2f}) times "
        f"{crypto['cores_used']} workers = {crypto['ceiling_calls_per_s']:,.0f}/s"
        for resource, crypto in ceilings.items()
    ]
    if ceilings:
        crypto = next(iter(ceilings.values()))
        header.append(f"target: ≥ {TARGET_RATIO:.0%} of the ceiling and p99 ≤ {TARGET_P99_MS:.0f} ms")
        notes.append(
            f"machine: {crypto['cores']} cores, {crypto['cpu_model'] or 'unknown CPU'}; the {CLIENTS} "
            "clients (one asyncio loop, bench/loadgen.py) run on the same cores. Agencies: profiles "
            "fetched from the simulators during setup; while timing the server has "
            "PERSON_REFRESH_MAX_AGE_S = 30 days and no agency reachable."
        )
    if floor:
        header.append(
            "stack floor (bench/stack_floor.py: the same gunicorn, Flask and clients, no database): a bare "
            f"route {floor['flask']['calls_per_s']:,.0f} calls/s; the person call's crypto alone "
            f"{floor['crypto_only']['calls_per_s']:,.0f} calls/s = {floor['ratio']:.0%} of the ceiling, the "
            "most any database-backed endpoint could reach here; 'of stack floor' is each call's share of it"
        )
    table.caption = "\n".join([*header, *notes])
    table.caption_justify = "left"
    return table


def _grant_cell(info: dict[str, Any], name: str) -> str:
    if name not in info["grants"]:
        return "-"
    return (
        f"{info[f'{name}_calls_per_s']:,.0f} (p50 {info[f'{name}_p50_ms']:.0f}, "
        f"p99 {info[f'{name}_p99_ms']:.0f} ms)"
    )


def _cpu_note(row: Row) -> str:
    """Where a row's server time went, per call: workers, PostgreSQL, the clients, the machine."""
    info, crypto = row.data["oauth"], row.data["crypto"]
    resource = row.data[info["resource"]]
    database = resource.get("database_cpu_ms_per_call")
    grants = ", ".join(
        f"{LABELS[name]} {row.data[name]['server_cpu_ms_per_call']:.1f} ms" for name in info["grants"]
    )
    return (
        f"{info['database']}, {info['worker_class']}, {info['resource']}: server CPU "
        f"{resource['server_cpu_ms_per_call']:.1f}"
        + (f" + PostgreSQL {database:.1f}" if database is not None else "")
        + f" ms per call (crypto alone {crypto['per_call_ms']:.2f} ms: ratio {info['cpu_bound_ratio']:.0%} "
        f"if the workers had the cores to themselves), {grants}; client CPU "
        f"{resource['client_cpu_ms_per_call']:.1f} ms/call; machine busy {resource['machine_busy']:.0%}; "
        f"{row.data['refreshes_during_timing']} agency refreshes while timing"
        + (f"; NOT SUCCESSFUL (phase: status: calls): {row.data['errors']}" if row.data["errors"] else "")
    )


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


# --- crypto-only ceiling ---------------------------------------------------------------------------


class _AnyJti:
    """A replay cache that accepts everything (the ceiling leaves the database out)."""

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        return True


@dataclass(frozen=True)
class CryptoPath:
    """The crypto of one resource call, as its endpoint does it: verify the access token (issued
    by `issuer` for `audience`), verify the DPoP proof for `htu` under `dpop_policy`, and
    `seal(rt, app, now)` the response to the app's key."""

    api: str
    issuer: str
    audience: str
    htu: str
    sub: str
    payload: dict[str, Any]  # the response's plaintext, as one real call returned it
    seal: Callable[[Any, Any, dt.datetime], str]
    dpop_policy: Any  # app.oauth.token_service.DPoPPolicy
    jws_typ: str = "JWT"
    token_scope: str | None = None


def _v4_crypto_path(payload: dict[str, Any]) -> CryptoPath:
    """GET /com/v4/person/{sub} (app.myinfo_v4.views.person): the person JSON sealed as it is."""
    from app.oauth.release import seal
    from app.oauth.token_service import ES256_ONLY

    issuer = f"{CEILING_BASE}/com/v4"
    sub = str(payload.get("uuid", "0" * 36))
    return CryptoPath(
        api=V4.profile,
        issuer=issuer,
        audience=f"{issuer}/person",
        htu=f"{issuer}/person/{sub}",
        sub=sub,
        payload=payload,
        seal=lambda rt, app, now: seal(rt, app, payload),
        dpop_policy=ES256_ONLY,
    )


def _access_token(
    platform: ECKey,
    dpop_key: ECKey,
    *,
    issuer: str,
    audience: str,
    sub: str,
    wire_scope: str | None = None,
    typ: str = "JWT",
) -> str:
    """An access token for the SCOPE, bound to `dpop_key`, as the token endpoint issues it, signed
    by `platform` with no database (the crypto ceiling's and the stack floor's)."""
    from app.oauth.access_tokens import issue_access_token

    grant = SimpleNamespace(
        citizen_id=sub, scope=list(SCOPE), client_id=CLIENT_ID, purpose_id=PURPOSE_ID, subentity=None
    )
    token, _claims = issue_access_token(
        StubKeys(platform),
        grant=grant,
        jkt=dpop_key.thumbprint(),
        issuer=issuer,
        audience=audience,
        now=utcnow(),
        ttl=dt.timedelta(minutes=30),
        scope=wire_scope,
        typ=typ,
    )
    return token


def _crypto_ceiling(options: Options, path: CryptoPath) -> dict[str, Any]:
    """Measured once per run and API (the machine does not change between backends), with no
    server up, in CPU time of this thread, the fastest of CEILING_ROUNDS rounds."""
    if path.api in _crypto_cache:
        return _crypto_cache[path.api]
    from app.oauth.access_tokens import verify_access_token
    from app.oauth.dpop import verify_dpop_proof
    from app.oauth.jwks import JwksCache

    from .common import machine_info

    iterations = sizes(options).crypto_iterations
    platform = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    encryption = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
    dpop_key = ECKey.generate_key("P-256", auto_kid=True)
    keys = StubKeys(platform)
    now = utcnow()
    token = _access_token(
        platform,
        dpop_key,
        issuer=path.issuer,
        audience=path.audience,
        sub=path.sub,
        wire_scope=path.token_scope,
        typ=path.jws_typ,
    )
    proof = dpop_proof(dpop_key, method="GET", url=path.htu, access_token=token)
    app = SimpleNamespace(
        client_id=CLIENT_ID, jwks={"keys": [encryption.as_dict(private=False)]}, jwks_uri=None
    )
    jwks = JwksCache()
    rt = SimpleNamespace(platform_keys=keys, client_jwks=jwks)
    replay = _AnyJti()
    parts = {"access_token": 0.0, "dpop": 0.0, "seal": 0.0}

    def one(timed: bool) -> None:
        t0 = time.thread_time()
        claims = verify_access_token(keys, token, issuer=path.issuer, audience=path.audience, now=now)
        t1 = time.thread_time()
        verify_dpop_proof(
            proof,
            htm="GET",
            htu=path.htu,
            now=now,
            replay=replay,
            access_token=token,
            expected_jkt=claims["cnf"]["jkt"],
            algorithms=path.dpop_policy.algorithms,
            leeway_s=path.dpop_policy.leeway_s,
        )
        t2 = time.thread_time()
        sealed = path.seal(rt, app, now)
        t3 = time.thread_time()
        assert sealed.count(".") == 4
        if timed:
            parts["access_token"] += t1 - t0
            parts["dpop"] += t2 - t1
            parts["seal"] += t3 - t2

    # Best of ROUNDS: the VM's neighbours inflate some rounds (steal counts as this thread's CPU
    # time); the fastest round is the crypto's own cost, which makes the ceiling the strictest.
    per_round = max(1, iterations // CEILING_ROUNDS)
    try:
        for _ in range(max(20, iterations // 10)):
            one(False)
        rounds = []
        for _ in range(CEILING_ROUNDS):
            before = dict(parts)
            started, cpu = time.perf_counter(), time.thread_time()
            for _ in range(per_round):
                one(True)
            spent = {name: parts[name] - before[name] for name in parts}
            rounds.append((time.thread_time() - cpu, time.perf_counter() - started, spent))
    finally:
        jwks.close()
    elapsed, wall, best_parts = min(rounds, key=lambda r: r[0])
    iterations = per_round
    machine = machine_info()
    cores = machine["cores"] or 1
    per_call = elapsed / iterations
    result = {
        "api": path.api,
        "iterations": iterations,
        "rounds": CEILING_ROUNDS,
        "per_call_ms": per_call * 1000,
        "per_call_wall_ms": wall * 1000 / iterations,
        "parts_ms": {name: 1000 * value / iterations for name, value in best_parts.items()},
        "per_core_calls_per_s": 1 / per_call,
        "cores": cores,
        "cores_used": min(WORKERS, cores),
        "ceiling_calls_per_s": min(WORKERS, cores) / per_call,
        "cpu_model": machine["cpu_model"],
        "payload_bytes": len(json.dumps(path.payload, separators=(",", ":"))),
        "raw_primitives_ms": _raw_primitives_ms(path.payload),
    }
    _crypto_cache[path.api] = result
    return result


def _raw_primitives_ms(payload: dict[str, Any], rounds: int = 200) -> dict[str, float]:
    """The same operations straight on `cryptography` (no JOSE library): 2 ECDSA P-256 verifies,
    1 sign, 1 ECDH + key generation, AES key wrap and AES-256-GCM over the payload; what a leaner
    JOSE layer could approach."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    body = json.dumps(payload, separators=(",", ":")).encode()
    signer = ec.generate_private_key(ec.SECP256R1())
    recipient = ec.generate_private_key(ec.SECP256R1()).public_key()
    signature = signer.sign(b"x" * 400, ec.ECDSA(hashes.SHA256()))
    public = signer.public_key()

    def measure(action: Callable[[], Any]) -> float:
        for _ in range(10):
            action()
        started = time.thread_time()
        for _ in range(rounds):
            action()
        return 1000 * (time.thread_time() - started) / rounds

    def seal_raw() -> None:
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        ephemeral.exchange(ec.ECDH(), recipient)
        cek = AESGCM.generate_key(bit_length=256)
        aes_key_wrap(os.urandom(32), cek)
        AESGCM(cek).encrypt(os.urandom(12), body * 1, None)

    verify = measure(lambda: public.verify(signature, b"x" * 400, ec.ECDSA(hashes.SHA256())))
    sign = measure(lambda: signer.sign(body, ec.ECDSA(hashes.SHA256())))
    encrypt = measure(seal_raw)
    return {"verify": verify, "sign": sign, "ecdh_encrypt": encrypt, "total": 2 * verify + sign + encrypt}
