"""Database kernel: the declarative base, portable column types and engine/session factories.

No Flask here: connectors, CLI jobs, Alembic and tests all open sessions without an app context.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Execution option: on SQLite, begin the transaction holding the write lock (no effect elsewhere).
WRITER = "consentry_writer"
# PostgreSQL: a pooled connection idle this long is pinged before use (ping_after_idle).
PING_AFTER_IDLE_S = 5.0
_IDLE_SINCE = "consentry_idle_since"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite drops tzinfo; PostgreSQL keeps it. Naive datetimes are refused so local time never
    sneaks into provenance or audit timestamps.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine tuned per backend: SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, **kwargs)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    ping_after_idle(engine)
    return engine


def ping_after_idle(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """Check a pooled connection is alive before use, once it has sat idle `idle_s` seconds.

    SQLAlchemy's pool_pre_ping pings at every checkout: a round trip per request, 7% of a
    person call on PostgreSQL. A connection returned moments ago is alive unless the server
    went away in between; a request that meets such a connection fails, as it would with one
    that died mid-transaction, and the pool then replaces it. An older connection (the server
    may have restarted, a firewall dropped it) is pinged, and a dead one is replaced before
    use: DisconnectionError makes the pool retry with a fresh connection."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection is dead") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling defeats SAVEPOINTs; we emit BEGIN ourselves
        # (SQLAlchemy's documented recipe), which also makes SELECTs transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Writers that must queue (audit appends) ask for IMMEDIATE: a deferred transaction that
        # read first cannot upgrade to a write lock once another writer has committed.
        # Straight to the driver: this runs twice on every disclosure, and SQLAlchemy's execution
        # path was most of its cost.
        begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITER) else "BEGIN"
        conn.connection.driver_connection.execute(begin)


def make_session_factory(engine: Engine, *, writer: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`; `writer=True` for use cases that append to serialised logs."""
    bind = engine.execution_options(**{WRITER: True}) if writer else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. For CLI jobs and workers."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
