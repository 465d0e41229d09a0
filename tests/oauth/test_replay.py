"""Replay caches: first use wins, replays lose, and exactly one of many racing callers wins,
on the test database and on a real Redis."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from app.oauth.replay import DbReplayCache, RedisReplayCache, ReplayCache, replay_cache_for
from core.clock import utcnow
from core.db import make_session_factory
from core.replay_model import ReplayJti

REDIS_URL = "redis://127.0.0.1:6379/15"


def soon() -> dt.datetime:
    return utcnow() + dt.timedelta(minutes=5)


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def db_sessions(engine, namespace):
    """Real sessions on the test database: the cache commits on its own, outside any test
    transaction, so the rows it writes are removed here."""
    sessions = make_session_factory(engine)
    yield sessions
    with sessions.begin() as session:
        session.execute(delete(ReplayJti).where(ReplayJti.namespace.startswith(namespace)))


@pytest.fixture
def redis_cache(namespace) -> Iterator[RedisReplayCache]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}); start redis-server")
    prefix = f"consentry-test:{namespace}:"
    cache = RedisReplayCache(REDIS_URL, prefix=prefix, client=client)
    yield cache
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["db", "redis"])
def cache(request, namespace) -> ReplayCache:
    if request.param == "db":
        return DbReplayCache(request.getfixturevalue("db_sessions"))
    return request.getfixturevalue("redis_cache")


def test_first_use_wins_and_replays_lose(cache, namespace):
    assert cache.first_use(namespace, "jti-1", soon()) is True
    assert cache.first_use(namespace, "jti-1", soon()) is False
    assert cache.first_use(namespace, "jti-2", soon()) is True
    assert cache.first_use(f"{namespace}:other", "jti-1", soon()) is True


def test_exactly_one_of_eight_racing_threads_wins(cache, namespace):
    barrier = threading.Barrier(8)
    expires_at = soon()

    def race(_: int) -> bool:
        barrier.wait()
        return cache.first_use(namespace, "contested", expires_at)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(race, range(8)))
    assert results.count(True) == 1


def test_db_cache_sweeps_expired_rows(db_sessions, namespace):
    clock = [utcnow()]
    cache = DbReplayCache(db_sessions, clock=lambda: clock[0], sweep_interval=dt.timedelta(minutes=1))
    assert cache.first_use(namespace, "old", clock[0] - dt.timedelta(seconds=1))
    assert cache.first_use(namespace, "old", soon()) is False, "unswept expired rows still count"

    clock[0] += dt.timedelta(minutes=2)
    assert cache.first_use(namespace, "new", clock[0] + dt.timedelta(minutes=5))
    with db_sessions() as session:
        remaining = session.scalars(select(ReplayJti.jti).where(ReplayJti.namespace == namespace)).all()
    assert remaining == ["new"]


def test_db_cache_commits_outside_the_callers_transaction(db_sessions, namespace):
    cache = DbReplayCache(db_sessions)
    with db_sessions() as caller:
        caller.begin()
        assert cache.first_use(namespace, "kept", soon())
        caller.rollback()
    with db_sessions() as session:
        count = session.scalar(select(func.count()).where(ReplayJti.namespace == namespace))
    assert count == 1


def test_redis_cache_sets_an_expiry_even_for_a_past_instant(redis_cache, namespace):
    assert redis_cache.first_use(namespace, "late", utcnow() - dt.timedelta(minutes=1))
    assert redis_cache.first_use(namespace, "late", soon()) is False
    assert redis_cache.first_use(namespace, "timed", soon())
    ttl = redis_cache._redis.ttl(redis_cache.key(namespace, "timed"))
    assert 0 < ttl <= 301


def test_redis_keys_cannot_collide_across_namespaces(redis_cache, namespace):
    assert redis_cache.first_use(f"{namespace}:a", "b:c", soon())
    assert redis_cache.first_use(namespace, "a:b:c", soon())


def test_replay_cache_for_picks_redis_only_when_configured(db_sessions):
    assert isinstance(replay_cache_for(None, db_sessions), DbReplayCache)
    assert isinstance(replay_cache_for("", db_sessions), DbReplayCache)
    redis_backed = replay_cache_for(REDIS_URL, db_sessions)
    assert isinstance(redis_backed, RedisReplayCache)
    redis_backed.close()
