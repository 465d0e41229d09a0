"""What every benchmark shares: options, result rows, fresh databases, statistics, memory
readings, progress logging, and the code and machine a run measured. The runtime, simulated
agencies and seeded citizens are in bench/seeding.py."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from core import migrate
from core.db import make_engine

MEETS, MISSES, INFO, SKIPPED = "meets", "misses", "info", "skipped"


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


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


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
