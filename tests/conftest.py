"""Shared fixtures.

The database is built by running the migrations (never create_all), on SQLite by default or on the
database in TEST_DATABASE_URL (one database per xdist worker). Each test runs inside a transaction
that is rolled back, services and views committing into SAVEPOINTs. Agencies are the real
simulators on loopback, one server per worker.

On PostgreSQL the tests run as production does (docs/operations.md, "PostgreSQL roles"): the
TEST_DATABASE_URL user owns the database and runs the migrations (`owner_engine`), and the app,
its live servers and every test connect as APP_ROLE, which may only SELECT and INSERT on the audit
tables. A test that legitimately needs the owner (tampering with the log, the guard triggers
themselves) is marked `as_owner` or uses `owner_engine`. Tests marked `postgres_only` skip on SQLite.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from agency_connectors.simulators import RunningSimulators, default_config, start_simulators
from app import create_app
from app.config import Config, default_agencies
from app.extensions import Runtime
from core import migrate
from core.db import make_engine

from .factories import TEST_MASTER_KEYS
from .servers import serving

pytest_plugins = ["tests.oauth.fixtures"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _run_id() -> str:
    """Unique per pytest run (shared by its xdist workers), so two runs on one PostgreSQL server
    never drop each other's databases."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", f"{os.getpid():x}")[:8]


# The app's role on PostgreSQL: cluster-wide, shared by every worker and run, never dropped. The
# password matters only where the server asks for one (CI's 127.0.0.1 uses trust).
APP_ROLE = "consentry_app_test"
APP_ROLE_PASSWORD = "consentry-app-test"


def _on_postgres() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "as_owner: the test's connection is the tables' owner, not the app's role"
    )


def pytest_collection_modifyitems(config, items) -> None:
    if _on_postgres():
        return
    skip = pytest.mark.skip(reason="PostgreSQL only (set TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)


def _postgres_admin(base: str) -> Engine:
    return make_engine(base).execution_options(isolation_level="AUTOCOMMIT")


def _ensure_app_role(admin: Engine) -> None:
    """Create APP_ROLE unless it exists. Workers and concurrent runs race here: whoever loses gets
    duplicate_object (or unique_violation on the catalogue's index, when both insert at once)."""
    with admin.connect() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN "
                f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD '{APP_ROLE_PASSWORD}'; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )


@dataclass(frozen=True)
class WorkerDatabase:
    owner_url: str  # migrations, tampering
    app_url: str  # the app and the tests (the same URL on SQLite)
    app_role: str | None


