"""`consentry serve` as production runs it: a real gunicorn process on a loopback port, against a
SQLite database migrated by `consentry db upgrade`. Access log lines without query strings or
credentials, Prometheus counters summed over two workers, and SIGTERM letting a request in flight
finish before a clean exit."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

CONSENTRY = str(Path(sys.executable).with_name("consentry"))
FAKE_UINFIN = "S1234567D"  # a well-formed national id, in a query string
CLEARED = (
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "APP_DB_ROLE",
    "REDIS_URL",
    "METRICS_TOKEN",
    "TRUSTED_PROXY_HOPS",
    "CATALOGUE_PATH",
    "ACTIVE_MASTER_KID",
    "WEB_BIND",
    "WEB_WORKERS",
    "WEB_THREADS",
    "PROMETHEUS_MULTIPROC_DIR",
)


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    port: int
    stdout: Path
    stderr: Path
    metrics_dir: Path

    def access_lines(self) -> list[str]:
        return self.stdout.read_text(errors="replace").splitlines()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """A fresh SQLite database, migrated the way an operator does it; agencies unreachable."""
    root = tmp_path_factory.mktemp("serve")
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env |= {
        "CONSENTRY_ENV": "development",
        "DATABASE_URL": f"sqlite:///{root / 'consentry.db'}",
        "AGENCY_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    subprocess.run([CONSENTRY, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    return env


def start(env: dict[str, str], workdir: Path, *args: str) -> Server:
    port = free_port()
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")  # must be wiped
    stdout, stderr = workdir / f"stdout-{port}.log", workdir / f"stderr-{port}.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [CONSENTRY, "serve", "--bind", f"127.0.0.1:{port}", *args],
            env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
            stdout=out,
            stderr=err,
        )
    server = Server(process, f"http://127.0.0.1:{port}", port, stdout, stderr, metrics_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"consentry serve exited ({process.returncode}):\n{stderr.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    pytest.fail(f"consentry serve did not answer /healthz:\n{stderr.read_text()}")


@pytest.fixture(scope="module")
def server(environment, tmp_path_factory) -> Iterator[Server]:
    running = start(environment, tmp_path_factory.mktemp("server"), "--workers", "2")
    yield running
    running.stop()


def partial_request(server: Server, path: str) -> socket.socket:
    """A connection whose request headers are not finished: the sync worker that accepted it
    waits for them and serves nothing else meanwhile."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode())
    time.sleep(0.5)  # accepted by a worker
    return sock


def finish(sock: socket.socket) -> bytes:
    sock.sendall(b"\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    return answer


def healthz_count(server: Server) -> float:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "consentry_http_request_duration_seconds_count" and sample.labels == {
                "endpoint": "site.healthz",
                "method": "GET",
                "status": "2xx",
            }:
                return sample.value
    return 0.0


def test_access_log_has_the_path_but_never_the_query_string_or_credentials(server):
    headers = {"Authorization": "Bearer secret-token-in-a-header", "Cookie": "session=secret-cookie"}
    response = httpx.get(f"{server.url}/healthz?uinfin={FAKE_UINFIN}&x=1", headers=headers, timeout=10)
    assert response.status_code == 200
    request_id = response.headers["X-Request-Id"]

    deadline = time.monotonic() + 5
    while not (lines := [line for line in server.access_lines() if request_id in line]):
        assert time.monotonic() < deadline, server.access_lines()
        time.sleep(0.05)
    (line,) = lines
    assert '"GET /healthz HTTP/1.1" 200' in line
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:  # gunicorn refuses it
        sock.sendall(f"GET /health z?uinfin={FAKE_UINFIN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    deadline = time.monotonic() + 5
    while "Invalid request" not in server.stderr.read_text():
        assert time.monotonic() < deadline, server.stderr.read_text()
        time.sleep(0.05)
    everything = server.stdout.read_text() + server.stderr.read_text()
    for secret in (FAKE_UINFIN, "uinfin=", "secret-token-in-a-header", "secret-cookie"):
        assert secret not in everything


def test_metrics_are_summed_over_both_workers(server):
    assert not (server.metrics_dir / "counter_1.db").exists()
    before = healthz_count(server)

    held = partial_request(server, "/healthz")  # one worker busy with this one...
    for _ in range(10):  # ...so the other serves these
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert b" 200 OK" in finish(held).split(b"\r\n", 1)[0]

    assert healthz_count(server) == before + 11
    writers = {
        match.group(1)
        for path in server.metrics_dir.glob("histogram_*.db")
        if (match := re.fullmatch(r"histogram_(\d+)\.db", path.name))
    }
    assert len(writers) >= 2


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(environment, tmp_path):
    server = start(environment, tmp_path, "--workers", "2", "--graceful-timeout", "10")
    held = partial_request(server, "/healthz")
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)

    answer = finish(held)

    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz", timeout=2)
