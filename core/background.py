"""A small in-process pool for work a request starts and does not wait for (a citizen's refresh).

Each app process owns one (app.extensions.Runtime.background). A job that raises is logged, never
re-raised: nobody waits on it, so the job itself must record how it ended. Jobs are not durable:
a process that dies takes its running jobs with it, so whatever tracks a job must treat one that
has run too long as dead (agency_connectors.refresh_jobs does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class BackgroundJobs:
    def __init__(self, *, workers: int = 2, name: str = "background") -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, job: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._pool.submit(job, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and (error := future.exception()) is not None:
            log.error("background_job_failed", error=type(error).__name__)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job is pending (tests, shutdown); False if some still are at `timeout`."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except TimeoutError:
                return False
            except Exception:  # noqa: S110 - logged by _done
                pass
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
