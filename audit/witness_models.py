"""What the platform keeps of witnessing: the cosignatures witnesses returned for our checkpoints,
and the refusals that are alarms (a witness saying a checkpoint is not consistent with what it
cosigned before). Both hold checkpoint sizes and witness names only, nothing about people."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditCosignature(Base):
    """One witness's cosignature (c2sp.org/tlog-cosignature) of one checkpoint: the note signature
    line's last field, served with the checkpoint on /log/checkpoint."""

    __tablename__ = "audit_cosignatures"

    tree_size: Mapped[int] = mapped_column(
        BIGINT, ForeignKey("audit_checkpoints.tree_size"), primary_key=True, autoincrement=False
    )
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    # base64(key ID || timestamp || Ed25519 signature): 76 bytes, 104 characters.
    signature: Mapped[str] = mapped_column(String(200))
    cosigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditWitnessRefusal(Base):
    """A witness refused a checkpoint as inconsistent with one it cosigned (HTTP 422, or 409 at
    the same size or with a larger size than ours): an alarm for the operators."""

    __tablename__ = "audit_witness_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    witness: Mapped[str] = mapped_column(String(255), index=True)
    tree_size: Mapped[int] = mapped_column(BIGINT)
    witness_size: Mapped[int | None] = mapped_column(BIGINT)
    status: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
