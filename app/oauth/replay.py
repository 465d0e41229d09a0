"""One-time use of token ids (`jti`): DPoP proofs (RFC 9449 §11.1) and client assertions
(RFC 7523 §3, item 7) must each be accepted once only.

Two interchangeable stores: the database (the default; no extra moving part) and Redis (when
several app servers share load and the database should not take a write per request). Both are
atomic: of any number of concurrent callers with the same (namespace, jti), exactly one gets True.
Both fail closed: if the store is unreachable the error propagates and the request is refused.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from core import redis_client
from core.clock import utcnow
from core.driver_sql import DriverStatement
from core.periodic import AtMostEvery
from core.replay_model import ReplayJti

if TYPE_CHECKING:
    import redis

SWEEP_INTERVAL = dt.timedelta(minutes=1)
_JTIS = ReplayJti.__table__
_FIRST_USE_PG = DriverStatement(pg_insert(_JTIS).on_conflict_do_nothing().returning(_JTIS.c.jti))
_FIRST_USE_SQLITE = DriverStatement(sqlite_insert(_JTIS).on_conflict_do_nothing().returning(_JTIS.c.jti))


class ReplayCache(Protocol):
    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        """Record (namespace, jti) until `expires_at`: True the first time, False on any replay."""
        ...

    def first_use_in(self, session: Session, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        """first_use, recorded with what `session`'s transaction commits where the store is that
        database; a store of its own records at once."""
        ...


class DbReplayCache:
    """Replay cache in table `replay_jtis`: the primary key makes the first insert win.

    `first_use` commits in its OWN short transaction from `sessions`, never the caller's: a
    recorded jti must stay recorded even when the request that presented it later fails and
    rolls back. `first_use_in` records in the caller's transaction instead, for a caller that
    commits the jti with what it allowed and records it on its own if that fails
    (app.oauth.resource.PresentedProof). Expired rows are swept at most once per
    `sweep_interval`, by whichever call comes first. A jti whose row has expired but not yet
    been swept counts as a replay, which is safe: a token that old already fails its own time
    checks.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        sweep_interval: dt.timedelta = SWEEP_INTERVAL,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._sweeps = AtMostEvery(sweep_interval)

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        with self._sessions() as session:
            first = self.first_use_in(session, namespace, jti, expires_at)
            session.commit()
            return first

    def first_use_in(self, session: Session, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        """first_use in the caller's transaction, which commits it: the jti counts as recorded
        only once that transaction commits. For a use recorded together with what it allowed
        (a disclosure and its audit entry), one commit instead of two."""
        now = self._clock()
        # Non-blocking: one thread sweeps, the others carry on with their insert. Not while the
        # caller's transaction is open: on SQLite it may hold the write lock the sweep waits for.
        if not session.in_transaction():
            self._sweeps.run(now, lambda: self._sweep(now))
        # ON CONFLICT DO NOTHING RETURNING: a replay returns no row, not an exception to unwind.
        dialect = session.get_bind().dialect.name
        statement = _FIRST_USE_PG if dialect == "postgresql" else _FIRST_USE_SQLITE
        row = {"namespace": namespace, "jti": jti, "expires_at": expires_at}
        inserted = statement.first(session.connection(), row)
        return metrics.unless_replayed(inserted is not None, namespace)

    def _sweep(self, now: dt.datetime) -> None:
        with self._sessions() as session:
            session.execute(delete(ReplayJti).where(ReplayJti.expires_at < now))
            session.commit()


class RedisReplayCache:
    """Replay cache in Redis: `SET key 1 NX EXAT expires_at` is atomic and self-expiring."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "consentry:replay:",
        clock: Callable[[], dt.datetime] = utcnow,
        client: redis.Redis | None = None,
    ) -> None:
        self._redis = client or redis_client.connect(url)
        self._prefix = prefix
        self._clock = clock

    def key(self, namespace: str, jti: str) -> str:
        # Length-prefix the namespace so ("a:b", "c") and ("a", "b:c") never share a key.
        return f"{self._prefix}{len(namespace)}:{namespace}:{jti}"

    def first_use(self, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        # EXAT must lie ahead: a past instant would drop the key at once and let a replay through.
        floor = math.floor(self._clock().timestamp()) + 1
        exat = max(math.ceil(expires_at.timestamp()), floor)
        first = bool(self._redis.set(self.key(namespace, jti), b"1", nx=True, exat=exat))
        return metrics.unless_replayed(first, namespace)

    def first_use_in(self, session: Session, namespace: str, jti: str, expires_at: dt.datetime) -> bool:
        # Redis is not in the database's transaction: the jti is recorded now, and stays recorded.
        return self.first_use(namespace, jti, expires_at)

    def close(self) -> None:
        self._redis.close()


def replay_cache_for(config_redis_url: str | None, sessions: sessionmaker[Session]) -> ReplayCache:
    """Redis when a URL is configured, else the database."""
    if config_redis_url:
        return RedisReplayCache(config_redis_url)
    return DbReplayCache(sessions)
