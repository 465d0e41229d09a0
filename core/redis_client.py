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
