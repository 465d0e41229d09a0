"""The one way this code base connects to Redis (shared replay caches and rate limits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

# Short timeouts: both users fail closed, so a stuck Redis must refuse requests quickly, not hang them.
TIMEOUT_S = 2.0


def connect(url: str) -> redis.Redis:
    # Imported here so deployments without Redis need not install the client.
    import redis as redis_lib

    return redis_lib.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)


def unavailable_errors() -> tuple[type[Exception], ...]:
    """What redis-py raises when the server cannot be reached or does not answer in time (a
    refused or dropped connection, a timeout, a server still loading): the request cannot be
    served now, but may be shortly. Empty when the client is not installed."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return ()
    return (RedisConnectionError, RedisTimeoutError)
