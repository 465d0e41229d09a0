"""The server under test (bench/oauth_api.py): `consentry serve` (gunicorn) on a free loopback
port, configured through the environment as in production, and the CPU its workers and
PostgreSQL backends use (Linux /proc)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from .oauth_settings import NO_AGENCIES, ROOT, THREADS, WORKERS
from .seeding import BENCH_MASTER_KEYS


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
        return sum(cpu_by_pid(self.worker_pids()).values())

    def database_cpu(self) -> dict[int, float]:
        return cpu_by_pid(self.database_pids())

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def database_backend_pids(runtime) -> list[int]:
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


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (Linux /proc; missing ones left out)."""
    found: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(db_url: str, base_url: str) -> dict[str, str]:
    """The server's configuration, as production passes it: this process's environment without
    its Redis and catalogue, the bench's keys, and agencies that never answer (profiles are
    fetched during setup and stay fresh for 30 days)."""
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
    return env


@contextlib.contextmanager
def gunicorn(
    db_url: str,
    workdir: Path,
    worker_class: str,
    *,
    app: str | None = None,
    env_extra: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_environment(db_url, base_url)
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
