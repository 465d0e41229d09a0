"""The `consentry` command group (also `flask --app wsgi ...`). Thin commands: parse, call a
service, commit once; long work shows a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from agency_connectors.bulk_import import import_records, open_text, read_records
from agency_connectors.refresh import refresh_all, refresh_citizen
from audit.log import Event
from core import migrate
from core.clock import utcnow
from core.db import make_engine, transaction
from core.db_roles import grant_app_role
from core.errors import DomainError
from core.uinfin import demo_uinfin
from profile_store.citizens import count_citizens, ensure_citizen, find_citizen_by_uinfin
from profile_store.key_rotation import pending_rotation, rotate_batch

from .auditing import record, refresh_event
from .config import Config
from .config_checks import HOW_TO_GENERATE
from .extensions import runtime
from .serve_cli import serve

console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _fail(exc: DomainError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    for where, reasons in getattr(exc, "errors", {}).items():
        console.print(f"  {where}: {'; '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}")
    sys.exit(1)


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations) and the app's PostgreSQL role."""


@contextmanager
def _as_owner() -> Iterator[Engine]:
    """The tables' owner: MIGRATION_DATABASE_URL, else the app's own engine (DATABASE_URL)."""
    rt = runtime()
    url = rt.config.migration_database_url
    if not url or url == rt.config.database_url:
        yield rt.engine
        return
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_database(revision: str = "head") -> str | None:
    """Migrate as the owner, then grant APP_DB_ROLE the app's privileges (PostgreSQL only).
    Returns the role granted to, if any."""
    role = runtime().config.app_db_role
    with _as_owner() as engine:
        migrate.upgrade(engine, revision, app_role=role)
        return role if engine.dialect.name == "postgresql" else None


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate (as MIGRATION_DATABASE_URL's role), then grant APP_DB_ROLE its privileges."""
    try:
        role = upgrade_database(revision)
    except DomainError as exc:
        _fail(exc)
    console.print(f"database at {revision}" + (f"; {role} granted the app's privileges" if role else ""))


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    with _as_owner() as engine:
        migrate.downgrade(engine, revision)
    console.print(f"database at {revision}")


@db_group.command("grant")
@click.argument("role")
@with_appcontext
def db_grant(role: str) -> None:
    """Give ROLE exactly the app's privileges (PostgreSQL; run as the tables' owner). Idempotent."""
    try:
        with _as_owner() as engine, engine.begin() as connection:
            tables = grant_app_role(connection, role)
    except DomainError as exc:
        _fail(exc)
    console.print(
        f"{role} granted the app's privileges on {len(tables)} tables (audit tables: SELECT, INSERT)"
    )


@click.command("seed")
@click.option("--citizens", "count", default=20, show_default=True, help="How many demo citizens.")
@click.option("--refresh/--no-refresh", default=True, show_default=True, help="Fetch them from the agencies.")
@with_appcontext
def seed(count: int, refresh: bool) -> None:
    """Create demo citizens (deterministic synthetic national ids) and optionally refresh them."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        for n in range(count):
            ensure_citizen(session, vault=rt.vault, uinfin=demo_uinfin(n), now=utcnow())
    console.print(
        f"{count} demo citizens present, e.g. {', '.join(demo_uinfin(n) for n in range(min(count, 3)))}"
    )
    if refresh:
        _refresh_everyone(batch_size=200, concurrency=rt.config.refresh_concurrency)


@click.command("refresh")
@click.option("--uinfin", help="One citizen's national id.")
@click.option("--all", "everyone", is_flag=True, help="Every citizen, streamed in batches.")
@click.option("--batch-size", default=200, show_default=True)
@click.option("--concurrency", default=64, show_default=True, help="Requests in flight at once.")
@with_appcontext
def refresh(uinfin: str | None, everyone: bool, batch_size: int, concurrency: int) -> None:
    """Refresh one citizen or all of them from every agency."""
    if bool(uinfin) == everyone:
        raise click.UsageError("give exactly one of --uinfin or --all")
    if everyone:
        _refresh_everyone(batch_size=batch_size, concurrency=concurrency)
        return
    rt = runtime()
    try:
        with transaction(rt.sessions) as session:
            citizen = find_citizen_by_uinfin(session, vault=rt.vault, uinfin=uinfin or "")
            if citizen is None:
                raise click.ClickException("no citizen with that national id")
            result = refresh_citizen(
                session,
                registry=rt.connectors,
                vault=rt.vault,
                catalogue=rt.catalogue,
                citizen=citizen,
                now=utcnow(),
            )
            record(session, refresh_event(citizen, result))
    except DomainError as exc:
        _fail(exc)
    table = Table("agency", "result", "changed", "ms")
    for code, outcome in result.outcomes.items():
        status = "ok" if outcome.ok and outcome.found else ("no record" if outcome.ok else outcome.reason)
        table.add_row(code, status, str(outcome.changed), f"{outcome.elapsed_ms:.0f}")
    Console().print(table)


def _refresh_everyone(*, batch_size: int, concurrency: int) -> None:
    rt = runtime()
    with rt.sessions() as session:
        total = count_citizens(session)
    with _progress() as bar:
        task = bar.add_task("refreshing", total=total)
        progress = refresh_all(
            rt.sessions,
            registry=rt.connectors,
            vault=rt.vault,
            catalogue=rt.catalogue,
            clock=utcnow,
            batch_size=batch_size,
            concurrency=concurrency,
            on_batch=lambda p: bar.update(task, completed=p.citizens),
        )
    with transaction(rt.sessions) as session:
        details = {
            "action": "bulk_refresh",
            "citizens": progress.citizens,
            "failures": progress.agency_failures,
        }
        record(session, Event(kind="admin_action", outcome="completed", details=details))
    table = Table("agency", "failed citizens")
    for code in rt.connectors.codes():
        table.add_row(code, str(progress.agency_failures.get(code, 0)))
    Console().print(table)
    console.print(
        f"{progress.citizens} citizens refreshed, {progress.failed_citizens} with at least one agency failing"
    )


@click.command("rotate-keys")
@click.option("--batch-size", default=500, show_default=True)
@with_appcontext
def rotate_keys(batch_size: int) -> None:
    """Re-encrypt every citizen under the active master key (ACTIVE_MASTER_KID). Resumable."""
    rt = runtime()
    with rt.sessions() as session:
        total = pending_rotation(session, vault=rt.vault)
    with _progress() as bar:
        task = bar.add_task(f"re-encrypting under {rt.vault.keyring.active_kid}", total=total)
        while True:
            try:
                with transaction(rt.sessions) as session:
                    done = rotate_batch(session, vault=rt.vault, batch_size=batch_size)
            except DomainError as exc:
                _fail(exc)
            if not done:
                break
            bar.advance(task, done)
    with transaction(rt.sessions) as session:
        details = {"action": "keys_rotated", "active_kid": rt.vault.keyring.active_kid, "citizens": total}
        record(session, Event(kind="admin_action", outcome="completed", details=details))
    console.print(f"{total} citizens re-encrypted; master keys still needed: {rt.vault.keyring.active_kid}")


@click.command("import")
@click.argument("agency")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "csv", "jsonl"]), default="auto", show_default=True
)
@with_appcontext
def import_file(agency: str, path: Path, fmt: str) -> None:
    """Import an agency's export file (CSV or JSON Lines). All or nothing."""
    rt = runtime()
    fmt = fmt if fmt != "auto" else ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        records = read_records(open_text(path.read_bytes()), fmt, catalogue=rt.catalogue, agency=agency)
        with transaction(rt.sessions) as session:
            summary = import_records(
                session, vault=rt.vault, catalogue=rt.catalogue, agency=agency, records=records, now=utcnow()
            )
    except DomainError as exc:
        _fail(exc)
    console.print(
        f"imported {summary.attributes} attributes for {summary.citizens} citizens "
        f"({summary.created} new) from {agency}"
    )


@click.command("simulators")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True)
def simulators(host: str, port: int) -> None:
    """Serve the simulated agency APIs in the foreground."""
    from agency_connectors.simulators.__main__ import main as run_simulators

    run_simulators(["--host", host, "--port", str(port)])


