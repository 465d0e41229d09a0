"""What every benchmark shares: options, result rows, fresh databases, simulators, seeding,
statistics and memory readings."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from agency_connectors.simulators import default_config, record_for, start_simulators
from app.config import AGENCY_CODES, Config, default_agencies
from app.extensions import Runtime
from core import migrate
from core.clock import utcnow
from core.crypto.keyring import b64e
from core.db import make_engine
from core.uinfin import demo_uinfin
from profile_store.fields import apply_agency_record, declare
from profile_store.models import Citizen, new_citizen_id
from profile_store.vault import Vault, uinfin_aad

# A bench-only master key (32 bytes). Never used outside the benchmark databases.
BENCH_MASTER_KEYS = f"bench-1:{b64e(b'consentry-benchmark-master-key!!')}"
MEETS, MISSES, INFO, SKIPPED = "meets", "misses", "info", "skipped"
# What a citizen typically declares themself (so a "full" profile has declared values too).
DECLARED_VALUES: dict[str, Any] = {
    "email": {"value": "tan.ah.kow@example.sg"},
    "mobileno": {"prefix": {"value": "+"}, "areacode": {"value": "65"}, "nbr": {"value": "91234567"}},
}


@dataclass
class Options:
    quick: bool = False
    database_url: str | None = None
    pg_url: str | None = None
    citizens_pg: int | None = None
    keep_db: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="consentry-bench-")))

    def backends(self) -> list[tuple[str, str]]:
        """(label, url) of every backend the refresh/assembly benches run on."""
        primary = self.database_url or f"sqlite:///{self.workdir / 'bench.db'}"
        found = [(backend_name(primary), primary)]
        if self.pg_url and self.pg_url != primary:
            found.append((backend_name(self.pg_url), self.pg_url))
        return found

    def postgres_url(self) -> str | None:
        for url in (self.pg_url, self.database_url):
            if url and backend_name(url) == "postgresql":
                return url
        return None

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Row:
    """One line of the results table; `data` keeps the raw numbers for the JSON file."""

    benchmark: str
    backend: str
    n: int | str
    result: str
    target: str
    verdict: str
    data: dict[str, Any] = field(default_factory=dict)


def backend_name(url: str) -> str:
    return make_url(url).get_backend_name()


# --- fresh databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(options: Options, url: str, name: str) -> Iterator[str]:
    """A new, migrated database for one benchmark; yields its URL and removes it afterwards.

    SQLite: a file `<stem>-<name>.db` next to the given one (or in a temp dir). PostgreSQL: the
    database named in the URL is dropped and re-created, so its name must contain "bench".
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        base = (
            Path(parsed.database)
            if parsed.database not in (None, "", ":memory:")
            else options.workdir / "b.db"
        )
        path = base.with_name(f"{base.stem}-{name}.db")
        _remove_sqlite(path)
        db_url = parsed.set(database=str(path)).render_as_string(hide_password=False)
        _migrate(db_url)
        try:
            yield db_url
        finally:
            _remove_sqlite(path)
        return
    database = parsed.database or ""
    if "bench" not in database:
        raise SystemExit(
            f"refusing to drop and re-create database {database!r}: its name must contain 'bench'"
        )
    _recreate_pg(url)
    _migrate(url)
    try:
        yield url
    finally:
        if not options.keep_db:
            _drop_pg(url)


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _admin_engine(url: str):
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    return make_engine(admin).execution_options(isolation_level="AUTOCOMMIT")


def _recreate_pg(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_pg(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- runtime, simulators, seeding ----------------------------------------------------------------


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


# --- statistics and memory -----------------------------------------------------------------------


def summarize(samples_s: Sequence[float]) -> dict[str, float]:
    """Milliseconds: median, p95 (inclusive quantiles), min, max, mean; and the sample count."""
    ms = sorted(s * 1000 for s in samples_s)
    p95 = statistics.quantiles(ms, n=100, method="inclusive")[94] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": p95,
        "min_ms": ms[0],
        "max_ms": ms[-1],
        "mean_ms": statistics.fmean(ms),
    }


def fmt_ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def med_p95(stats: dict[str, float]) -> str:
    return f"median {fmt_ms(stats['median_ms'])}, p95 {fmt_ms(stats['p95_ms'])}"


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return (kib or 0) * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) for this process; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    import resource  # POSIX only, and only as a fallback

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mib(value: float) -> float:
    return value / (1024 * 1024)


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


# --- code under test ------------------------------------------------------------------------------

MEASURED_CODE = ("agency_connectors", "profile_store", "core", "app/config.py", "app/extensions.py")


def code_fingerprint() -> dict[str, Any]:
    """sha256 of the measured modules as they are on disk when the run starts (other people edit
    the tree meanwhile): one short digest for the lot, and one per file."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    files: dict[str, str] = {}
    for entry in MEASURED_CODE:
        path = root / entry
        for file in sorted(path.rglob("*.py") if path.is_dir() else [path]):
            if "simulators" in file.parts or not file.exists():
                continue
            files[str(file.relative_to(root))] = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
    overall = hashlib.sha256("".join(f"{k}:{v};" for k, v in files.items()).encode()).hexdigest()[:12]
    return {"digest": overall, "files": files}


# --- machine ---------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "processor": platform.processor() or model or "unknown",
        "cpu_model": model,
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "executable": sys.executable,
        "load_average_start": list(os.getloadavg()),
    }


def machine_line(info: dict[str, Any]) -> str:
    cpu = info["processor"]
    if info["cpu_model"] and info["cpu_model"] != cpu:
        cpu = f"{cpu} ({info['cpu_model']})"
    return (
        f"Machine: {info['cores']} cores (os.cpu_count), {info['machine']}, {cpu}, "
        f"{info['implementation']} {info['python']}, {info['system']}; "
        f"load average {info['load_average_start'][0]:.1f} at start"
        + (f", {info['load_average_end'][0]:.1f} at end" if "load_average_end" in info else "")
    )
