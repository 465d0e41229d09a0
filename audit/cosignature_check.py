"""The stored cosignatures (audit_cosignatures) checked against the witnesses' keys.

A cosignature row is a witness's signature over one of our checkpoint notes; nobody without the
witness's key can make one, so a changed row (another tree size, witness, signature or time) no
longer verifies, and `consentry audit verify` reports it by tree size and witness. What this
cannot see: a deleted row (the checkpoint then simply has fewer cosignatures; a cosigned note kept
elsewhere, `audit verify --witnessed`, still counts), `received_at` (our own clock, signed by
nobody), and rows by a witness that is not configured (counted, not checked). docs/audit.md,
"What verification covers".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditCheckpoint
from .note import NoteSignature, checkpoint_body
from .witness_format import CosignerKey, cosignature_time
from .witness_models import AuditCosignature

# base64 of key ID (4 bytes), timestamp (8) and Ed25519 signature (64).
_COSIGNATURE_BYTES = 76


@dataclass(frozen=True)
class CosignatureFinding:
    tree_size: int
    witness: str
    problem: str

    @property
    def where(self) -> str:
        return f"cosignature tree size {self.tree_size} witness {self.witness}"

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True)
class CosignatureReport:
    checked: int  # rows verified with a configured witness's key
    unchecked: int  # rows by witnesses that are not configured
    first: CosignatureFinding | None = None

    @property
    def ok(self) -> bool:
        return self.first is None


def verify_cosignatures(session: Session, keys: Sequence[CosignerKey]) -> CosignatureReport:
    """Check every stored cosignature by one of the witnesses `keys` name: it must verify with
    that witness's key over the note body of the checkpoint at its tree size, and `cosigned_at`
    must be the time it signed. A row naming no configured witness is only counted, unless it
    carries a configured witness's key ID (a row renamed away from its witness). Rows are read in
    (tree size, witness) order; the first bad one is reported. Reads only; run it after
    `verify_log` passed, which vouches for the checkpoints the notes are rebuilt from."""
    by_name = {key.name: key for key in keys}
    by_hash = {key.key_hash: key for key in keys}
    rows = session.execute(
        select(AuditCosignature, AuditCheckpoint.note_origin, AuditCheckpoint.body)
        .outerjoin(AuditCheckpoint, AuditCheckpoint.tree_size == AuditCosignature.tree_size)
        .order_by(AuditCosignature.tree_size, AuditCosignature.witness)
        .execution_options(yield_per=500)
    )
    checked = unchecked = 0
    try:  # a server-side cursor on PostgreSQL: closed even when a bad row ends the loop early
        for row, origin, body in rows:
            raw = _decode(row.signature)
            key = by_name.get(row.witness)
            if key is None:
                owner = by_hash.get(raw[:4]) if raw is not None else None
                if owner is None:
                    unchecked += 1
                    continue
                return _found(checked, unchecked, row, f"carries the key ID of witness {owner.name}")
            problem = _problem(row, key, raw, origin, body)
            if problem is not None:
                return _found(checked, unchecked, row, problem)
            checked += 1
    finally:
        rows.close()
    return CosignatureReport(checked, unchecked)


def _decode(signature: str) -> bytes | None:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _COSIGNATURE_BYTES else None


def _problem(
    row: AuditCosignature, key: CosignerKey, raw: bytes | None, origin: str | None, body: str | None
) -> str | None:
    if raw is None:
        return "not base64 of a key ID, a timestamp and a signature"
    if origin is None or body is None:
        return "no checkpoint with a signed note at this tree size"
    root_hash = bytes.fromhex(json.loads(body)["root_hash"])
    note_body = checkpoint_body(origin, row.tree_size, root_hash)
    timestamp = cosignature_time(NoteSignature(row.witness, raw[:4], raw[4:]), note_body, key)
    if timestamp is None:
        return "does not verify with the witness's key over this checkpoint"
    signed = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    if row.cosigned_at != signed:
        return f"cosigned_at is not the signed time (expected {signed:%Y-%m-%dT%H:%M:%SZ})"
    return None


def _found(checked: int, unchecked: int, row: AuditCosignature, problem: str) -> CosignatureReport:
    return CosignatureReport(checked, unchecked, CosignatureFinding(row.tree_size, row.witness, problem))