@click.command("check-config")
def check_config() -> None:
    """Judge the secrets in the environment as production would, without starting: one row per
    variable, OK or its problems, never a value. Exit 1 when production would refuse them, or when
    the current mode (CONSENTRY_ENV) would refuse the configuration anyway."""
    try:
        config = Config.from_env(check=False)
    except ValueError as exc:  # a number that is not one
        raise click.ClickException(f"the configuration cannot be read: {exc}") from None
    table = Table("variable", "verdict", title="Secrets as production judges them")
    verdicts = config.secret_verdicts()
    for verdict in verdicts:
        table.add_row(verdict.variable, Text("OK" if verdict.ok else "\n".join(verdict.problems)))
    Console().print(table)
    refusal = None
    try:
        config.check()
    except DomainError as exc:
        refusal = exc.message
    if refusal and not config.production:
        console.print(f"refused in {config.env} mode too: {refusal}", markup=False)
    bad = sum(not verdict.ok for verdict in verdicts)
    if bad:
        console.print(f"production would refuse to start: {bad} of {len(verdicts)} secrets have problems")
        console.print(HOW_TO_GENERATE, markup=False)
    else:
        console.print(f"production would accept these {len(verdicts)} secrets")
    if bad or refusal:
        sys.exit(1)


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_group)
    for command in (check_config, seed, refresh, rotate_keys, import_file, simulators):
        app.cli.add_command(command)
    from .apps_cli import apps_group
    from .audit_cli import audit_group
    from .auditor.cli import auditor_group
    from .citizens_cli import citizens_group
    from .demo import demo
    from .keys_cli import keys_group
    from .notices.cli import notifications_group
    from .oauth_cli import oauth_group
    from .sessions_cli import sessions_group
    from .staff_cli import staff_group
    from .witness_cli import witness_group

    app.cli.add_command(staff_group)
    app.cli.add_command(apps_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(oauth_group)
    app.cli.add_command(sessions_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(auditor_group)
    app.cli.add_command(citizens_group)
    app.cli.add_command(demo)
    app.cli.add_command(notifications_group)
    app.cli.add_command(witness_group)


def _create_app() -> Flask:
    from . import create_app
    from .config import Config

    return create_app(Config.from_env())


def consentry_group() -> FlaskGroup:
    group = FlaskGroup(create_app=_create_app, add_version_option=False)
    # Found before the app is built, so a configuration production refuses can still be checked.
    group.add_command(check_config)
    group.add_command(serve)  # builds no app in the gunicorn master: each worker builds its own
    return group


def main() -> None:
    consentry_group()(prog_name="consentry")
