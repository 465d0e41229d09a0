"""Refreshing profiles: fan out to every agency at once, store what came back, keep what did not.

A failing agency never fails a refresh: its fields keep their last good value and lastupdated (or
stay unavailable if never fetched) and the result names the agency and the reason.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ValidationFailed
from profile_store.batch_writer import BatchWriter
from profile_store.catalogue import Catalogue
from profile_store.citizens import reveal_uinfin
from profile_store.fields import apply_agency_record, record_agency_failure
from profile_store.models import Citizen
from profile_store.vault import Vault

from .base import AgencyFailure
from .registry import ConnectorRegistry, new_http_client


@dataclass
class AgencyOutcome:
    agency: str
    ok: bool
    reason: str | None = None
    found: bool = True
    changed: int = 0
    elapsed_ms: float = 0.0


@dataclass
class RefreshResult:
    citizen_id: str
    outcomes: dict[str, AgencyOutcome] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, str]:
        """Agencies that failed, with the reason (safe to show and log)."""
        return {code: o.reason or "failed" for code, o in self.outcomes.items() if not o.ok}


@dataclass
class _Fetched:
    agency: str
    items: Any = None  # the agency's items, or None when it holds no record
    failure: AgencyFailure | None = None
    elapsed_ms: float = 0.0


def _fetch_one(registry: ConnectorRegistry, client: httpx.Client, code: str, uinfin: str) -> _Fetched:
    started = time.perf_counter()
    try:
        items = registry.connectors[code].fetch(client, uinfin)
        return _Fetched(code, items, elapsed_ms=(time.perf_counter() - started) * 1000)
    except AgencyFailure as failure:
        return _Fetched(code, failure=failure, elapsed_ms=(time.perf_counter() - started) * 1000)


def _submit_citizen(
    pool: Executor,
    registry: ConnectorRegistry,
    clients: Mapping[str, httpx.Client],
    uinfin: str,
    codes: Iterable[str],
) -> list[Future[_Fetched]]:
    return [pool.submit(_fetch_one, registry, clients[code], code, uinfin) for code in codes]


def _store(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    fetched: list[_Fetched],
    now: dt.datetime,
) -> RefreshResult:
    result = RefreshResult(citizen.id)
    with session.no_autoflush:  # one flush per citizen, not one per agency and query
        for got in fetched:
            _store_one(
                session, vault=vault, catalogue=catalogue, citizen=citizen, got=got, now=now, result=result
            )
    session.flush()
    return result


def _store_one(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    got: _Fetched,
    now: dt.datetime,
    result: RefreshResult,
) -> None:
    outcome = AgencyOutcome(got.agency, ok=got.failure is None, elapsed_ms=got.elapsed_ms)
    failure = got.failure
    if failure is None:
        try:
            applied = apply_agency_record(
                session,
                vault=vault,
                catalogue=catalogue,
                citizen=citizen,
                agency=got.agency,
                items=got.items,
                now=now,
                flush=False,
            )
            outcome.found = got.items is not None
            outcome.changed = len(applied.changed)
        except ValidationFailed:
            failure = AgencyFailure("invalid_payload")
    if failure is not None:
        outcome.ok, outcome.reason = False, failure.summary()
        record_agency_failure(
            session, citizen_id=citizen.id, agency=got.agency, reason=outcome.reason, now=now, flush=False
        )
    result.outcomes[got.agency] = outcome


def refresh_citizen(
    session: Session,
    *,
    registry: ConnectorRegistry,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    now: dt.datetime,
    agencies: Iterable[str] | None = None,
    budget_s: float | None = None,
) -> RefreshResult:
    """Fetch the citizen from every agency (or those named) in parallel and store the answers in
    the caller's transaction (flushed, not committed). Never raises for an agency's failure.

    With `budget_s`, agencies that have not answered by then are left as they are (their stored
    values and lastupdated stand) and reported as failed with reason "over_budget"; their fetches
    finish in the background and are discarded."""
    codes = list(agencies) if agencies is not None else registry.codes()
    clients = dict.fromkeys(codes, registry.http)
    futures = _submit_citizen(registry.pool, registry, clients, reveal_uinfin(vault, citizen), codes)
    wait(futures, timeout=budget_s)
    fetched = [future.result() for future in futures if future.done()]
    result = _store(session, vault=vault, catalogue=catalogue, citizen=citizen, fetched=fetched, now=now)
    for code, future in zip(codes, futures, strict=True):
        if not future.done():
            result.outcomes[code] = AgencyOutcome(code, ok=False, reason="over_budget")
    return result


try:
    _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
except (AttributeError, OSError):  # not glibc
    _MALLOC_TRIM = None
FLUSH_EVERY = 50  # citizens per round of executemany statements in a bulk refresh


@dataclass
class BulkProgress:
    citizens: int = 0
    agency_failures: dict[str, int] = field(default_factory=dict)
    failed_citizens: int = 0


def refresh_all(
    sessions: sessionmaker[Session],
    *,
    registry: ConnectorRegistry,
    vault: Vault,
    catalogue: Catalogue,
    clock: Callable[[], dt.datetime],
    batch_size: int = 200,
    concurrency: int = 32,
    on_batch: Callable[[BulkProgress], None] | None = None,
) -> BulkProgress:
    """Refresh every citizen, streaming them in batches so memory stays flat as N grows. Each batch
    is one transaction; the next batch's fetches run while the current batch is written."""
    progress = BulkProgress()
    codes = registry.codes()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="bulk-refresh") as pool, ExitStack() as stack:
        # One pool per agency: httpx serialises a pool on one lock and scans its connections per
        # request, so 64 threads on one pool spend more CPU queueing than talking. A pool may open
        # a connection per thread (a thread never waits for one against the agency's timeout) but
        # keeps twice its share idle, so eight pools hold about as many sockets as one did.
        keepalive = 2 * -(-concurrency // max(len(codes), 1))
        clients = {
            code: stack.enter_context(new_http_client(max_connections=concurrency, max_keepalive=keepalive))
            for code in codes
        }
        in_flight: list[tuple[str, list[Future[_Fetched]]]] | None = None
        for people in _people(sessions, vault, batch_size):
            submitted = [
                (cid, _submit_citizen(pool, registry, clients, uinfin, codes)) for cid, uinfin in people
            ]
            if in_flight is not None:
                _write_batch(
                    sessions, in_flight, vault=vault, catalogue=catalogue, now=clock(), progress=progress
                )
                _return_freed_memory()
                if on_batch:
                    on_batch(progress)
            in_flight = submitted
        if in_flight is not None:
            _write_batch(
                sessions, in_flight, vault=vault, catalogue=catalogue, now=clock(), progress=progress
            )
            if on_batch:
                on_batch(progress)
    return progress


def _return_freed_memory() -> None:
    """Hand memory freed by the last batch back to the OS (glibc only; a no-op elsewhere).

    Python-level allocations do not grow from batch to batch (tracemalloc), but glibc keeps what
    64 fetch threads freed in its per-thread arenas, so without this RSS creeps up with N."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _people(
    sessions: sessionmaker[Session], vault: Vault, batch_size: int
) -> Iterator[list[tuple[str, str]]]:
    """(citizen id, national id) in batches, by keyset pagination. Each batch is read in a short
    transaction of its own: one held open for the whole run would pin old row versions on
    PostgreSQL (no vacuum behind it) and keep SQLite from checkpointing its WAL."""
    last = ""
    while True:
        with sessions() as reader:
            rows = reader.execute(
                select(Citizen.id, Citizen.uinfin_ciphertext, Citizen.dek_kid, Citizen.dek_wrapped)
                .where(Citizen.id > last)
                .order_by(Citizen.id)
                .limit(batch_size)
            ).all()
        if not rows:
            return
        last = rows[-1].id
        # reveal_uinfin reads only these four columns, so a plain row stands in for a Citizen.
        yield [(row.id, reveal_uinfin(vault, row)) for row in rows]


def _write_batch(
    sessions: sessionmaker[Session],
    batch: list[tuple[str, list[Future[_Fetched]]]],
    *,
    vault: Vault,
    catalogue: Catalogue,
    now: dt.datetime,
    progress: BulkProgress,
) -> None:
    """Store one batch in one transaction: three SELECTs for the whole batch, then one
    executemany per kind of write (profile_store.batch_writer), instead of ORM objects."""
    with sessions() as session, session.begin():
        writer = BatchWriter(
            session, vault=vault, catalogue=catalogue, citizen_ids=[cid for cid, _ in batch], now=now
        )
        for done, (citizen_id, futures) in enumerate(batch, 1):
            if done % FLUSH_EVERY == 0:
                writer.flush()  # a few thousand rows per statement; a whole batch at once peaks higher
            failed = False
            for future in futures:
                got = future.result()
                reason = _store_answer(writer, citizen_id, got)
                if reason is not None:
                    progress.agency_failures[got.agency] = progress.agency_failures.get(got.agency, 0) + 1
                    failed = True
            progress.failed_citizens += failed
        writer.flush()
    progress.citizens += len(batch)


def _store_answer(writer: BatchWriter, citizen_id: str, got: _Fetched) -> str | None:
    """Stage one agency's answer as `_store_one` stores it; the failure reason, or None."""
    failure = got.failure
    if failure is None:
        try:
            writer.apply(citizen_id, got.agency, got.items)
            return None
        except ValidationFailed:
            failure = AgencyFailure("invalid_payload")
    reason = failure.summary()
    writer.fail(citizen_id, got.agency, reason)
    return reason
