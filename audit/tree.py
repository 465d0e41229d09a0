"""The log's tree: its size, signed checkpoints and the RFC 9162 proofs, read from the stored
nodes. Every function runs inside the caller's transaction and never commits."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationFailed

from . import integrator
from .canonical import canonical_json
from .merkle import consistency_proof, inclusion_proof, root
from .models import AuditCheckpoint, AuditEntry, AuditHead, AuditTreeNode
from .note import checkpoint_body as checkpoint_note_body
from .note import note_text
from .signer import AuditSigner

_NODES = AuditTreeNode.__table__
_NODE_HASH = select(_NODES.c.hash).where(
    _NODES.c.level == bindparam("level"), _NODES.c.index == bindparam("index")
)


class DbNodeStore:
    """merkle.NodeStore over `audit_tree_nodes` (read only: appends write their nodes
    themselves), with the nodes read cached."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self._cache: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes | None:
        key = (level, index)
        if key not in self._cache:
            node_hash = self.connection.execute(_NODE_HASH, {"level": level, "index": index}).scalar()
            if node_hash is None:
                return None
            self._cache[key] = node_hash
        return self._cache[key]


def tree_size(session: Session) -> int:
    return session.scalar(select(AuditHead.next_seq).where(AuditHead.id == 1)) or 0


def create_checkpoint(session: Session, *, signer: AuditSigner, now: dt.datetime) -> AuditCheckpoint | None:
    """Sign the current tree head (None if the log is empty or that size is already signed)."""
    head = session.execute(
        select(AuditHead.next_seq, AuditHead.chain_head).where(AuditHead.id == 1)
    ).one_or_none()
    size = head.next_seq if head else 0
    if size == 0 or session.get(AuditCheckpoint, size) is not None:
        return None
    body = {
        "log_id": signer.log_id,
        "tree_size": size,
        "root_hash": root(DbNodeStore(session), size).hex(),
        "chain_head": head.chain_head.hex(),
        "timestamp": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": signer.key_id,
    }
    signed = signer.sign(body)
    root_hash = bytes.fromhex(body["root_hash"])
    note_body = checkpoint_note_body(signer.note_origin, size, root_hash)
    checkpoint = AuditCheckpoint(
        tree_size=size,
        created_at=now,
        key_id=signer.key_id,
        body=canonical_json(body).decode(),
        signature=signed["signature"],
        note_origin=signer.note_origin,
        note_signature=signer.sign_note(note_body),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_note(checkpoint: AuditCheckpoint) -> str | None:
    """The checkpoint as a C2SP signed note, or None for one signed before notes were."""
    if checkpoint.note_origin is None or checkpoint.note_signature is None:
        return None
    root_hash = bytes.fromhex(json.loads(checkpoint.body)["root_hash"])
    body = checkpoint_note_body(checkpoint.note_origin, checkpoint.tree_size, root_hash)
    return note_text(body, checkpoint.note_origin, checkpoint.note_signature)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def get_checkpoint(session: Session, size: int) -> AuditCheckpoint:
    checkpoint = session.get(AuditCheckpoint, size)
    if checkpoint is None:
        raise NotFound("no checkpoint at that tree size")
    return checkpoint


def checkpoints(session: Session) -> Iterable[AuditCheckpoint]:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size))


def prove_inclusion(session: Session, *, seq: int, size: int) -> dict[str, Any]:
    """Inclusion proof (RFC 9162 2.1.3) of entry `seq` in the tree of `size` entries. Raises
    NotFound for no such entry, integrator.Pending for one not yet in the tree."""
    index = integrator.leaf_index(session, seq)
    if not 0 <= index < size <= tree_size(session):
        raise ValidationFailed("entry is not inside that tree size", {"tree_size": [str(size)]})
    entry = session.get(AuditEntry, seq)
    store = DbNodeStore(session)
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": entry.leaf_hash.hex(),
        "audit_path": [h.hex() for h in inclusion_proof(store, index, size)],
        "root_hash": root(store, size).hex(),
    }


def prove_consistency(session: Session, *, first: int, second: int) -> dict[str, Any]:
    """Consistency proof (RFC 9162 2.1.4) between two tree sizes."""
    if not 0 < first <= second <= tree_size(session):
        raise ValidationFailed(
            "need 0 < first <= second <= tree size", {"first": [str(first)], "second": [str(second)]}
        )
    store = DbNodeStore(session)
    return {
        "first": first,
        "second": second,
        "first_root": root(store, first).hex(),
        "second_root": root(store, second).hex(),
        "consistency_path": [h.hex() for h in consistency_proof(store, first, second)],
    }