@pytest.fixture(scope="session")
def worker_database(tmp_path_factory) -> Iterator[WorkerDatabase]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / f'consentry-{_worker()}.db'}"
        yield WorkerDatabase(owner_url=url, app_url=url, app_role=None)
        return
    name = f"consentry_test_{_run_id()}_{_worker()}"
    admin = _postgres_admin(base)
    _ensure_app_role(admin)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    owner = make_url(base).set(database=name)
    app = owner.set(username=APP_ROLE, password=APP_ROLE_PASSWORD)
    yield WorkerDatabase(
        owner_url=owner.render_as_string(hide_password=False),
        app_url=app.render_as_string(hide_password=False),
        app_role=APP_ROLE,
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(worker_database) -> str:
    """The app's DATABASE_URL: on PostgreSQL it connects as APP_ROLE."""
    return worker_database.app_url


@pytest.fixture(scope="session")
def owner_engine(worker_database) -> Iterator[Engine]:
    """The tables' owner (MIGRATION_DATABASE_URL in production): migrates, then grants APP_ROLE
    the app's privileges, as `consentry db upgrade` does."""
    engine = make_engine(worker_database.owner_url)
    migrate.upgrade(engine, app_role=worker_database.app_role)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def engine(worker_database, owner_engine) -> Iterator[Engine]:
    """What the app and the tests use: APP_ROLE on PostgreSQL, the owner's engine on SQLite."""
    if worker_database.app_url == worker_database.owner_url:
        yield owner_engine
        return
    engine = make_engine(worker_database.app_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def simulators() -> Iterator[RunningSimulators]:
    with start_simulators(default_config()) as running:
        yield running


@pytest.fixture(autouse=True)
def _cheap_staff_argon2(monkeypatch) -> None:
    """Staff passwords still argon2id, at the lowest cost (production's take a quarter second);
    tests/identity/test_staff.py checks the production parameters."""
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr("identity.staff._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(autouse=True)
def _rate_limit_windows_start_with_the_test(request, monkeypatch) -> None:
    """Rate-limit windows are fixed: they start at multiples of their length since the epoch, so
    a 60-second window turns over every minute, and a test whose hits straddle that moment loses
    its count (seen: a sign-in limit test answered 400 where 429 was due, on a loaded machine).
    In tests every window starts when the test does. Tests of the windows themselves (marked
    `epoch_windows`) keep the real alignment."""
    if request.node.get_closest_marker("epoch_windows"):
        return
    import core.rate_limit

    start = int(dt.datetime.now(dt.UTC).timestamp())

    def window(now: dt.datetime, length: int) -> tuple[int, int]:
        begun = start + (int(now.timestamp()) - start) // length * length
        return begun, begun + length

    monkeypatch.setattr(core.rate_limit, "_window", window)


@pytest.fixture(autouse=True)
def _audit_head_at_start(request) -> None:
    """Where the log stood when the test began, for tests.audit_rows.written_here."""
    if "db_session" in request.fixturenames:
        from tests.audit_rows import mark_head

        mark_head(request.getfixturevalue("db_session"))


@pytest.fixture(autouse=True)
def _reset_simulator_faults(request) -> Iterator[None]:
    yield
    if "simulators" in request.fixturenames:
        request.getfixturevalue("simulators").reset()


@pytest.fixture(scope="session")
def base_config(database_url, simulators) -> Config:
    return Config(
        database_url=database_url,
        master_keys=TEST_MASTER_KEYS,
        agencies=default_agencies(simulators.base_url),
        agency_timeout_s=1.0,
        agency_retries=1,
        agency_backoff_s=0.01,
        public_base_url="http://localhost",
        testing=True,
    )


@pytest.fixture
def connection(request, engine) -> Iterator:
    """The test's connection, as the app's role; a test marked `as_owner` gets the tables' owner."""
    if request.node.get_closest_marker("as_owner"):
        engine = request.getfixturevalue("owner_engine")
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def sessions(connection) -> sessionmaker[Session]:
    """Sessions bound to the test's connection; their commits become SAVEPOINT releases."""
    return sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
def db_session(sessions) -> Iterator[Session]:
    session = sessions()
    yield session
    session.close()


@pytest.fixture
def runtime(base_config, engine, sessions) -> Iterator[Runtime]:
    rt = Runtime.build(base_config, engine)
    rt.use_sessions(sessions)
    yield rt
    rt.close()


@pytest.fixture
def app(base_config, engine, sessions):
    application = create_app(base_config, engine=engine)
    application.extensions["consentry"].use_sessions(sessions)
    yield application
    application.extensions["consentry"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def live(base_config, engine) -> Iterator[LiveServer]:
    """The real app on a loopback werkzeug server, committing for real into the worker's test
    database; its public base URL is its own address, so `aud`, `htu` and `iss` match what
    clients see. Tests using it make their own data (fresh national ids, unique client ids)."""

    def build(url: str) -> Flask:
        return create_app(base_config.replace(public_base_url=url), engine=engine)

    with serving(build) as (url, app):
        yield LiveServer(url, app)


@pytest.fixture(scope="session")
def live_app(live) -> Flask:
    return live.app


@pytest.fixture(scope="session")
def live_server(live) -> str:
    return live.url


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
