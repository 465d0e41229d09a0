"""Streaming export of the log (JSON Lines) in the format `audit.verifier` checks offline."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditEntry, AuditHead, AuditLeaf

FORMAT = "consentry-audit-export/1"


def export_lines(
    session: Session, *, log_id: str, first_seq: int = 0, upto: int | None = None, batch_size: int = 5000
) -> Iterator[str]:
    """Header then one line per leaf from position `first_seq` up to (not including) `upto`, each
    ending in a newline. A line's seq is the leaf position: the entry's own seq, or for entries
    integrated in batches (from `audit_head.leaves_from` on) their audit_leaves position, with the
    chain hash from there. Reads in keyset batches so millions of rows stream in constant memory."""
    leaves_from = session.scalar(select(AuditHead.leaves_from).where(AuditHead.id == 1))
    if upto is not None:
        end = upto
    elif leaves_from is not None:
        end = session.scalar(select(AuditHead.next_seq).where(AuditHead.id == 1)) or 0
    else:
        end = (session.scalar(select(func.max(AuditEntry.seq))) or -1) + 1
    count = max(0, end - first_seq)
    yield json.dumps({"format": FORMAT, "log_id": log_id, "first_seq": first_seq, "count": count}) + "\n"
    at_seq = min(end, leaves_from) if leaves_from is not None else end
    position = select(AuditEntry.seq, AuditEntry.body, AuditEntry.leaf_hash, AuditEntry.chain_hash)
    yield from _lines(session, position, AuditEntry.seq, first_seq, at_seq, batch_size)
    placed = select(AuditLeaf.leaf_index, AuditEntry.body, AuditEntry.leaf_hash, AuditLeaf.chain_hash).join(
        AuditEntry, AuditEntry.seq == AuditLeaf.seq
    )
    yield from _lines(session, placed, AuditLeaf.leaf_index, max(first_seq, at_seq), end, batch_size)


def _lines(session: Session, query, position, first: int, end: int, batch_size: int) -> Iterator[str]:
    last = first - 1
    while last + 1 < end:
        rows = session.execute(
            query.where(position > last, position < end).order_by(position).limit(batch_size)
        ).all()
        if not rows:
            return
        for seq, body, leaf, chain in rows:
            # The body is already canonical JSON: splice it in rather than re-serialise it.
            yield f'{{"seq":{seq},"body":{body},"leaf_hash":"{leaf.hex()}","chain_hash":"{chain.hex()}"}}\n'
        last = rows[-1][0]
