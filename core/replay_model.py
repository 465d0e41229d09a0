"""Seen one-time token ids (table `replay_jtis`) for the database replay cache.

A row says "this `jti` was used in this `namespace`" until `expires_at`, after which the token it
came from is refused on its own timestamps and the row may be swept. The primary key makes the
first insert win, so the check is atomic without locks. Used by `app.oauth.replay.DbReplayCache`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class ReplayJti(Base):
    __tablename__ = "replay_jtis"

    namespace: Mapped[str] = mapped_column(String(150), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
