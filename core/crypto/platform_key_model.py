"""The platform's own JOSE keys (table `platform_keys`): what signs our access tokens and person
data, what clients may encrypt to, and what signs consent receipts.

The private JWK is never stored in the clear: `private_jwk_wrapped` is an AES-GCM envelope made by
`MasterKeyring.wrap` under the master key named in `wrapping_kid`, with the platform kid bound as
associated data so a blob copied onto another row fails to open. Service code lives in
`core.crypto.platform_keys`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime


class PlatformKey(Base):
    """One key pair. Published while not `retired` and `retire_at` is unset or still ahead;
    the active key of a `use` is the newest published one whose `retire_at` is unset."""

    __tablename__ = "platform_keys"
    __table_args__ = (Index("ix_platform_keys_use_activated_at", "use", "activated_at"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    use: Mapped[str] = mapped_column(String(8))  # "sig" | "enc" | "receipt"
    alg: Mapped[str] = mapped_column(String(32))  # "ES256" | "ECDH-ES+A256KW" | "Ed25519"
    wrapping_kid: Mapped[str] = mapped_column(String(64))  # master key that wrapped the private JWK
    private_jwk_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    retire_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
