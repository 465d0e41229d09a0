"""Rate limits shared by every app-server process: fixed-window counters, in Redis when one is
configured, in the database otherwise.

`check(key, limit, window)` counts one hit on `key` in the current window of `window` seconds
(windows start at multiples of `window` since the Unix epoch) and allows it while the window holds
at most `limit` hits. Counting is atomic in both stores: of any number of concurrent callers on
one key, exactly `limit` are allowed per window. A fixed window lets up to twice `limit` through
across a window boundary; that is the price of one counter per key instead of a log of hits.

Both stores fail closed: when the store is unreachable the error propagates and the request is
refused (an outage must not open the door to password guessing). No HTTP here; app/rate_limit.py
turns a refusal into a 429 page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import redis_client
from core.clock import utcnow
from core.driver_sql import DriverStatement
from core.errors import DomainError
from core.periodic import AtMostEvery
from core.rate_limit_model import MAX_KEY, RateLimitCounter

if TYPE_CHECKING:
    import redis

SWEEP_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed or not, the window's hits so far (this one included), and
    the seconds until the window ends (when a refused caller may try again)."""

    allowed: bool
    hits: int
    limit: int
    retry_after: int


class RateLimited(DomainError):
    """Too many hits on one key; `retry_after` seconds until the window ends."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter(Protocol):
    def check(self, key: str, limit: int, window: int) -> Decision:
        """Count one hit on `key` in the current `window`-second window; allowed while the
        window's hits are at most `limit`. Atomic across threads and processes."""
        ...

    def reset(self, key: str, window: int) -> None:
        """Forget the hits on `key` in the current window (a successful sign-in clears the
        account's earlier failures)."""
        ...

    def peek(self, key: str, limit: int, window: int) -> Decision:
        """The current window's hits on `key`, counting none: allowed while one more hit would
        be within `limit` (for limits that count only failures, checked before the attempt)."""
        ...

    def check_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        """`check` in the caller's transaction, which must commit whatever becomes of the request
        (the token call counts its hit with its client assertion's jti: one commit for both).
        Redis counts at once."""
        ...

    def peek_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        """`peek` in the caller's transaction."""
        ...


def _window(now: dt.datetime, window: int) -> tuple[int, int]:
    start = math.floor(now.timestamp()) // window * window
    return start, start + window


def _decision(hits: int, limit: int, end: int, now: dt.datetime) -> Decision:
    return Decision(hits <= limit, hits, limit, max(1, math.ceil(end - now.timestamp())))


def _peeked(hits: int, limit: int, end: int, now: dt.datetime) -> Decision:
    return Decision(hits < limit, hits, limit, max(1, math.ceil(end - now.timestamp())))


def _validate(key: str, limit: int, window: int) -> None:
    if not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"rate-limit key must be 1 to {MAX_KEY} characters")
    if limit < 1 or window < 1:
        raise ValueError("rate-limit limit and window must be positive")


