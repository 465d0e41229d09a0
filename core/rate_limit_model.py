"""Fixed-window hit counters (table `rate_limit_counters`) for the database rate limiter.

A row counts the hits on one key in one window: `window_s` seconds long, starting at
`window_start` (Unix seconds). The primary key
lets INSERT ... ON CONFLICT DO UPDATE count atomically without locks of our own; rows of windows
that have ended (`expires_at`) are swept. Keys are keyed digests, never a national id or an
address in clear. Used by `core.rate_limit.DbRateLimiter`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

# 64-bit on PostgreSQL; SQLite's INTEGER is already 64-bit.
BIGINT = BigInteger().with_variant(Integer, "sqlite")
MAX_KEY = 200


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    window_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
