"""Rate limiters on the test database and on a real Redis: up to the limit, then refused until the
window ends; reset; and exactly `limit` of many racing threads allowed. Plus the web layer's keys
and client address."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from core.clock import utcnow
from core.db import make_session_factory
from core.rate_limit import DbRateLimiter, RateLimiter, RedisRateLimiter, rate_limiter_for
from core.rate_limit_model import RateLimitCounter

# These tests check the windows themselves: their alignment to the epoch, their ends.
pytestmark = pytest.mark.epoch_windows

REDIS_URL = "redis://127.0.0.1:6379/15"
WINDOW = 3600


class Clock:
    """A clock that moves only when told to: windows never roll over by accident mid-test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def key() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def db_sessions(engine, key):
    """Real sessions on the test database: the limiter commits on its own, outside any test
    transaction, so the rows it writes are removed here."""
    sessions = make_session_factory(engine)
    yield sessions
    with sessions.begin() as session:
        session.execute(delete(RateLimitCounter).where(RateLimitCounter.key.startswith(key)))


@pytest.fixture
def redis_limiter(key, clock) -> Iterator[RedisRateLimiter]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}); start redis-server")
    prefix = f"consentry-test:{key}:"
    limiter = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock, client=client)
    yield limiter
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


@pytest.fixture(params=["db", "redis"])
def limiter(request, clock) -> RateLimiter:
    if request.param == "db":
        return DbRateLimiter(request.getfixturevalue("db_sessions"), clock=clock)
    return request.getfixturevalue("redis_limiter")


def test_allows_up_to_the_limit_then_refuses_until_the_window_ends(limiter, key, clock):
    decisions = [limiter.check(key, 3, WINDOW) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.hits for d in decisions] == [1, 2, 3, 4, 5]
    window_end = (int(clock.now.timestamp()) // WINDOW + 1) * WINDOW
    assert decisions[-1].retry_after == pytest.approx(window_end - clock.now.timestamp(), abs=1)
    assert 1 <= decisions[-1].retry_after <= WINDOW

    clock.now += dt.timedelta(seconds=decisions[-1].retry_after)
    assert limiter.check(key, 3, WINDOW).allowed


def test_keys_and_window_lengths_count_apart(limiter, key):
    for _ in range(2):
        limiter.check(f"{key}:a", 2, WINDOW)
    assert not limiter.check(f"{key}:a", 2, WINDOW).allowed
    assert limiter.check(f"{key}:b", 2, WINDOW).allowed
    assert limiter.check(f"{key}:a", 2, WINDOW * 2).hits == 1


def test_reset_forgets_the_current_window(limiter, key):
    for _ in range(3):
        limiter.check(key, 2, WINDOW)
    limiter.reset(key, WINDOW)
    assert limiter.check(key, 2, WINDOW).hits == 1


def test_peek_counts_nothing_and_refuses_once_the_limit_is_used(limiter, key, clock):
    assert limiter.peek(key, 2, WINDOW) == limiter.peek(key, 2, WINDOW)
    assert limiter.peek(key, 2, WINDOW).allowed and limiter.peek(key, 2, WINDOW).hits == 0
    limiter.check(key, 2, WINDOW)
    assert limiter.peek(key, 2, WINDOW).allowed and limiter.peek(key, 2, WINDOW).hits == 1
    limiter.check(key, 2, WINDOW)
    spent = limiter.peek(key, 2, WINDOW)
    assert not spent.allowed and spent.hits == 2 and 1 <= spent.retry_after <= WINDOW
    clock.now += dt.timedelta(seconds=spent.retry_after)
    assert limiter.peek(key, 2, WINDOW).allowed


def test_exactly_limit_of_many_racing_threads_are_allowed(limiter, key):
    threads, per_thread, limit = 8, 5, 17
    barrier = threading.Barrier(threads)

    def hammer(_: int) -> list[bool]:
        barrier.wait()
        return [limiter.check(key, limit, WINDOW).allowed for _ in range(per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        results = [allowed for batch in pool.map(hammer, range(threads)) for allowed in batch]
    assert results.count(True) == limit
    assert len(results) == threads * per_thread
    assert limiter.check(key, limit, WINDOW).hits == threads * per_thread + 1


@pytest.mark.parametrize(
    ("bad_key", "limit", "window"), [("", 1, 1), ("k" * 201, 1, 1), ("k", 0, 1), ("k", 1, 0)]
)
def test_nonsense_arguments_are_a_programming_error(limiter, bad_key, limit, window):
    with pytest.raises(ValueError):
        limiter.check(bad_key, limit, window)


def test_db_counters_commit_apart_from_the_caller_and_are_swept(db_sessions, key, clock):
    limiter = DbRateLimiter(db_sessions, clock=clock, sweep_interval=dt.timedelta(0))
    count = select(func.count()).select_from(RateLimitCounter).where(RateLimitCounter.key == key)
    limiter.check(key, 5, 60)
    with db_sessions() as session:
        assert session.scalar(count) == 1
    clock.now += dt.timedelta(seconds=61)
    limiter.check(f"{key}:other", 5, 60)  # any call sweeps ended windows first
    with db_sessions() as session:
        assert session.scalar(count) == 0


def test_redis_counters_expire_by_themselves(redis_limiter, key, clock):
    redis_limiter.check(key, 5, 60)
    start = int(clock.now.timestamp()) // 60 * 60
    ttl = redis_limiter._redis.ttl(redis_limiter.redis_key(key, 60, start))
    assert 0 < ttl <= 62


def test_the_store_is_redis_when_a_url_is_configured(db_sessions):
    assert isinstance(rate_limiter_for(None, db_sessions), DbRateLimiter)
    redis_backed = rate_limiter_for(REDIS_URL, db_sessions)
    assert isinstance(redis_backed, RedisRateLimiter)
    redis_backed.close()


def test_the_app_builds_its_limiter_from_config(base_config, engine):
    from app.extensions import Runtime

    for redis_url, kind in ((None, DbRateLimiter), (REDIS_URL, RedisRateLimiter)):
        runtime = Runtime.build(base_config.replace(redis_url=redis_url), engine)
        assert isinstance(runtime.rate_limiter, kind)
        runtime.close()


def test_keys_are_keyed_digests_never_the_subject(app):
    from app.rate_limit import limit_key

    with app.test_request_context():
        key = limit_key("citizen_sign_in:account", "S1234567D")
        assert key.startswith("citizen_sign_in:account:") and "S1234567D" not in key
        assert key != limit_key("citizen_sign_in:ip", "S1234567D")
        assert len(key) <= 200


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "127.0.0.1"),  # no proxy trusted: the header is the client's to forge
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        (2, "203.0.113.9", "127.0.0.1"),  # fewer hops than configured: fall back to the peer
    ],
)
def test_client_address_trusts_only_the_configured_proxies(app, hops, forwarded, expected):
    from app.rate_limit import client_address

    app.extensions["consentry"].config = app.extensions["consentry"].config.replace(trusted_proxy_hops=hops)
    headers = {"X-Forwarded-For": forwarded}
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        assert client_address() == expected
