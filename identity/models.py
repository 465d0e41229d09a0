"""Citizen sign-in credentials (table `citizen_accounts`), one row per citizen who can sign in.

The TOTP secret is wrapped by the master keyring (`core.crypto.keyring`) with the citizen's id as
associated data, so a secret copied to another citizen's row, or a row read without the master
key, reveals nothing. `last_totp_step` is the 30-second step of the last code accepted: no code
works twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

# 64-bit on PostgreSQL; SQLite's INTEGER is already 64-bit.
BIGINT = BigInteger().with_variant(Integer, "sqlite")


class CitizenAccount(Base):
    __tablename__ = "citizen_accounts"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Which master key wrapped the TOTP secret, and the wrapped secret (nonce + AES-GCM ciphertext).
    totp_kid: Mapped[str] = mapped_column(String(64))
    totp_secret_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    last_totp_step: Mapped[int | None] = mapped_column(BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
