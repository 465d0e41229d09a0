"""Verifying the stored log: recompute every leaf hash, the chain, the Merkle root at every
checkpoint, and every checkpoint signature. Streams in seq order with constant memory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from .canonical import canonical_json
from .checkpoint_signing import verify_checkpoint
from .merkle import StreamingRoot, chain_next, leaf_hash
from .models import AuditCheckpoint, AuditEntry, AuditHead

ZERO = bytes(32)


@dataclass
class Finding:
    seq: int | None
    problem: str
    expected: str = ""
    found: str = ""

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        detail = f" (expected {self.expected}, found {self.found})" if self.expected or self.found else ""
        return f"{where}: {self.problem}{detail}"


@dataclass
class LogReport:
    entries: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def verify_log(
    session: Session,
    *,
    public_key: Ed25519PublicKey,
    batch_size: int = 5000,
    on_progress: Callable[[int], None] | None = None,
) -> LogReport:
    """Check the whole log; stops at the first finding (later positions depend on it)."""
    report = LogReport()
    pending = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))
    stream, chain, expected_seq = StreamingRoot(), ZERO, 0
    for entry in _entries(session, batch_size):
        if finding := _check_entry(entry, expected_seq, chain):
            report.findings.append(finding)
            return report
        chain = entry.chain_hash
        stream.add(entry.leaf_hash)
        expected_seq += 1
        report.entries = expected_seq
        while pending and pending[0].tree_size == expected_seq:
            if finding := _check_checkpoint(pending.pop(0), stream.root(), chain, public_key):
                report.findings.append(finding)
                return report
            report.checkpoints += 1
        if on_progress and expected_seq % batch_size == 0:
            on_progress(expected_seq)
    head = session.execute(
        select(AuditHead.next_seq, AuditHead.chain_head, AuditHead.frontier).where(AuditHead.id == 1)
    ).one_or_none()
    if head is not None and head.next_seq != expected_seq:
        report.findings.append(
            Finding(
                expected_seq,
                "truncated: entries missing at the end of the log",
                f"{head.next_seq} entries",
                f"{expected_seq} entries",
            )
        )
    elif pending:
        report.findings.append(
            Finding(
                expected_seq,
                "checkpoint beyond the end of the log",
                f"{pending[0].tree_size} entries",
                f"{expected_seq} entries",
            )
        )
    elif head is not None and head.chain_head != chain:
        report.findings.append(
            Finding(None, "head chain hash differs from the last entry", chain.hex(), head.chain_head.hex())
        )
    elif head is not None and head.frontier != stream.frontier:
        # The next append builds its tree nodes from the frontier: a wrong one would fork the tree.
        report.findings.append(
            Finding(
                None,
                "head Merkle frontier differs from the log's tree",
                stream.frontier.hex(),
                head.frontier.hex(),
            )
        )
    return report


def _entries(session: Session, batch_size: int) -> Iterator[AuditEntry]:
    last = -1
    while True:
        batch = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        session.expunge_all()


def _check_entry(entry: AuditEntry, expected_seq: int, prev_chain: bytes) -> Finding | None:
    if entry.seq != expected_seq:
        problem = "gap: entries missing" if entry.seq > expected_seq else "out of order"
        return Finding(expected_seq, problem, f"seq {expected_seq}", f"seq {entry.seq}")
    raw = entry.body.encode()
    try:
        body = json.loads(raw)
        canonical = canonical_json(body)
    except ValueError:
        return Finding(entry.seq, "body is not valid canonical JSON")
    if canonical != raw or body.get("seq") != entry.seq:
        return Finding(entry.seq, "body is not in canonical form or names another seq")
    recomputed = leaf_hash(raw)
    if recomputed != entry.leaf_hash:
        return Finding(
            entry.seq, "leaf hash mismatch (entry altered)", recomputed.hex(), entry.leaf_hash.hex()
        )
    chain = chain_next(prev_chain, recomputed)
    if chain != entry.chain_hash:
        return Finding(entry.seq, "chain hash mismatch", chain.hex(), entry.chain_hash.hex())
    return None


def _check_checkpoint(
    checkpoint: AuditCheckpoint, root: bytes, chain: bytes, public_key: Ed25519PublicKey
) -> Finding | None:
    body = json.loads(checkpoint.body)
    size = checkpoint.tree_size
    if not verify_checkpoint(public_key, {"body": body, "signature": checkpoint.signature}):
        return Finding(size - 1, f"checkpoint at size {size}: signature invalid (forged or swapped)")
    if body.get("tree_size") != size:
        return Finding(
            size - 1,
            f"checkpoint at size {size}: signed for another size",
            str(size),
            str(body.get("tree_size")),
        )
    if body.get("root_hash") != root.hex():
        return Finding(
            size - 1, f"checkpoint at size {size}: root mismatch", root.hex(), str(body.get("root_hash"))
        )
    if body.get("chain_head") != chain.hex():
        return Finding(
            size - 1,
            f"checkpoint at size {size}: chain head mismatch",
            chain.hex(),
            str(body.get("chain_head")),
        )
    return None
