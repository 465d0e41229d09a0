"""The audit log's tables. Entries, their attributes, tree nodes and checkpoints are append-only:
database triggers (migration 0003) reject UPDATE and DELETE on them.

`audit_head` is the single row that serialises appenders: each append locks it, takes the next
sequence number and the chain head, and moves both on, inside the caller's transaction. A rolled
back append therefore leaves no gap, and two appenders can never fork the chain.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_seq: Mapped[int] = mapped_column(BIGINT, default=0)
    chain_head: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The roots of the tree's perfect subtrees, largest first (merkle.frontier_append): what the
    # next append needs of the tree, so it reads no tree node.
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # NULL while every entry's leaf index is its seq; else the tree size from which entries are
    # named by id and placed by audit_leaves (audit/integrator.py, migration 0032). Set once.
    leaves_from: Mapped[int | None] = mapped_column(BIGINT, default=None)


class AuditEntry(Base):
    """One event. `body` is the canonical JSON (RFC 8785) that was hashed, byte for byte; the other
    columns copy searchable fields out of it so searches use indexes."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        # Searches filter by one of these and a time window, newest first, paging on (time, seq).
        Index("ix_audit_entries_citizen_time", "citizen_ref", "recorded_at", "seq"),
        Index("ix_audit_entries_app_time", "app_id", "recorded_at", "seq"),
        Index("ix_audit_entries_kind_time", "kind", "recorded_at", "seq"),
        Index("ix_audit_entries_time", "recorded_at", "seq"),
    )

    seq: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    citizen_ref: Mapped[str | None] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditEntryAttribute(Base):
    """Which attributes an entry names, for search by attribute."""

    __tablename__ = "audit_entry_attributes"
    __table_args__ = (Index("ix_audit_entry_attributes_attribute_seq", "attribute", "seq"),)

    seq: Mapped[int] = mapped_column(ForeignKey("audit_entries.seq"), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditTreeNode(Base):
    """Perfect-subtree hashes of the Merkle tree (level 0 = leaves), written as appends complete
    them, so roots and proofs take O(log n) lookups."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    index: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head: the root and chain head at `tree_size`, signed by the audit key."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    # The same tree head as a C2SP signed note (audit/note.py): the origin it was signed under and
    # base64(key hash || signature). NULL on checkpoints signed before migration 0022.
    note_origin: Mapped[str | None] = mapped_column(String(255))
    note_signature: Mapped[str | None] = mapped_column(String(200))


class AuditLeaf(Base):
    """Where an entry named by id sits in the tree (entries from `AuditHead.leaves_from` on):
    written by the integrator, or by an inline append once the log has such entries."""

    __tablename__ = "audit_leaves"

    leaf_index: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(ForeignKey("audit_entries.seq"), unique=True)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditQueued(Base):
    """An entry committed but not yet integrated (AUDIT_INTEGRATION=batched). The integrator
    deletes the row in the transaction that gives the entry its leaf; nothing else may."""

    __tablename__ = "audit_queue"

    seq: Mapped[int] = mapped_column(ForeignKey("audit_entries.seq"), primary_key=True, autoincrement=False)
