"""Proof bundles: one audit entry with its RFC 9162 inclusion proof against the latest signed
checkpoint, that checkpoint and the audit public key, for checking offline with
`python -m audit.verifier --bundle FILE` (format and checks: audit/proof_check.py).

When witnesses cosign our checkpoints, the bundle is made against the newest checkpoint covering
the entry that a quorum of the configured witnesses validly cosigned (else the latest), and it
carries `checkpoint_note`: that checkpoint's signed note with its cosignatures, which
`--log-key/--witness/--quorum` check (audit/witness_verify.py).

Reads only, inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound

from .checkpoint_signing import key_id, public_key_pem
from .checkpointer import CheckpointPolicy, log_progress
from .cosigned import cosigned_note
from .integrator import Pending, leaf_index
from .models import AuditCheckpoint, AuditEntry
from .proof_check import FORMAT, Verdict, check_bundle, check_bundle_json
from .search import DISCLOSURE_KINDS
from .tree import latest_checkpoint, prove_inclusion
from .witness_format import check_quorum
from .witness_models import AuditCosignature
from .witness_verify import WitnessPolicy, check_bundle_witnessed

__all__ = [
    "FORMAT", "EntryProof", "NotYetSigned", "Verdict", "bundle_for", "check_bundle", "check_bundle_json",
    "citizen_entry_proof",
]  # fmt: skip

CANDIDATES = 20  # the newest cosigned sizes tried for a quorum, as audit verify does


class NotYetSigned(Conflict):
    """The entry is in the log but no signed checkpoint covers it yet."""


def bundle_for(
    session: Session,
    *,
    seq: int,
    public_key: Ed25519PublicKey,
    log_id: str,
    checkpoint: AuditCheckpoint | None = None,
    witnesses: WitnessPolicy | None = None,
) -> dict[str, Any]:
    """The proof bundle of entry `seq` against `checkpoint` (default: the newest checkpoint that
    covers it and that a quorum of `witnesses` cosigned, else the latest). Raises NotFound
    for an entry that does not exist and NotYetSigned when the checkpoint does not cover it (or
    the entry is still queued for the tree: AUDIT_INTEGRATION=batched)."""
    entry = _entry(session, seq)
    try:
        index = leaf_index(session, seq)
    except Pending:
        raise NotYetSigned("the audit entry is being added to the log's tree") from None
    checkpoint = checkpoint or _covering(session, index, witnesses)
    if checkpoint is None or index >= checkpoint.tree_size:
        raise NotYetSigned("no signed checkpoint covers this audit entry yet")
    return _bundle(session, entry, checkpoint, public_key=public_key, log_id=log_id)


def _covering(session: Session, index: int, witnesses: WitnessPolicy | None) -> AuditCheckpoint | None:
    """The newest witnessed checkpoint covering leaf `index`, else the latest. Witnessed means
    what the verifier will check: a quorum of the configured witness keys validly cosigned it
    (a cosignature row alone, by any witness, says nothing). No witnesses configured: the latest."""
    latest = latest_checkpoint(session)
    if witnesses is None or witnesses.quorum <= 0:
        return latest
    sizes = session.scalars(
        select(AuditCosignature.tree_size)
        .where(AuditCosignature.tree_size > index)
        .group_by(AuditCosignature.tree_size)
        .having(func.count() >= witnesses.quorum)
        .order_by(AuditCosignature.tree_size.desc())
        .limit(CANDIDATES)
    )
    for size in sizes:
        checkpoint = session.get(AuditCheckpoint, size)
        text = cosigned_note(session, checkpoint) if checkpoint is not None else None
        if text is not None and _has_quorum(text, witnesses):
            return checkpoint
    return latest


def _has_quorum(text: str, witnesses: WitnessPolicy) -> bool:
    try:
        check_quorum(
            text, log_vkey=witnesses.log_vkey, witness_vkeys=witnesses.witness_vkeys, quorum=witnesses.quorum
        )
    except ValueError:
        return False
    return True


def _entry(session: Session, seq: int) -> AuditEntry:
    entry = session.get(AuditEntry, seq)
    if entry is None:
        raise NotFound("no such audit entry")
    return entry


def _bundle(
    session: Session,
    entry: AuditEntry,
    checkpoint: AuditCheckpoint,
    *,
    public_key: Ed25519PublicKey,
    log_id: str,
) -> dict[str, Any]:
    proof = prove_inclusion(session, seq=entry.seq, size=checkpoint.tree_size)
    bundle = {
        "format": FORMAT,
        "log_id": log_id,
        "entry": {"seq": entry.seq, "body": json.loads(entry.body), "leaf_hash": entry.leaf_hash.hex()},
        "proof": {
            "leaf_index": proof["leaf_index"],
            "tree_size": proof["tree_size"],
            "audit_path": proof["audit_path"],
            "root_hash": proof["root_hash"],
        },
        "checkpoint": {"body": json.loads(checkpoint.body), "signature": checkpoint.signature},
        "public_key": {"key_id": key_id(public_key), "pem": public_key_pem(public_key).decode("ascii")},
    }
    if (text := cosigned_note(session, checkpoint)) is not None:
        bundle["checkpoint_note"] = text
    return bundle


@dataclass(frozen=True)
class EntryProof:
    """A citizen's audit entry and where it stands: under a signed checkpoint (`bundle`, and the
    `verdict` of checking it with the platform's key), or not yet (`next_due`: when the next
    checkpoint is due)."""

    seq: int
    kind: str
    recorded_at: dt.datetime
    bundle: dict[str, Any] | None
    verdict: Verdict | None
    signed_at: dt.datetime | None
    tree_size: int | None
    next_due: dt.datetime | None
    # With a witness policy: (ok, reason) of checking the checkpoint's cosignatures; else None.
    witnessed: tuple[bool, str] | None = None
    # Queued for the log's tree (AUDIT_INTEGRATION=batched): in the tree within moments.
    integrating: bool = False


def citizen_entry_proof(
    session: Session,
    *,
    seq: int,
    citizen_ref: str,
    public_key: Ed25519PublicKey,
    log_id: str,
    policy: CheckpointPolicy,
    now: dt.datetime,
    witnesses: WitnessPolicy | None = None,
) -> EntryProof:
    """Entry `seq` of the citizen whose keyed digest is `citizen_ref` (one of their history's
    kinds), with its proof bundle checked here against `public_key`, or when the next checkpoint
    is due if none covers it yet; with `witnesses`, also whether a quorum of them cosigned that
    checkpoint (`witnessed`). Raises NotFound for an entry that is not this citizen's."""
    try:
        entry = _entry(session, seq)
    except NotFound:
        entry = None
    if entry is None or entry.citizen_ref != citizen_ref or entry.kind not in DISCLOSURE_KINDS:
        raise NotFound("You have no record with this number.")
    try:
        index = leaf_index(session, seq)
    except Pending:  # queued for the tree (AUDIT_INTEGRATION=batched): signed soon after
        index = None
    checkpoint = None if index is None else _covering(session, index, witnesses)
    if index is None or checkpoint is None or index >= checkpoint.tree_size:
        due = log_progress(session).next_due(policy, now) or now
        return EntryProof(
            seq, entry.kind, entry.recorded_at, None, None, None, None, due, integrating=index is None
        )
    bundle = _bundle(session, entry, checkpoint, public_key=public_key, log_id=log_id)
    verdict = check_bundle(bundle, trusted_key=public_key)
    witnessed = check_bundle_witnessed(bundle, witnesses) if witnesses is not None else None
    signed_at, size = checkpoint.created_at, checkpoint.tree_size
    return EntryProof(seq, entry.kind, entry.recorded_at, bundle, verdict, signed_at, size, None, witnessed)
