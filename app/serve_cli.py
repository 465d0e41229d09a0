"""`consentry serve`: the production server. gunicorn, run in this process (no config file), each
worker building its own app with `create_app(Config.from_env())` after the fork.

Why gunicorn's sync workers by default: on the person call they beat gthread workers in the bench
(bench/README.md), and granian (one blocking thread per worker) measured 1.14x gunicorn sync, not
yet significant; `--threads N` (N > 1) switches to gthread.

What it sets, beyond the options:
- access log lines without the query string (`%(U)s`, the path only; query strings can carry
  national ids) and without any Authorization, Cookie or Referer header; the error log keeps a
  failed request's path but not its query;
- gunicorn trusts no forwarded header itself (`forwarded_allow_ips` empty): the app applies
  TRUSTED_PROXY_HOPS through werkzeug's ProxyFix (create_app), one rule for both;
- graceful shutdown: SIGTERM stops accepting, lets in-flight requests finish for up to
  `--graceful-timeout` seconds, then exits 0;
- Prometheus multi-process mode: PROMETHEUS_MULTIPROC_DIR (emptied at start) or a fresh temporary
  directory (removed at exit), and the child-exit hook that retires a dead worker's live gauges;
- no gunicorn control socket (several servers on one machine would share its default path).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

# Never `%(r)s` (the request line) or `%(q)s`: both carry the query string. `%(u)s` is the Basic
# auth user and `%(f)s` the referrer (another page's URL, query included): left out too.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # app.metrics.MULTIPROC_ENV, without importing it here
_QUERY = re.compile(r"\?[^\s\"']*")


def default_workers() -> int:
    """Twice the CPUs this process may run on: a sync worker waiting on an agency (a stale
    profile, up to PERSON_REFRESH_BUDGET_S) or the database serves nobody meanwhile, and the
    second worker per core keeps the CPU busy. Not measured against one per core (docs/operations.md)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return 2 * cpus


def gunicorn_options(
    *,
    bind: str = "127.0.0.1:8000",
    workers: int | None = None,
    threads: int = 1,
    timeout: int = 30,
    graceful_timeout: int = 30,
    keep_alive: int = 5,
    access_log: str | None = "-",
    log_level: str = "info",
) -> dict[str, Any]:
    """gunicorn settings for Consentry: what `consentry serve` runs, and the bench through it."""
    return {
        "bind": [bind],
        "workers": workers or default_workers(),
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keep_alive,
        "accesslog": access_log,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": log_level,
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "control_socket_disable": True,
        "proc_name": "consentry",
        "child_exit": _child_exit,
        "logger_class": _logger_class(),
    }


def _without_query_strings(record: logging.LogRecord) -> bool:
    """gunicorn's error log names the request URI when a request fails inside gunicorn (a
    malformed request line, an error writing the response): keep the path, drop the query."""
    message = record.getMessage()
    if "?" in message:
        record.msg, record.args = _QUERY.sub("?[query removed]", message), ()
    return True


def _logger_class() -> type:
    from gunicorn.glogging import Logger

    class ConsentryLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            if _without_query_strings not in self.error_log.filters:
                self.error_log.addFilter(_without_query_strings)

    return ConsentryLogger


def _child_exit(_server: Any, worker: Any) -> None:
    """In the master, after a worker exited: drop its live gauges from the metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def production_app():
    from . import create_app
    from .config import Config

    return create_app(Config.from_env())


def _gunicorn_application(options: dict[str, Any], load: Callable[[], Any]):
    from gunicorn.app.base import BaseApplication

    class ConsentryServer(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self):
            return load()

    return ConsentryServer(prog="consentry serve")


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR for this run: the one given, emptied of an earlier run's files, or
    a fresh temporary directory removed at exit. Set in the environment the workers inherit."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="consentry-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    if "prometheus_client.values" in sys.modules:  # imported before the variable was set
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    master = os.getpid()
    try:
        yield path
    finally:
        # Workers are forked from inside the `yield`: only the master cleans up.
        if os.getpid() == master and not given:
            shutil.rmtree(path, ignore_errors=True)


@click.command("serve")
@click.option("--bind", envvar="WEB_BIND", default="127.0.0.1:8000", show_default=True, help="HOST:PORT.")
@click.option(
    "--workers",
    envvar="WEB_WORKERS",
    type=click.IntRange(min=1),
    help="Worker processes (WEB_WORKERS; default twice the CPUs available).",
)
@click.option(
    "--threads",
    envvar="WEB_THREADS",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads per worker; above 1, gthread workers instead of sync.",
)
@click.option(
    "--timeout", default=30, show_default=True, help="Seconds a silent worker lives before it is restarted."
)
@click.option(
    "--graceful-timeout",
    default=30,
    show_default=True,
    help="Seconds in-flight requests get to finish after SIGTERM.",
)
@click.option(
    "--keep-alive",
    default=5,
    show_default=True,
    help="Seconds an idle keep-alive connection is held (gthread).",
)
@click.option("--access-log", default="-", show_default=True, help="Access log file; '-' is stdout.")
@click.option("--no-access-log", is_flag=True, help="Write no access log.")
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--factory",
    default="app.serve_cli:production_app",
    hidden=True,
    help="WSGI app factory (the bench's stack floor).",
)
def serve(
    bind: str,
    workers: int | None,
    threads: int,
    timeout: int,
    graceful_timeout: int,
    keep_alive: int,
    access_log: str,
    no_access_log: bool,
    log_level: str,
    factory: str,
) -> None:
    """Run the app under gunicorn (production). Each worker reads the configuration from the
    environment; a configuration production refuses stops the command before any worker starts."""
    from werkzeug.utils import import_string

    from core.errors import DomainError

    from .config import Config

    try:
        Config.from_env()
    except (DomainError, ValueError) as exc:
        raise click.ClickException(str(getattr(exc, "message", exc))) from None
    options = gunicorn_options(
        bind=bind,
        workers=workers,
        threads=threads,
        timeout=timeout,
        graceful_timeout=graceful_timeout,
        keep_alive=keep_alive,
        access_log=None if no_access_log else access_log,
        log_level=log_level,
    )
    load = import_string(factory)
    with metrics_directory():
        _gunicorn_application(options, load).run()
