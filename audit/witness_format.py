"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`) and the
`add-checkpoint` request body (c2sp.org/tlog-witness): the formats both sides of witnessing use.

A cosignature is a signed-note signature line ``— <witness name> base64(key ID || timestamp ||
signature)``: the key ID is ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``, the timestamp a
big-endian u64 of POSIX seconds (at most 2**63 - 1), and the Ed25519 signature is over
``"cosignature/v1\\n" "time <timestamp>\\n"`` followed by the whole checkpoint note body. A witness
key is trusted as the verifier key string ``<name>+<key ID, 8 hex>+base64(0x04 || public key)``.

The request body is ``old <size>\\n``, up to 63 consistency-proof lines (one base64 hash each), an
empty line, then the checkpoint note. Needs only the standard library and `cryptography`, like the
offline verifier, which uses `check_quorum`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .note import (
    DECIMAL,
    Checkpoint,
    NoteSignature,
    parse_checkpoint,
    parse_typed_verifier_key,
    signature_line,
    split_note,
    typed_key_hash,
    typed_verifier_key,
    verify_note,
)

COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
MAX_PROOF_LINES = 63


@dataclass(frozen=True)
class CosignerKey:
    """A witness's Ed25519 cosignature/v1 key, as a verifier key string names it."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key)


def cosigner_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID of a cosignature/v1 key (signature type 0x04, not the note's 0x01)."""
    return typed_key_hash(name, COSIGNATURE_V1, public_key)


def cosigner_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string clients configure to trust this witness's cosignatures."""
    return typed_verifier_key(name, COSIGNATURE_V1, public_key)


def parse_cosigner_vkey(vkey: str) -> CosignerKey:
    """The key a cosignature/v1 verifier key string names. ValueError if malformed, not of type
    0x04, or if its key ID does not match its name and key."""
    return CosignerKey(*parse_typed_verifier_key(vkey, COSIGNATURE_V1))


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header line, timestamp line, then the checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp out of range")
    if body.count("\n") < 3 or not body.endswith("\n"):
        raise ValueError("a checkpoint body is at least three newline-terminated lines")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(private_key: Ed25519PrivateKey, name: str, body: str, timestamp: int) -> str:
    """The cosignature line (newline-terminated) of `name`'s key over checkpoint body `body`."""
    signature = private_key.sign(cosigned_message(body, timestamp))
    key_id = cosigner_key_hash(name, private_key.public_key())
    encoded = base64.b64encode(key_id + timestamp.to_bytes(8, "big") + signature).decode()
    return signature_line(name, encoded)


def cosignature_time(sig: NoteSignature, body: str, key: CosignerKey) -> int | None:
    """The timestamp of `sig` if it is a valid cosignature by `key` over `body`, else None."""
    if sig.key_name != key.name or sig.key_hash != key.key_hash or len(sig.signature) != 72:
        return None
    timestamp = int.from_bytes(sig.signature[:8], "big")
    try:
        key.public_key.verify(sig.signature[8:], cosigned_message(body, timestamp))
    except (InvalidSignature, ValueError):
        return None
    return timestamp


def cosignatures_by(body: str, lines: Sequence[NoteSignature], keys: Sequence[CosignerKey]) -> dict[str, int]:
    """Witness name -> cosignature time, for each key in `keys` with a valid cosignature among
    `lines` (lines by unknown keys are ignored, as the spec requires)."""
    found: dict[str, int] = {}
    for key in keys:
        for sig in lines:
            if (timestamp := cosignature_time(sig, body, key)) is not None:
                found[key.name] = max(timestamp, found.get(key.name, 0))
    return found


@dataclass(frozen=True)
class Witnessed:
    """A checkpoint whose log signature and a quorum of witness cosignatures checked out."""

    checkpoint: Checkpoint
    body: str
    cosigners: dict[str, int]  # witness name -> cosignature time


def check_quorum(text: str, *, log_vkey: str, witness_vkeys: Sequence[str], quorum: int) -> Witnessed:
    """Check a cosigned checkpoint note: signed by the log key `log_vkey` and cosigned by at least
    `quorum` of the witnesses `witness_vkeys` (distinct keys). ValueError saying what failed."""
    keys = [parse_cosigner_vkey(v) for v in witness_vkeys]
    if len({k.name for k in keys}) != len(keys):
        raise ValueError("two witness keys have the same name")
    if not 0 <= quorum <= len(keys):
        raise ValueError(f"quorum {quorum} is more than the {len(keys)} witness keys given")
    body = verify_note(text, log_vkey)
    checkpoint = parse_checkpoint(body)
    log_name = log_vkey.split("+", 1)[0]
    if checkpoint.origin != log_name:
        raise ValueError("checkpoint origin is not the log key's name")
    _, lines = split_note(text)
    cosigners = cosignatures_by(body, lines, keys)
    if len(cosigners) < quorum:
        raise ValueError(f"only {len(cosigners)} of the {quorum} witness cosignatures needed are valid")
    return Witnessed(checkpoint, body, cosigners)


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    """The `add-checkpoint` request body."""
    if old_size < 0 or len(proof) > MAX_PROOF_LINES:
        raise ValueError("old size must be >= 0 and the proof at most 63 hashes")
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + checkpoint_note).encode()


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str


def parse_add_checkpoint(data: bytes) -> AddCheckpoint:
    """An `add-checkpoint` request body. ValueError (a 400) when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("request body is not UTF-8") from exc
    head, sep, checkpoint_note = text.partition("\n\n")
    if not sep or not head.startswith("old "):
        raise ValueError("expected 'old <size>', proof lines, an empty line, then the checkpoint")
    lines = head.split("\n")
    if not DECIMAL.fullmatch(lines[0][4:]):
        raise ValueError("old size is not a decimal without leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError("more than 63 consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            hashed = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise ValueError("a consistency proof line is not base64") from exc
        if len(hashed) != 32:
            raise ValueError("a consistency proof line is not a 32-byte hash")
        proof.append(hashed)
    return AddCheckpoint(int(lines[0][4:]), proof, checkpoint_note)
