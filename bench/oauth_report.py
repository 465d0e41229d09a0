"""The oauth benchmark's report: a row per run and API for the main table, and the summary table
of calls/s, latency, the workers' CPU per call and the crypto ceiling (bench/README.md, oauth).
Split from bench/oauth_api.py, which runs the phases these figures come from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from .common import MEETS, MISSES, Row
from .oauth_settings import (
    CLIENTS,
    HOT_PATH,
    LABELS,
    ROOT,
    SCOPE,
    TARGETS,
    THREADS,
    V5,
    WORKERS,
    Api,
)


def _title(worker_class: str, api: Api | None = None) -> str:
    workers = f"{worker_class} x{THREADS}" if worker_class == "gthread" else worker_class
    calls = (
        f"{api.title} {' + '.join(LABELS[name] for name in (api.resource, *api.grants))}"
        if api is not None
        else "MyInfo v4 and Myinfo v5"
    )
    return (
        f"{calls} calls over HTTP ({WORKERS} gunicorn {workers} workers, "
        f"{CLIENTS} clients, {len(SCOPE)} attributes; agencies not called)"
    )


def _row(backend: str, worker_class: str, api: Api, result: dict[str, Any], ceiling: dict[str, Any]) -> Row:
    resource = result[api.resource]
    ratio = resource["calls_per_s"] / ceiling["ceiling_calls_per_s"]
    # What the ratio would be with both cores for the server alone (workers and PostgreSQL; no
    # clients, no other load): crypto CPU over the server's CPU per call.
    server_ms = resource["server_cpu_ms_per_call"] + (resource["database_cpu_ms_per_call"] or 0.0)
    cpu_ratio = ceiling["per_call_ms"] / server_ms if resource["calls"] and server_ms else 0.0
    target = TARGETS[backend]
    database_ms = resource["database_cpu_ms_per_call"]
    met = (
        not result["errors"]
        and resource["server_cpu_ms_per_call"] <= target.resource_cpu_ms
        and (target.database_cpu_ms is None or (database_ms or 0.0) <= target.database_cpu_ms)
        and result["token"]["server_cpu_ms_per_call"] <= target.token_cpu_ms
        and resource["p99_ms"] <= target.p99_ms
    )
    oauth: dict[str, Any] = {
        "api": api.profile,
        "resource": api.resource,
        "grants": list(api.grants),
        "database": backend,
        "workers": WORKERS,
        "worker_class": worker_class,
        "threads": THREADS if worker_class == "gthread" else 1,
        "clients": CLIENTS,
    }
    for name in (api.resource, *api.grants):
        for figure in ("calls_per_s", "p50_ms", "p99_ms"):
            oauth[f"{name}_{figure}"] = result[name][figure]
    oauth |= {
        "crypto_ceiling_calls_per_s": ceiling["ceiling_calls_per_s"],
        "ratio": ratio,
        "cpu_bound_ratio": cpu_ratio,
        "target_met": met,
    }
    text = "; ".join(
        f"{LABELS[name]} {result[name]['calls_per_s']:,.0f} calls/s (p50 {result[name]['p50_ms']:.1f} ms, "
        f"p99 {result[name]['p99_ms']:.1f} ms)"
        for name in (api.resource, *api.grants)
    )
    text += (
        f"; crypto ceiling {ceiling['ceiling_calls_per_s']:,.0f} calls/s -> {ratio:.0%}; server CPU "
        f"{resource['server_cpu_ms_per_call']:.1f} ms/{api.resource} call "
        f"(crypto {ceiling['per_call_ms']:.2f} ms)"
    )
    if result["errors"]:
        text += f"; ERRORS {result['errors']}"
    return Row(
        benchmark=_title(worker_class, api),
        backend=backend,
        n=resource["calls"],
        result=text,
        target=target.describe(),
        verdict=MEETS if met else MISSES,
        data={**result, "crypto": ceiling, "oauth": oauth, "hot_path_code": _hot_path_digest()},
    )


def _hot_path_digest() -> dict[str, str]:
    """sha256 (12 hex digits) of each file on the request path, as on disk now."""
    files: dict[str, str] = {}
    for entry in HOT_PATH:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py") if path.is_dir() else [path]):
            if file.exists():
                files[str(file.relative_to(ROOT))] = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
    return files


def summary_table(rows: Sequence[Row]) -> Table | None:
    """The oauth benchmark's own table (None when it did not run): per run, the v4 person row and
    the v5 userinfo row of the same server, one under the other."""
    found = [row for row in rows if "oauth" in row.data]
    if not found:
        return None
    table = Table(title="MyInfo v4 and Myinfo v5 APIs under load (bench/oauth_api.py, bench/fapi_api.py)")
    for column in (
        "database",
        "workers",
        "clients",
        "call",
        "calls/s",
        "p50",
        "p99",
        "token calls/s",
        "PAR calls/s",
        "worker CPU/call",
        "crypto/call",
        "crypto ceiling",
        "ratio",
        "of stack floor",
        "target met",
    ):
        table.add_column(column, justify="left" if column in ("database", "call") else "right")
    notes: list[str] = []
    ceilings: dict[str, dict[str, Any]] = {}
    floor = next((row.data["stack_floor"] for row in rows if "stack_floor" in row.data), None)
    for row in found:
        info = row.data["oauth"]
        if info is None:
            table.add_row(row.backend, "", "", "", "skipped: needs --pg-url", *[""] * 10)
            continue
        resource, crypto = info["resource"], row.data["crypto"]
        ceilings.setdefault(resource, crypto)
        table.add_row(
            info["database"],
            f"{info['workers']} {info['worker_class']}"
            + (f" x{info['threads']}" if info["worker_class"] == "gthread" else ""),
            str(info["clients"]),
            f"{'v5' if info['api'] == V5.profile else 'v4'} {resource}",
            f"{info[f'{resource}_calls_per_s']:,.0f}",
            f"{info[f'{resource}_p50_ms']:.1f} ms",
            f"{info[f'{resource}_p99_ms']:.1f} ms",
            *(_grant_cell(info, name) for name in ("token", "par")),
            _worker_cpu_cell(row),
            _crypto_cell(crypto),
            f"{info['crypto_ceiling_calls_per_s']:,.0f}/s",
            f"{info['ratio']:.0%}",
            f"{info[f'{resource}_calls_per_s'] / floor['crypto_only']['calls_per_s']:.0%}" if floor else "-",
            "[green]yes[/]" if info["target_met"] else "[red]no[/]",
        )
        notes.append(_cpu_note(row))
    header = [
        f"crypto ceiling, {resource}: {crypto['per_core_calls_per_s']:,.0f} calls/s on one core "
        f"({crypto['per_call_ms']:.2f} ms: access token {crypto['parts_ms']['access_token']:.2f}, DPoP "
        f"{crypto['parts_ms']['dpop']:.2f}, JWS+JWE {crypto['parts_ms']['seal']:.2f}) times "
        f"{crypto['cores_used']} workers = {crypto['ceiling_calls_per_s']:,.0f}/s"
        for resource, crypto in ceilings.items()
    ]
    if ceilings:
        crypto = next(iter(ceilings.values()))
        header += [f"target, {backend}: {target.describe()}" for backend, target in TARGETS.items()]
        notes.append(
            f"machine: {crypto['cores']} cores, {crypto['cpu_model'] or 'unknown CPU'}; the {CLIENTS} "
            "clients (one asyncio loop, bench/loadgen.py) run on the same cores. Agencies: profiles "
            "fetched from the simulators during setup; while timing the server has "
            "PERSON_REFRESH_MAX_AGE_S = 30 days and no agency reachable."
        )
    if floor:
        header.append(
            "stack floor (bench/stack_floor.py: the same gunicorn, Flask and clients, no database): a bare "
            f"route {floor['flask']['calls_per_s']:,.0f} calls/s; the person call's crypto alone "
            f"{floor['crypto_only']['calls_per_s']:,.0f} calls/s = {floor['ratio']:.0%} of the ceiling, the "
            "most any database-backed endpoint could reach here; 'of stack floor' is each call's share of it"
        )
    table.caption = "\n".join([*header, *notes])
    table.caption_justify = "left"
    return table


def _worker_cpu_cell(row: Row) -> str:
    """The gunicorn workers' CPU per resource call (+ PostgreSQL's backends'), then per token call:
    what issue 18 holds to 2.6 ms (SQLite), 3.5 + 1.0 ms (PostgreSQL) and 4 ms (token)."""
    resource = row.data[row.data["oauth"]["resource"]]
    cell = f"{resource['server_cpu_ms_per_call']:.1f}"
    if (database := resource.get("database_cpu_ms_per_call")) is not None:
        cell += f" + PG {database:.1f}"
    token = row.data["token"]
    cell += f" ms; token {token['server_cpu_ms_per_call']:.1f}"
    if (database := token.get("database_cpu_ms_per_call")) is not None:
        cell += f" + PG {database:.1f}"
    return cell + " ms"


def _crypto_cell(crypto: dict[str, Any]) -> str:
    """The call's crypto through our code (the ceiling's per-call cost) beside the same operations
    straight on `cryptography`: the part of a call no code change here can remove."""
    raw = crypto.get("raw_primitives_ms", {}).get("total")
    ours = f"{crypto['per_call_ms']:.2f} ms"
    return f"{ours} (cryptography {raw:.2f})" if raw else ours


def _grant_cell(info: dict[str, Any], name: str) -> str:
    if name not in info["grants"]:
        return "-"
    return (
        f"{info[f'{name}_calls_per_s']:,.0f} (p50 {info[f'{name}_p50_ms']:.0f}, "
        f"p99 {info[f'{name}_p99_ms']:.0f} ms)"
    )


def _cpu_note(row: Row) -> str:
    """Where a row's server time went, per call: workers, PostgreSQL, the clients, the machine."""
    info, crypto = row.data["oauth"], row.data["crypto"]
    resource = row.data[info["resource"]]
    database = resource.get("database_cpu_ms_per_call")
    grants = ", ".join(
        f"{LABELS[name]} {row.data[name]['server_cpu_ms_per_call']:.1f} ms" for name in info["grants"]
    )
    return (
        f"{info['database']}, {info['worker_class']}, {info['resource']}: server CPU "
        f"{resource['server_cpu_ms_per_call']:.1f}"
        + (f" + PostgreSQL {database:.1f}" if database is not None else "")
        + f" ms per call (crypto alone {crypto['per_call_ms']:.2f} ms: ratio {info['cpu_bound_ratio']:.0%} "
        f"if the workers had the cores to themselves), {grants}; client CPU "
        f"{resource['client_cpu_ms_per_call']:.1f} ms/call; machine busy {resource['machine_busy']:.0%}; "
        f"{row.data['refreshes_during_timing']} agency refreshes while timing"
        + (f"; NOT SUCCESSFUL (phase: status: calls): {row.data['errors']}" if row.data["errors"] else "")
    )
