"""Where a person call's CPU goes: the v4 person call and the v4 token call, then the Myinfo v5
token and userinfo calls, in this process, one thread, no HTTP server and no other clients, so a
profile reads the app's own cost.

    .venv/bin/python -m bench.person_cpu [--calls 600] [--apis v4,v5] [--sql]
        [--profile person|token|token-v5|userinfo]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/consentry_bench]

The app is built as a gunicorn worker builds it (`create_app(Config.from_env(...))` with the
environment bench/oauth_api.py gives the server, Prometheus in multi-process mode), and every
request is a WSGI environ built before the clock starts, handed to the app as gunicorn hands it
(the socket, parsing and access log are gunicorn's, measured by the HTTP bench). Setup is
bench/oauth_api.py's: one app, citizens refreshed from the simulated agencies, codes as the
consent screen issues them.

v5 as bench/fapi_api.py drives it: a pushed request per login (PAR, through the app, not timed),
codes from them as the consent screen issues them, then `/fapi/token` and `/fapi/userinfo`. The
token limit per client is lifted (the same work is done either way; the HTTP bench waits instead).

Prints the thread's CPU per call (median of rounds), on PostgreSQL also its backends' CPU per call
(from /proc, over all rounds: the clock ticks are 10 ms), the SQL statements per call with `--sql`,
and with `--profile` a cProfile of that call's rounds (by own time and by cumulative time).
Not part of `python -m bench`: a tool for profiling in turns (e.g. in a git worktree of an
older commit, with this file copied there).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_URL = "http://127.0.0.1:5000"


def _environ(method: str, url: str, headers: dict[str, str], form: dict[str, str] | None) -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(method=method, base_url=BASE_URL, path=url.removeprefix(BASE_URL))
    for name, value in headers.items():
        builder.headers[name] = value
    if form is not None:
        builder.form.update(form)
    environ = builder.get_environ()
    builder.close()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return environ


def _call(app, environ: dict) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(line: str, _headers, _exc=None):
        status.append(line)

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return status[0], body


def _timed(
    app,
    make: Callable[[int, int], list[dict]],
    count: int,
    expect: str,
    rounds: int,
    against=None,
    database_cpu: Callable[[], float] | None = None,
) -> tuple[list[float], list[float], list[tuple[str, bytes]], list[float]]:
    """CPU ms per call of each round (`count` calls split evenly; each round's requests made by
    `make(start, n)` just before it, so no DPoP proof ages past its window on a busy machine), and
    the failures. With `against` (a context manager factory), every other round runs inside it:
    (this code's rounds, the other rounds). With `database_cpu` (CPU seconds of the database's
    processes so far), the last item is the database's CPU ms per call: [this code's, the other's]
    over all their rounds."""
    per_round = max(1, count // rounds)
    results: list[float] = []
    others: list[float] = []
    failures: list[tuple[str, bytes]] = []
    database = [0.0, 0.0]
    for number in range(rounds):
        environs = make(number * per_round, per_round)
        other = against is not None and number % 2 == 1
        with against() if other else contextlib.nullcontext():
            db_before = database_cpu() if database_cpu else 0.0
            cpu = time.thread_time()
            for environ in environs:
                status, body = _call(app, environ)
                if not status.startswith(expect):
                    failures.append((status, body[:300]))
            (others if other else results).append(1000 * (time.thread_time() - cpu) / per_round)
            if database_cpu is not None:
                database[other] += database_cpu() - db_before
    calls = (len(results) * per_round, len(others) * per_round)
    db_ms = [1000 * database[i] / calls[i] for i in (0, 1) if calls[i]] if database_cpu else []
    return results, others, failures, db_ms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.person_cpu")
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--citizens", type=int, default=8)
    parser.add_argument("--apis", default="v4,v5", help="v4, v5 or both (v4,v5)")
    parser.add_argument(
        "--phases",
        default="token,person,token-v5,userinfo",
        help="the timed phases to run (of the APIs chosen); e.g. `person` alone, so that two "
        "processes run side by side time the same call at the same time",
    )
    parser.add_argument("--profile", choices=("person", "token", "token-v5", "userinfo"))
    parser.add_argument(
        "--sql",
        action="store_true",
        help="count SQL statements per call (through SQLAlchemy or a DriverStatement; an "
        "executemany counts once)",
    )
    parser.add_argument("--pg-url", help="PostgreSQL (name must contain 'bench'; dropped and re-created)")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--profile-out", help="also write the profile here (pstats), for bench/cpu_split.py")
    parser.add_argument(
        "--against",
        help="MODULE:NAME of a context manager factory (e.g. one restoring older code); every "
        "other round runs inside it, so both are measured in turns under the same load",
    )
    args = parser.parse_args(argv)
    against = None
    if args.against:
        from werkzeug.utils import import_string

        against = import_string(args.against.replace(":", "."))

    workdir = Path(tempfile.mkdtemp(prefix="consentry-person-cpu-"))
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # as `consentry serve` runs it

    import dataclasses

    from joserfc.jwk import ECKey

    from app import create_app
    from app.config import Config

    from .common import Options, fresh_database
    from .fapi_api import Issuer, _login, _par_calls, _pushed_request, _token_calls_v5, _userinfo_calls
    from .oauth_client import Token, client_assertion, dpop_proof, jwt_claims, token_requests
    from .oauth_seed import mint_codes, open_v4_request, seed_app_and_citizens
    from .oauth_server import cpu_by_pid, database_backend_pids, server_environment
    from .oauth_settings import SCOPE
    from .seeding import build_runtime, close_runtime

    apis = set(args.apis.split(","))

    options = Options(workdir=workdir, pg_url=args.pg_url)
    url = args.pg_url or f"sqlite:///{workdir / 'person-cpu.db'}"
    with fresh_database(options, url, "person-cpu") as db_url:
        people = seed_app_and_citizens(db_url, args.citizens)
        runtime = build_runtime(db_url)
        warm, timed = 32, args.calls
        codes = mint_codes(runtime, people, warm + timed, open_v4_request) if "v4" in apis else []
        watcher = build_runtime(db_url) if args.pg_url else None

        def backends_cpu() -> float:
            return sum(cpu_by_pid(database_backend_pids(watcher)).values())

        database_cpu = backends_cpu if watcher is not None else None
        env = server_environment(db_url, BASE_URL)
        # The same work under any limit; the HTTP bench waits for room instead.
        app = create_app(dataclasses.replace(Config.from_env(env), token_rate_limit=10**9))
        statements = [0]
        if args.sql:
            from sqlalchemy import event

            engine = app.extensions["consentry"].engine

            @event.listens_for(engine, "before_cursor_execute")
            def _count(*_args: Any) -> None:
                statements[0] += 1

            # DriverStatements (core/driver_sql.py) bypass SQLAlchemy's events: count them too.
            from core.driver_sql import DriverStatement

            for method in ("rows", "many"):
                original = getattr(DriverStatement, method)

                def counted(self, *args: Any, _original=original, **kwargs: Any) -> Any:
                    if self.direct:
                        statements[0] += 1
                    return _original(self, *args, **kwargs)

                setattr(DriverStatement, method, counted)

        token_url = f"{BASE_URL}/com/v4/token"
        dpop_keys = [ECKey.generate_key("P-256", auto_kid=True) for _ in range(16)]

        def token_environs(batch) -> list[dict]:
            calls = token_requests(
                token_url,
                people,
                batch,
                dpop_keys,
                lambda key: client_assertion(people, audience=token_url, cnf_key=key),
            )
            return [_environ(c.method, c.path, c.headers, c.form) for c in calls]

        def person_environs(tokens: list[tuple[str, ECKey]], count: int) -> list[dict]:
            query = "?scope=" + quote(" ".join(SCOPE), safe="")
            made = []
            for i in range(count):
                access_token, key = tokens[i % len(tokens)]
                url = f"{BASE_URL}/com/v4/person/{jwt_claims(access_token)['sub']}"
                proof = dpop_proof(key, method="GET", url=url, access_token=access_token)
                headers = {"Authorization": f"DPoP {access_token}", "DPoP": proof}
                headers["Cache-Control"] = "no-cache"
                made.append(_environ("GET", url + query, headers, None))
            return made

        def run(name: str, make: Callable[[int, int], list[dict]], count: int, expect: str) -> None:
            if name not in args.phases.split(","):
                return
            profiler = cProfile.Profile(time.thread_time) if args.profile == name else None
            before = statements[0]
            if profiler is not None:
                profiler.enable()
            ms, others, failures, db_ms = _timed(app, make, count, expect, args.rounds, against, database_cpu)
            if profiler is not None:
                profiler.disable()
            per_call_sql = (statements[0] - before) / count
            sql = f", {per_call_sql:.1f} SQL statements per call" if args.sql else ""
            for label, values in ((name, ms), (f"{name} against", others)):
                if values:
                    print(
                        f"{label}: CPU per call median {statistics.median(values):.2f} ms, best "
                        f"{min(values):.2f} ms (rounds: {', '.join(f'{m:.2f}' for m in values)})"
                    )
            for label, value in zip((name, f"{name} against"), db_ms, strict=False):
                print(f"{label}: PostgreSQL backends' CPU per call {value:.2f} ms (all rounds)")
            print(f"{name}: {len(failures)} failures{sql}")
            for status, body in failures[:3]:
                print(f"  {status}: {body!r}")
            if profiler is not None:
                if args.profile_out:
                    profiler.dump_stats(args.profile_out)
                stats = pstats.Stats(profiler, stream=sys.stdout)
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)

        import json

        if "v4" in apis:
            # Warm-up: imports, pools, key caches.
            tokens: list[tuple[str, ECKey]] = []
            for i, environ in enumerate(token_environs(codes[:warm])):
                status, body = _call(app, environ)
                assert status.startswith("200"), (status, body)
                tokens.append((json.loads(body)["access_token"], dpop_keys[i % len(dpop_keys)]))
            for environ in person_environs(tokens, warm):
                status, body = _call(app, environ)
                assert status.startswith("200"), (status, body)

            v4_timed = codes[warm:]
            run("token", lambda start, n: token_environs(v4_timed[start : start + n]), timed, "200")
            run("person", lambda _start, n: person_environs(tokens, n), timed, "200")

        if "v5" in apis:
            base = f"{BASE_URL}/fapi"
            issuer = Issuer(base, f"{base}/par", f"{base}/token", f"{base}/userinfo", keys=None)  # type: ignore[arg-type]
            logins = [_login() for _ in range(warm + timed)]
            pushed = []
            for login, call in zip(logins, _par_calls(issuer, people, logins), strict=True):
                status, body = _call(app, _environ(call.method, call.path, call.headers, call.form))
                assert status.startswith("201"), (status, body)
                pushed.append(dataclasses.replace(login, request_uri=json.loads(body)["request_uri"]))
            v5_codes = mint_codes(runtime, people, len(pushed), _pushed_request(pushed))

            def v5_token_environs(start: int, n: int) -> list[dict]:
                end = start + n
                calls = _token_calls_v5(issuer, people, v5_codes[start:end], pushed[start:end])
                return [_environ(c.method, c.path, c.headers, c.form) for c in calls]

            def userinfo_environs(v5_tokens: list[Token], n: int) -> list[dict]:
                calls = _userinfo_calls(issuer, v5_tokens, n)
                return [_environ(c.method, c.path, c.headers, c.form) for c in calls]

            v5_tokens = []
            for login, environ in zip(pushed[:warm], v5_token_environs(0, warm), strict=True):
                status, body = _call(app, environ)
                assert status.startswith("200"), (status, body)
                access_token = json.loads(body)["access_token"]
                v5_tokens.append(Token(access_token, jwt_claims(access_token)["sub"], login.dpop_key))
            for environ in userinfo_environs(v5_tokens, warm):
                status, body = _call(app, environ)
                assert status.startswith("200"), (status, body)

            run("token-v5", lambda start, n: v5_token_environs(warm + start, n), timed, "200")
            run("userinfo", lambda _start, n: userinfo_environs(v5_tokens, n), timed, "200")
        app.extensions["consentry"].engine.dispose()
        close_runtime(runtime)
        if watcher is not None:
            close_runtime(watcher)


if __name__ == "__main__":
    main()
