"""Streaming export of the log (JSON Lines) in the format `audit.verifier` checks offline."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditEntry

FORMAT = "consentry-audit-export/1"


def export_lines(
    session: Session, *, log_id: str, first_seq: int = 0, upto: int | None = None, batch_size: int = 5000
) -> Iterator[str]:
    """Header then one line per entry from `first_seq` up to (not including) `upto`, each ending in
    a newline. Reads in keyset batches so millions of rows stream in constant memory."""
    end = upto if upto is not None else (session.scalar(select(func.max(AuditEntry.seq))) or -1) + 1
    count = max(0, end - first_seq)
    yield json.dumps({"format": FORMAT, "log_id": log_id, "first_seq": first_seq, "count": count}) + "\n"
    last = first_seq - 1
    while last + 1 < end:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.body, AuditEntry.leaf_hash, AuditEntry.chain_hash)
            .where(AuditEntry.seq > last, AuditEntry.seq < end)
            .order_by(AuditEntry.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        for seq, body, leaf, chain in rows:
            # The body is already canonical JSON: splice it in rather than re-serialise it.
            yield f'{{"seq":{seq},"body":{body},"leaf_hash":"{leaf.hex()}","chain_hash":"{chain.hex()}"}}\n'
        last = rows[-1][0]
