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
The ceiling shows what part of a call is irreducible; the targets (issue 18, oauth_settings.TARGETS)
are the worker CPU per call (person, userinfo, token), PostgreSQL's CPU per call, and the p99 at 16
concurrent clients.

Then, on the same server and in the same run, bench/fapi_api.py times the Myinfo v5 (FAPI 2.0)
calls of the same app (registered for both profiles): PAR, token and userinfo, the userinfo row
beside the person row with a ceiling of its own. Both halves share the rest, one module each:
bench/oauth_settings.py (sizes, scope, targets), oauth_seed.py (the app, citizens and codes minted
as the consent screen issues them), oauth_server.py (gunicorn and its CPU), oauth_phases.py (the
phase runner and its figures), oauth_client.py (DPoP proofs, client assertions, reading answers),
oauth_ceiling.py (the crypto ceiling) and oauth_report.py (the rows and the table). This module
runs them: per backend and worker class, then the stack floor.

Last, once per run, the stack floor (bench/stack_floor.py): the same gunicorn, Flask and clients
with no database, a bare route and the person call's crypto alone, to show how much of the
ceiling any database-backed endpoint could reach on this stack and machine.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any
from urllib.parse import quote

from joserfc.jwk import ECKey
from sqlalchemy.engine import make_url

from .common import SKIPPED, Options, Row, fresh_database, log
from .fapi_api import drive_v5
from .oauth_ceiling import CryptoPath, _access_token, _crypto_ceiling, _v4_crypto_path
from .oauth_client import (
    Token,
    client_assertion,
    first_response,
    issued_tokens,
    open_sealed,
    platform_jwks,
    resource_calls,
    token_requests,
)
from .oauth_phases import Call, RateWindows, phase_report, phase_stats, run_phase
from .oauth_report import _row, _title
from .oauth_seed import Citizenry, Code, mint_codes, open_v4_request, seed_app_and_citizens
from .oauth_server import Server, database_backend_pids, free_port, gunicorn
from .oauth_settings import (
    CLIENTS,
    LABELS,
    PHASE_DEADLINE_S,
    ROOT,
    SCOPE,
    THREADS,
    TOKEN_LIMIT,
    V4,
    V5,
    WORKERS,
    Sizes,
    sizes,
    worker_classes,
)
from .seeding import build_runtime, close_runtime


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
    config, port = options.workdir / "stack-floor.json", free_port()
    issuer = f"http://127.0.0.1:{port}/com/v4"
    write_config(config, platform=platform, encryption=encryption, issuer=issuer, payload=path.payload)
    log(f"oauth: stack floor ({calls} calls per route)")
    floor_app, env = "bench.stack_floor:app", {CONFIG_ENV: str(config), "PYTHONPATH": str(ROOT)}
    with gunicorn("sqlite://", options.workdir, "sync", app=floor_app, env_extra=env, port=port) as server:
        keys = [ECKey.generate_key("P-256", auto_kid=True) for _ in range(CLIENTS)]
        audience = f"{issuer}/person"
        tokens = [
            Token(_access_token(platform, key, issuer=issuer, audience=audience, sub=path.sub), path.sub, key)
            for key in keys
        ]

        def reads(count: int) -> list[Call]:
            return resource_calls(tokens, count, lambda token: f"{audience}/{token.sub}")

        run_phase(server, [Call("GET", "/healthz", {}), *reads(4 * CLIENTS)])  # warm-up: imports, key caches
        hello = run_phase(server, [Call("GET", "/healthz", {}) for _ in range(calls)])
        made = time.monotonic()
        crypto = run_phase(server, reads(calls), deadline=made + PHASE_DEADLINE_S, keep=1)
    first = first_response(crypto)
    assert first.count(b".") == 4, "the floor's person route did not answer a JWE"
    figures = {"flask": phase_stats(hello), "crypto_only": phase_stats(crypto)}
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


def _run_backend(options: Options, backend: str, url: str, worker_class: str) -> dict[str, Any]:
    size = sizes(options)
    with fresh_database(options, url, f"oauth-{worker_class}") as db_url:
        runtime = build_runtime(db_url)
        try:
            people = seed_app_and_citizens(db_url, size.citizens)
            with gunicorn(db_url, options.workdir, worker_class) as server:
                if backend == "postgresql":
                    server.database_pids = lambda: database_backend_pids(runtime)
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


def _drive(runtime, server: Server, people: Citizenry, size: Sizes) -> dict[str, Any]:
    """MyInfo v4's phases, then Myinfo v5's (bench/fapi_api.py), on one server."""
    from app.config import Config

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

        return token_requests(token_url, people, codes, dpop_keys, assertion)

    def person_calls(tokens: list[Token], count: int) -> list[Call]:
        query = "?scope=" + quote(" ".join(SCOPE), safe="")
        return resource_calls(
            tokens,
            count,
            lambda token: f"{server.base_url}/com/v4/person/{token.sub}",
            query=query,
            headers={"Cache-Control": "no-cache"},
        )

    log("oauth: v4: minting codes")
    codes = mint_codes(runtime, people, size.warmup + size.tokens, open_v4_request)
    warm_codes, timed_codes = codes[: size.warmup], codes[size.warmup :]
    windows.wait_for_room(TOKEN_LIMIT, len(codes))

    # Warm-up: both workers import, open pools, load keys; then check one response end to end.
    warm = run_phase(server, token_calls(warm_codes), keep=size.warmup)
    windows.record(TOKEN_LIMIT, warm)
    warm_tokens = issued_tokens(warm, dpop_keys, len(warm_codes))
    warm_person = run_phase(server, person_calls(warm_tokens, size.warmup), keep=1)
    payload = open_sealed(first_response(warm_person), people, platform_jwks(server))
    missing = [name for name in SCOPE if name not in payload]
    assert not missing, f"person response lacks {missing}"

    log(f"oauth: v4 token phase ({len(timed_codes)} calls)")
    made = time.monotonic()
    calls = token_calls(timed_codes)
    token = run_phase(server, calls, keep=len(calls), deadline=made + PHASE_DEADLINE_S, runtime=runtime)
    windows.record(TOKEN_LIMIT, token)
    tokens = issued_tokens(token, dpop_keys, len(timed_codes))
    log(f"oauth: v4 person phase ({size.persons} calls)")
    made = time.monotonic()
    reads = person_calls(tokens, size.persons)
    person = run_phase(server, reads, deadline=made + PHASE_DEADLINE_S, runtime=runtime)
    return {
        **phase_report(
            V4,
            {"token": (token, len(calls)), "person": (person, len(reads))},
            warm={"token": warm, "person": warm_person},
        ),
        "response_bytes": len(first_response(warm_person)),
        "crypto_path": _v4_crypto_path(payload),
    }