class DbRateLimiter:
    """Counters in table `rate_limit_counters`, counted by one INSERT ... ON CONFLICT DO UPDATE
    ... RETURNING (PostgreSQL, and SQLite 3.35 or later).

    Each call commits in its OWN short transaction from `sessions`, never the caller's: a hit must
    stay counted when the request that made it fails and rolls back. Rows of ended windows are
    swept at most once per `sweep_interval`, by whichever call comes first.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        sweep_interval: dt.timedelta = SWEEP_INTERVAL,
    ) -> None:
        self.sessions = sessions
        self._clock = clock
        self._sweeps = AtMostEvery(sweep_interval)

    def check(self, key: str, limit: int, window: int) -> Decision:
        with self.sessions() as session:
            decision = self.check_in(session, key, limit, window)
            session.commit()
        return decision

    def check_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        _validate(key, limit, window)
        now = self._clock()
        # Non-blocking: one thread sweeps, the others carry on counting. Not while the caller's
        # transaction is open: on SQLite it may hold the write lock the sweep's session waits for.
        if not session.in_transaction():
            self._sweeps.run(now, lambda: self._sweep(now))
        start, end = _window(now, window)
        expires_at = dt.datetime.fromtimestamp(end, dt.UTC)
        row = {"key": key, "window_s": window, "window_start": start, "hits": 1, "expires_at": expires_at}
        (hits,) = _count_hit(session).rows(session.connection(), row)[0]
        return _decision(hits, limit, end, now)

    def reset(self, key: str, window: int) -> None:
        start, _ = _window(self._clock(), window)
        with self.sessions() as session:
            session.execute(
                delete(RateLimitCounter).where(
                    RateLimitCounter.key == key,
                    RateLimitCounter.window_s == window,
                    RateLimitCounter.window_start == start,
                )
            )
            session.commit()

    def peek(self, key: str, limit: int, window: int) -> Decision:
        with self.sessions() as session:
            return self.peek_in(session, key, limit, window)

    def peek_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        _validate(key, limit, window)
        now = self._clock()
        if not session.in_transaction():  # as in check_in
            self._sweeps.run(now, lambda: self._sweep(now))
        start, end = _window(now, window)
        found = _PEEK.first(session.connection(), {"k": key, "w": window, "s": start})
        return _peeked(found[0] if found else 0, limit, end, now)

    def _sweep(self, now: dt.datetime) -> None:
        with self.sessions() as session:
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now))
            session.commit()


_COUNTERS = RateLimitCounter.__table__
# Built once, with bound parameters: building them per hit cost more than running them (every
# token and PAR call counts a hit and peeks at another counter).
_PEEK = DriverStatement(
    select(_COUNTERS.c.hits).where(
        _COUNTERS.c.key == bindparam("k"),
        _COUNTERS.c.window_s == bindparam("w"),
        _COUNTERS.c.window_start == bindparam("s"),
    )
)
_COUNT_HIT = {
    dialect: DriverStatement(
        insert(_COUNTERS)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.key, _COUNTERS.c.window_s, _COUNTERS.c.window_start],
            set_={"hits": _COUNTERS.c.hits + 1},
        )
        .returning(_COUNTERS.c.hits)
    )
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _count_hit(session: Session) -> DriverStatement:
    """One hit counted: INSERT ... ON CONFLICT DO UPDATE ... RETURNING hits, for the row's values."""
    dialect = session.get_bind().dialect.name
    if dialect not in _COUNT_HIT:
        raise NotImplementedError(f"the database rate limiter does not support {dialect}")
    return _COUNT_HIT[dialect]


class RedisRateLimiter:
    """Counters in Redis: INCR and EXPIREAT in one MULTI/EXEC, one Redis key per key and window,
    so a window's counter disappears by itself once the window has ended."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "consentry:rate:",
        clock: Callable[[], dt.datetime] = utcnow,
        client: redis.Redis | None = None,
    ) -> None:
        self._redis = client or redis_client.connect(url)
        self._prefix = prefix
        self._clock = clock

    def redis_key(self, key: str, window: int, start: int) -> str:
        # Window length and start come last and are all digits, so no two triples collide.
        return f"{self._prefix}{key}:{window}:{start}"

    def check(self, key: str, limit: int, window: int) -> Decision:
        _validate(key, limit, window)
        now = self._clock()
        start, end = _window(now, window)
        name = self.redis_key(key, window, start)
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expireat(name, end + 1)  # a second's grace for clocks a little behind ours
        hits, _ = pipe.execute()
        return _decision(int(hits), limit, end, now)

    def reset(self, key: str, window: int) -> None:
        start, _ = _window(self._clock(), window)
        self._redis.delete(self.redis_key(key, window, start))

    def peek(self, key: str, limit: int, window: int) -> Decision:
        _validate(key, limit, window)
        now = self._clock()
        start, end = _window(now, window)
        hits = self._redis.get(self.redis_key(key, window, start))
        return _peeked(int(hits or 0), limit, end, now)

    def check_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        return self.check(key, limit, window)

    def peek_in(self, session: Session, key: str, limit: int, window: int) -> Decision:
        return self.peek(key, limit, window)

    def close(self) -> None:
        self._redis.close()


def rate_limiter_for(redis_url: str | None, sessions: Callable[[], Session]) -> RateLimiter:
    """Redis when a URL is configured, else the database."""
    if redis_url:
        return RedisRateLimiter(redis_url)
    return DbRateLimiter(sessions)
