"""`python -m bench [--quick] [--only refresh,bulk,assembly,scale,audit,oauth,tiles] [--pg-url URL] [...]`

Runs the benchmarks, prints one table and the machine it ran on, and writes the same as JSON to
bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import assembly, audit_log, audit_scale, oauth_api, oauth_report, refresh, scale, tiles
from .common import MEETS, MISSES, Options, Row, code_fingerprint, log, machine_info, machine_line

BENCHMARKS: dict[str, Callable[[Options], list[Row]]] = {
    "refresh": refresh.run_single,
    "assembly": assembly.run,
    "bulk": refresh.run_bulk,
    "scale": scale.run,
    "audit": audit_log.run,
    "audit-scale": audit_scale.run,
    "oauth": oauth_api.run,
    "tiles": tiles.run,
}
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[2])
    parser.add_argument("--quick", action="store_true", help="small sizes; about a minute")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--database-url", help="main backend (default: temporary SQLite files)")
    parser.add_argument(
        "--pg-url",
        help="also run on this PostgreSQL database (its name must contain 'bench'; "
        "it is dropped and re-created), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/consentry_bench; the scale bench needs it",
    )
    parser.add_argument(
        "--citizens-pg",
        type=int,
        help=f"citizens loaded by the scale bench (default "
        f"{scale.DEFAULT_CITIZENS:,}; {scale.QUICK_CITIZENS:,} with --quick)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument(
        "--json", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in filter(None, args.only.split(",")) if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = Options(
        quick=args.quick,
        database_url=args.database_url,
        pg_url=args.pg_url,
        citizens_pg=args.citizens_pg,
        keep_db=args.keep_db,
    )
    selected = [name for name in BENCHMARKS if not args.only or name in args.only.split(",")]
    machine = machine_info()
    code = code_fingerprint()
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    rows: list[Row] = []
    try:
        for name in selected:
            log(f"{name}: running")
            clock = time.perf_counter()
            rows.extend(BENCHMARKS[name](options))
            log(f"{name}: done in {time.perf_counter() - clock:.1f} s")
            elapsed = time.perf_counter() - started
            write_json(args.json, rows, machine, elapsed, started_at, args, code, complete=False)
    finally:
        options.cleanup()
    duration = time.perf_counter() - started
    machine["load_average_end"] = list(os.getloadavg())
    print_table(rows, machine, duration, args.quick, code)
    write_json(args.json, rows, machine, duration, started_at, args, code, complete=True)
    return 0


def print_table(rows: list[Row], machine: dict, duration: float, quick: bool, code: dict) -> None:
    console = Console(width=None if sys.stdout.isatty() else 220)
    table = Table(title=f"Consentry benchmarks{' (--quick)' if quick else ''}", show_lines=True)
    for column, style in (
        ("benchmark", "bold"),
        ("backend", ""),
        ("N", ""),
        ("result", ""),
        ("target", ""),
        ("verdict", ""),
    ):
        table.add_column(column, style=style, overflow="fold", justify="right" if column == "N" else "left")
    colours = {MEETS: "green", MISSES: "red"}
    for row in rows:
        n = f"{row.n:,}" if isinstance(row.n, int) else str(row.n)
        verdict = f"[{colours[row.verdict]}]{row.verdict}[/]" if row.verdict in colours else row.verdict
        table.add_row(row.benchmark, row.backend, n, row.result, row.target, verdict)
    console.print(table)
    if (oauth_table := oauth_report.summary_table(rows)) is not None:
        console.print(oauth_table)
    for row in rows:
        if "sizes" in row.data:
            console.print(size_table(row.data["sizes"]))
    console.print(machine_line(machine))
    console.print(f"Total time {duration:.0f} s. Code measured: {code['digest']} (per file in the JSON).")


def size_table(sizes: dict) -> Table:
    table = Table(title="PostgreSQL relation sizes after the scale load (pg_total_relation_size)")
    for column in ("relation", "rows", "heap+TOAST", "indexes", "total", "bytes/row"):
        table.add_column(column, justify="left" if column == "relation" else "right")
    for name, info in sizes["tables"].items():
        table.add_row(
            name,
            f"{info['rows']:,}",
            _size(info["table_bytes"]),
            _size(info["index_bytes"]),
            _size(info["total_bytes"]),
            f"{info['bytes_per_row'] or 0:,.0f}",
        )
    for name, info in sizes["indexes"].items():
        table.add_row(
            f"  index {name}", "", "", _size(info["bytes"]), "", f"{info['bytes_per_row'] or 0:,.0f}"
        )
    table.add_row("database", "", "", "", _size(sizes["database_bytes"]), "")
    return table


def _size(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)


def write_json(
    path: Path,
    rows: list[Row],
    machine: dict,
    duration: float,
    started_at: dt.datetime,
    args: argparse.Namespace,
    code: dict,
    *,
    complete: bool,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": started_at.isoformat(),
        "duration_s": duration,
        "complete": complete,
        "machine": machine,
        "machine_line": machine_line(machine),
        "code": code,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": [dataclasses.asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    if complete:
        log(f"results written to {path}")


if __name__ == "__main__":
    sys.exit(main())
