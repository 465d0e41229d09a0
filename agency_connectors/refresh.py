"""Refreshing profiles: fan out to every agency at once, store what came back, keep what did not.

A failing agency never fails a refresh: its fields keep their last good value and lastupdated (or
stay unavailable if never fetched) and the result names the agency and the reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ValidationFailed
from profile_store.catalogue import Catalogue
from profile_store.citizens import iter_citizen_ids, reveal_uinfin
from profile_store.fields import apply_agency_record, record_agency_failure
from profile_store.models import Citizen
from profile_store.vault import Vault

from .base import AgencyFailure
from .registry import ConnectorRegistry

_MISSING = object()


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
    items: Any = _MISSING  # dict, None (no record), or _MISSING on failure
    failure: AgencyFailure | None = None
    elapsed_ms: float = 0.0


async def _fetch_one(
    registry: ConnectorRegistry, client: httpx.AsyncClient, code: str, uinfin: str
) -> _Fetched:
    started = time.perf_counter()
    try:
        items = await registry.connectors[code].fetch(client, uinfin)
        return _Fetched(code, items, elapsed_ms=(time.perf_counter() - started) * 1000)
    except AgencyFailure as failure:
        return _Fetched(code, failure=failure, elapsed_ms=(time.perf_counter() - started) * 1000)


async def _fetch_citizen(
    registry: ConnectorRegistry, client: httpx.AsyncClient, uinfin: str, agencies: Iterable[str]
) -> list[_Fetched]:
    return list(await asyncio.gather(*(_fetch_one(registry, client, code, uinfin) for code in agencies)))


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
    for got in fetched:
        outcome = AgencyOutcome(got.agency, ok=got.failure is None, elapsed_ms=got.elapsed_ms)
        if got.failure is None:
            try:
                applied = apply_agency_record(
                    session,
                    vault=vault,
                    catalogue=catalogue,
                    citizen=citizen,
                    agency=got.agency,
                    items=got.items,
                    now=now,
                )
                outcome.found = got.items is not None
                outcome.changed = len(applied.changed)
            except ValidationFailed:
                outcome.ok, got.failure = False, AgencyFailure("invalid_payload")
        if got.failure is not None:
            outcome.reason = got.failure.summary()
            record_agency_failure(
                session, citizen_id=citizen.id, agency=got.agency, reason=outcome.reason, now=now
            )
        result.outcomes[got.agency] = outcome
    return result


def refresh_citizen(
    session: Session,
    *,
    registry: ConnectorRegistry,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    now: dt.datetime,
    agencies: Iterable[str] | None = None,
) -> RefreshResult:
    """Fetch the citizen from every agency (or those named) concurrently and store the answers in
    the caller's transaction (flushed, not committed). Never raises for an agency's failure."""
    codes = list(agencies) if agencies is not None else registry.codes()
    uinfin = reveal_uinfin(vault, citizen)

    async def run() -> list[_Fetched]:
        async with registry.client(max_connections=len(codes) or 1) as client:
            return await _fetch_citizen(registry, client, uinfin, codes)

    fetched = asyncio.run(run())
    return _store(session, vault=vault, catalogue=catalogue, citizen=citizen, fetched=fetched, now=now)


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
    concurrency: int = 64,
    on_batch: Callable[[BulkProgress], None] | None = None,
) -> BulkProgress:
    """Refresh every citizen, streaming them in batches (memory stays flat as N grows). Each batch is
    its own transaction; the next batch's fetches overlap with the current batch's writes."""
    progress = BulkProgress()
    codes = registry.codes()

    def load(ids: list[str]) -> list[tuple[str, str]]:
        with sessions() as session:
            citizens = session.scalars(select(Citizen).where(Citizen.id.in_(ids))).all()
            return [(c.id, reveal_uinfin(vault, c)) for c in citizens]

    def write(batch: list[tuple[str, list[_Fetched]]]) -> None:
        with sessions() as session, session.begin():
            now = clock()
            by_id = {
                c.id: c for c in session.scalars(select(Citizen).where(Citizen.id.in_([i for i, _ in batch])))
            }
            for citizen_id, fetched in batch:
                result = _store(
                    session,
                    vault=vault,
                    catalogue=catalogue,
                    citizen=by_id[citizen_id],
                    fetched=fetched,
                    now=now,
                )
                for code in result.failed:
                    progress.agency_failures[code] = progress.agency_failures.get(code, 0) + 1
                progress.failed_citizens += bool(result.failed)
        progress.citizens += len(batch)
        if on_batch:
            on_batch(progress)

    async def fetch_batch(client, gate: asyncio.Semaphore, people: list[tuple[str, str]]):
        async def one(citizen_id: str, uinfin: str):
            async with gate:
                return citizen_id, await _fetch_citizen(registry, client, uinfin, codes)

        return await asyncio.gather(*(one(cid, uinfin) for cid, uinfin in people))

    async def run() -> None:
        gate = asyncio.Semaphore(max(1, concurrency // max(1, len(codes))))
        pending: asyncio.Future | None = None
        async with registry.client(max_connections=concurrency) as client:
            for people in _batches(sessions, batch_size, load):
                fetched = await fetch_batch(client, gate, people)
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(write, fetched))
            if pending is not None:
                await pending

    asyncio.run(run())
    return progress


def _batches(sessions, batch_size: int, load) -> Iterator[list[tuple[str, str]]]:
    with sessions() as session:
        id_batches = iter_citizen_ids(session, batch_size=batch_size)
        for ids in id_batches:
            yield load(ids)
