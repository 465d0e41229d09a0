"""Offline witness checks for `python -m audit.verifier`: a checkpoint trusted only when a quorum of
the witnesses the verifier chose cosigned it (c2sp.org/tlog-cosignature), so a platform showing
different people different logs (a split view) or rewriting its log after the fact is caught.

- A proof bundle's `checkpoint_note` (the signed note of the bundle's checkpoint with the
  cosignatures we hold for it) must verify with the log's note key, carry a quorum, and name the
  bundle's tree size and root.
- An export is checked against a cosigned note kept by the auditor (or the witness): the export
  must reach the witnessed size and its leaves must give the cosigned root there, so a log
  rewritten or rolled back below that size fails even if every checkpoint of ours was re-signed.

Needs only the standard library and `cryptography`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .merkle import StreamingRoot
from .note import split_note, verify_note
from .witness_format import Witnessed, check_quorum, cosignatures_by, parse_cosigner_vkey


@dataclass(frozen=True)
class WitnessPolicy:
    """Whom the verifier trusts: the log's note verifier key and the witness keys, of which at
    least `quorum` must have cosigned."""

    log_vkey: str
    witness_vkeys: Sequence[str]
    quorum: int


def check_bundle_witnessed(bundle: Any, policy: WitnessPolicy) -> tuple[bool, str]:
    """(ok, one line saying why) for a proof bundle's cosigned checkpoint note."""
    text = bundle.get("checkpoint_note") if isinstance(bundle, dict) else None
    if not isinstance(text, str):
        return False, "the bundle carries no cosigned checkpoint note (made before witnessing?)"
    try:
        witnessed = _quorum(text, policy)
        proof = bundle["proof"]
        size, root = proof["tree_size"], bytes.fromhex(proof["root_hash"])
    except (ValueError, KeyError, TypeError) as exc:
        return False, f"witnessed checkpoint: {exc}"
    cp = witnessed.checkpoint
    if cp.tree_size != size or cp.root_hash != root:
        return False, "the cosigned checkpoint is not the tree the inclusion proof leads to"
    return True, f"checkpoint cosigned by {_names(witnessed)}"


def bundle_cosigners(bundle: Any, policy: WitnessPolicy) -> int:
    """How many of the policy's witnesses validly cosigned the bundle's checkpoint note, quorum or
    not (so a page can say "1 of 2 so far"). Whether that is enough, and why not, is
    check_bundle_witnessed's."""
    text = bundle.get("checkpoint_note") if isinstance(bundle, dict) else None
    return note_cosigners(text, policy.log_vkey, policy.witness_vkeys) if isinstance(text, str) else 0


def note_cosigners(text: str, log_vkey: str, witness_vkeys: Sequence[str]) -> int:
    """How many of `witness_vkeys` validly cosigned the checkpoint note `text`: 0 when the note
    is not signed by the log key `log_vkey` or a key is malformed."""
    try:
        keys = [parse_cosigner_vkey(v) for v in witness_vkeys]
        body = verify_note(text, log_vkey)
        _, lines = split_note(text)
    except ValueError:
        return 0
    return len(cosignatures_by(body, lines, keys))


def check_export_witnessed(export_lines: Iterable[str], text: str, policy: WitnessPolicy) -> tuple[bool, str]:
    """(ok, why) for a full export (from seq 0; already verified on its own) against a cosigned
    note: the root of its first N leaves, N the witnessed size, must be the cosigned root."""
    try:
        witnessed = _quorum(text, policy)
    except ValueError as exc:
        return False, f"witnessed checkpoint: {exc}"
    size, stream = witnessed.checkpoint.tree_size, StreamingRoot()
    lines = iter(export_lines)
    header = json.loads(next(lines, "{}"))
    if header.get("first_seq") != 0:
        return False, "a witnessed size is checked against a full export (from seq 0) only"
    for line in lines:
        if stream.size == size or not line.strip():
            break
        stream.add(bytes.fromhex(json.loads(line)["leaf_hash"]))
    if stream.size < size:
        return False, f"rolled back: witnesses cosigned {size} entries, the export has {stream.size}"
    if stream.root() != witnessed.checkpoint.root_hash:
        return False, f"rewritten: the export's root at the witnessed size {size} is not the cosigned root"
    return True, f"the export holds the witnessed tree of size {size} (cosigned by {_names(witnessed)})"


def _quorum(text: str, policy: WitnessPolicy) -> Witnessed:
    return check_quorum(
        text, log_vkey=policy.log_vkey, witness_vkeys=policy.witness_vkeys, quorum=policy.quorum
    )


def _names(witnessed: Witnessed) -> str:
    return ", ".join(sorted(witnessed.cosigners)) or "no witness (quorum 0)"
