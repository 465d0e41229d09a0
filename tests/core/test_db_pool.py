"""PostgreSQL connection pool: a pooled connection that sat idle is checked before use, one used
moments ago is not (core.db.ping_after_idle). Needs PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from core.db import ping_after_idle


@pytest.fixture
def postgres_url(database_url) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (set TEST_DATABASE_URL)")
    return database_url


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(url: str, pid: int) -> None:
    killer = create_engine(url, poolclass=NullPool)
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    killer.dispose()


def pooled_engine(url: str, *, idle_s: float):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_after_idle(engine, idle_s)
    return engine


def test_an_idle_connection_that_died_is_replaced_before_use(postgres_url):
    engine = pooled_engine(postgres_url, idle_s=0.0)  # every checked-in connection counts as idle
    first = backend_pid(engine)
    terminate(postgres_url, first)
    assert backend_pid(engine) != first  # no error: the ping found it dead, the pool reconnected
    engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(postgres_url):
    engine = pooled_engine(postgres_url, idle_s=3600.0)
    first = backend_pid(engine)
    terminate(postgres_url, first)
    # Not pinged: the request that meets it fails, as one meeting a mid-transaction loss would,
    # and the pool replaces the connection for the next.
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert backend_pid(engine) != first
    engine.dispose()
