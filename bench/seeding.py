"""A runtime over a bench database and the citizens in it: the bench-only master key and config,
building and closing the runtime, the simulated agencies, and citizens seeded through the real
code (rows with real encryption, full profiles from all eight agencies, the usual declarations).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import insert

from agency_connectors.simulators import default_config, record_for, start_simulators
from app.config import AGENCY_CODES, Config, default_agencies
from app.extensions import Runtime
from core.clock import utcnow
from core.crypto.keyring import b64e
from core.uinfin import demo_uinfin
from profile_store.fields import apply_agency_record, declare
from profile_store.models import Citizen, new_citizen_id
from profile_store.vault import Vault, uinfin_aad

# A bench-only master key (32 bytes). Never used outside the benchmark databases.
BENCH_MASTER_KEYS = f"bench-1:{b64e(b'consentry-benchmark-master-key!!')}"
# What a citizen typically declares themself (so a "full" profile has declared values too).
DECLARED_VALUES: dict[str, Any] = {
    "email": {"value": "tan.ah.kow@example.sg"},
    "mobileno": {"prefix": {"value": "+"}, "areacode": {"value": "65"}, "nbr": {"value": "91234567"}},
}


def bench_config(url: str, agencies_base_url: str = "http://127.0.0.1:9") -> Config:
    return Config(
        database_url=url,
        master_keys=BENCH_MASTER_KEYS,
        agencies=default_agencies(agencies_base_url),
        agency_timeout_s=2.0,
        agency_retries=2,
        agency_backoff_s=0.05,
        testing=True,
    )


def build_runtime(url: str, agencies_base_url: str = "http://127.0.0.1:9") -> Runtime:
    return Runtime.build(bench_config(url, agencies_base_url))


def close_runtime(runtime: Runtime) -> None:
    """Release what a runtime holds: agency worker threads and HTTP connections (when the registry
    has them), database connections."""
    close = getattr(runtime.connectors, "close", None)
    if close is not None:
        close()
    runtime.engine.dispose()


@contextlib.contextmanager
def simulators(latency_ms: int = 0) -> Iterator[Any]:
    """The simulated agencies, in this process, on a free loopback port."""
    running = start_simulators(default_config(), host="127.0.0.1", port=0)
    try:
        if latency_ms:
            for code in AGENCY_CODES:
                running.set_fault(code, latency_ms=latency_ms)
        yield running
    finally:
        running.stop()


def full_record_indices(count: int, *, start: int = 0) -> list[int]:
    """Demo indices n whose citizen every agency holds a record of (so a refresh gets 8 records)."""
    found: list[int] = []
    n = start
    while len(found) < count:
        uinfin = demo_uinfin(n)
        if all(record_for(code, uinfin) is not None for code in AGENCY_CODES):
            found.append(n)
        n += 1
    return found


def citizen_row(vault: Vault, uinfin: str, now: dt.datetime) -> dict[str, Any]:
    """A `citizens` row exactly as create_citizen writes it, without the per-row existence check."""
    citizen_id = new_citizen_id()
    cipher, wrapped = vault.new_data_key(citizen_id)
    return {
        "id": citizen_id,
        "uinfin_digest": vault.digest_uinfin(uinfin),
        "uinfin_ciphertext": cipher.encrypt(uinfin.encode(), uinfin_aad(citizen_id)),
        "dek_kid": wrapped.kid,
        "dek_wrapped": wrapped.blob,
        "created_at": now,
        "refreshed_at": None,
    }


def seed_citizens(runtime: Runtime, uinfins: Iterable[str], *, batch_size: int = 2000) -> list[str]:
    """Insert citizens in batches (Core inserts, real encryption); returns their ids in order."""
    ids: list[str] = []
    now = utcnow()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with runtime.sessions() as session, session.begin():
            session.execute(insert(Citizen), batch)
        batch.clear()

    for uinfin in uinfins:
        row = citizen_row(runtime.vault, uinfin, now)
        ids.append(row["id"])
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return ids


def store_full_profile(session, runtime: Runtime, citizen: Citizen, uinfin: str, now: dt.datetime) -> None:
    """What a refresh from all eight agencies stores (without HTTP), plus the usual declarations."""
    for code in AGENCY_CODES:
        apply_agency_record(
            session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            agency=code,
            items=record_for(code, uinfin),
            now=now,
        )
    declare_usual(session, runtime, citizen, now)


def declare_usual(session, runtime: Runtime, citizen: Citizen, now: dt.datetime) -> None:
    for attribute, value in DECLARED_VALUES.items():
        declare(
            session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attribute=attribute,
            value=value,
            now=now,
        )
