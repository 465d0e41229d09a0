"""Checking one audit entry's inclusion proof against a signed checkpoint: the one check behind the
auditor's entry page, the citizen's proof page and `python -m audit.verifier --bundle`.

A proof bundle (format ``consentry-inclusion-proof/1``) carries everything needed offline:

    {"format": "consentry-inclusion-proof/1", "log_id": "...",
     "entry": {"seq": 41, "body": {...}, "leaf_hash": hex},
     "proof": {"leaf_index": 41, "tree_size": 50, "audit_path": [hex, ...], "root_hash": hex},
     "checkpoint": {"body": {...}, "signature": base64url},
     "public_key": {"key_id": "...", "pem": "-----BEGIN PUBLIC KEY-----..."}}

(`public_key` may give `raw`, the 32-byte Ed25519 key in base64, instead of `pem`.) The check
recomputes the leaf hash from the body, the root from the audit path (RFC 9162 2.1.3.2), and
checks the checkpoint's signature and that its signed root is that root. It trusts nothing in the
bundle but what it recomputes, and the key only if the caller gives none of its own.

Like the export verifier it needs only the standard library and `cryptography`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import canonical_json
from .checkpoint_signing import CheckpointBody, key_id, load_public_key_pem, verify_checkpoint
from .merkle import leaf_hash, root_from_inclusion_path

FORMAT = "consentry-inclusion-proof/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Verdict.problem: what is wrong, for callers that act on it (the reason says it in words).
MALFORMED, BODY_ALTERED, WRONG_ENTRY, WRONG_TREE_SIZE, NOT_COVERED = (
    "malformed", "body_altered", "wrong_entry", "wrong_tree_size", "not_covered",
)  # fmt: skip
PATH_ALTERED, ROOT_MISMATCH, FOREIGN_KEY, BAD_SIGNATURE, OTHER_LOG = (
    "path_altered", "root_mismatch", "foreign_key", "bad_signature", "other_log",
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The outcome: `ok`, else `problem` (one of the constants above) and `reason`, one line
    naming it. `key_id` is the key the checkpoint was checked with, when one was loaded;
    `key_from_bundle` says that key came from the bundle itself (self-consistency only);
    `signature_valid` that the checkpoint's signature was checked and holds."""

    ok: bool
    reason: str
    problem: str | None = None
    seq: int | None = None
    tree_size: int | None = None
    timestamp: str | None = None
    key_id: str | None = None
    key_from_bundle: bool = False
    signature_valid: bool = False


class _Problem(Exception):
    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.reason = problem, reason


def check_bundle_json(data: bytes | str, *, trusted_key: Ed25519PublicKey | None = None) -> Verdict:
    """`check_bundle` on a bundle's JSON text; truncated or malformed JSON is a MALFORMED verdict."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        bundle = json.loads(text)
    except UnicodeDecodeError:
        return Verdict(False, "malformed bundle: not UTF-8 text", MALFORMED)
    except (ValueError, RecursionError) as exc:
        return Verdict(False, f"malformed bundle: not valid JSON (truncated?): {exc}"[:300], MALFORMED)
    return check_bundle(bundle, trusted_key=trusted_key)


def check_bundle(bundle: Any, *, trusted_key: Ed25519PublicKey | None = None) -> Verdict:
    """Check a parsed proof bundle. With `trusted_key` (the verifier's own copy of the audit key)
    the bundle's key must be that key; without it the bundle's own key is used and the verdict
    says so (`key_from_bundle`). Never raises: every problem is a verdict naming it."""
    key: Ed25519PublicKey | None = None
    signed = False
    try:
        entry, proof, checkpoint, key_spec = _parts(bundle)
        key = _key(key_spec, trusted_key)
        cp = _checkpoint(checkpoint, key)
        signed = True
        _same_log(cp, bundle.get("log_id"))
        seq, leaf, at_seq = _entry(entry)
        _check_path(seq if at_seq else None, leaf, proof, cp)
    except _Problem as failed:
        kid = key_id(key) if key is not None else None
        return Verdict(
            False, failed.reason, failed.problem, key_id=kid, key_from_bundle=trusted_key is None,
            signature_valid=signed,
        )  # fmt: skip
    reason = (
        f"entry seq {seq} is in log {cp.log_id!r}: its audit path leads to the root signed in the "
        f"checkpoint of {cp.timestamp} (tree size {cp.tree_size})"
    )
    return Verdict(
        True, reason, seq=seq, tree_size=cp.tree_size, timestamp=cp.timestamp, key_id=key_id(key),
        key_from_bundle=trusted_key is None, signature_valid=True,
    )  # fmt: skip


def _parts(bundle: Any) -> tuple[dict, dict, dict, dict]:
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        found = bundle.get("format") if isinstance(bundle, dict) else type(bundle).__name__
        raise _Problem(MALFORMED, f"malformed bundle: not a {FORMAT} bundle (format {found!r:.60})")
    parts = []
    for name in ("entry", "proof", "checkpoint", "public_key"):
        if not isinstance(part := bundle.get(name), dict):
            raise _Problem(MALFORMED, f"malformed bundle: {name!r} is missing or not an object")
        parts.append(part)
    entry, proof = parts[0], parts[1]
    if type(entry.get("seq")) is not int or entry["seq"] < 0 or not isinstance(entry.get("body"), dict):
        raise _Problem(MALFORMED, "malformed bundle: entry needs an integer seq and a body object")
    if not isinstance(entry.get("leaf_hash"), str):
        raise _Problem(MALFORMED, "malformed bundle: entry.leaf_hash is missing")
    path = proof.get("audit_path")
    if not (isinstance(path, list) and all(isinstance(h, str) and _HEX64.fullmatch(h) for h in path)):
        raise _Problem(MALFORMED, "malformed bundle: proof.audit_path must be a list of 64-hex-digit hashes")
    if type(proof.get("leaf_index")) is not int or type(proof.get("tree_size")) is not int:
        raise _Problem(MALFORMED, "malformed bundle: proof needs integer leaf_index and tree_size")
    return parts[0], parts[1], parts[2], parts[3]


def load_bundle_key(spec: dict) -> Ed25519PublicKey:
    """The bundle's public key from ``{"pem": ...}`` or ``{"raw": base64}``. Raises ValueError."""
    if isinstance(spec.get("pem"), str):
        return load_public_key_pem(spec["pem"].encode())
    if isinstance(spec.get("raw"), str):
        text = spec["raw"].replace("-", "+").replace("_", "/").rstrip("=")
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)  # base64 or base64url
        return Ed25519PublicKey.from_public_bytes(raw)
    raise ValueError("public_key needs pem or raw")


def _key(spec: dict, trusted: Ed25519PublicKey | None) -> Ed25519PublicKey:
    try:
        carried = load_bundle_key(spec)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _Problem(MALFORMED, f"malformed bundle: public_key is not an Ed25519 key ({exc})") from None
    if trusted is not None and key_id(carried) != key_id(trusted):
        raise _Problem(
            FOREIGN_KEY,
            f"foreign key: the bundle's public key (key id {key_id(carried)}) is not the key you "
            f"trust (key id {key_id(trusted)})",
        )
    return trusted or carried


def _checkpoint(checkpoint: dict, key: Ed25519PublicKey) -> CheckpointBody:
    body = checkpoint.get("body")
    claimed = body.get("key_id") if isinstance(body, dict) else None
    if claimed != key_id(key):
        raise _Problem(
            FOREIGN_KEY, f"foreign key: the checkpoint names key id {claimed!r:.40}, not {key_id(key)}"
        )
    if not verify_checkpoint(key, checkpoint):
        raise _Problem(
            BAD_SIGNATURE, "checkpoint signature does not verify: the checkpoint was altered or forged"
        )
    try:
        cp = CheckpointBody.parse(body)
    except ValueError as exc:
        raise _Problem(MALFORMED, f"malformed checkpoint: {exc}") from None
    return cp


def _same_log(cp: CheckpointBody, log_id: Any) -> None:
    if log_id is not None and log_id != cp.log_id:
        raise _Problem(OTHER_LOG, f"the checkpoint is of log {cp.log_id!r}, the bundle names {log_id!r:.60}")


def _entry(entry: dict) -> tuple[int, bytes, bool]:
    """The entry's seq, its leaf hash recomputed, and whether its leaf index is its seq."""
    seq, body = entry["seq"], entry["body"]
    try:
        leaf = leaf_hash(canonical_json(body))
    except (ValueError, RecursionError) as exc:
        raise _Problem(
            MALFORMED, f"malformed entry: body cannot be canonicalised (RFC 8785): {exc}"
        ) from None
    # A body names its entry by "seq" (its leaf index) or, batched (docs/audit.md), by "id".
    name = "id" if "id" in body and "seq" not in body else "seq"
    if body.get(name) != seq or type(body.get(name)) is not int:
        raise _Problem(
            BODY_ALTERED, f"body altered: it names {name} {body.get(name)!r:.20}, the entry is seq {seq}"
        )
    if leaf.hex() != entry["leaf_hash"]:
        raise _Problem(
            BODY_ALTERED,
            f"body altered: it hashes to leaf {leaf.hex()}, "
            f"the entry's leaf hash is {entry['leaf_hash']:.64}",
        )
    return seq, leaf, name == "seq"


def _check_path(seq: int | None, leaf: bytes, proof: dict, cp: CheckpointBody) -> None:
    """`seq`: the leaf index the entry must have (its seq), or None for an entry named by id,
    whose position only the proof gives (the path then ties the body's hash to that position)."""
    if seq is not None and proof["leaf_index"] != seq:
        raise _Problem(WRONG_ENTRY, f"the proof is for entry {proof['leaf_index']}, not seq {seq}")
    seq = proof["leaf_index"]
    if proof["tree_size"] != cp.tree_size:
        raise _Problem(
            WRONG_TREE_SIZE,
            f"wrong tree size: the proof is for {proof['tree_size']} entries, "
            f"the checkpoint signs {cp.tree_size}",
        )
    if seq >= cp.tree_size:
        raise _Problem(NOT_COVERED, f"entry seq {seq} is not under the checkpoint (tree size {cp.tree_size})")
    if proof.get("root_hash", cp.root_hash) != cp.root_hash:
        raise _Problem(
            ROOT_MISMATCH, "root mismatch: the proof's root_hash is not the checkpoint's signed root"
        )
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    computed = root_from_inclusion_path(leaf, seq, cp.tree_size, path)
    if computed is None:
        raise _Problem(
            PATH_ALTERED,
            f"audit path altered: {len(path)} hashes is the wrong length for entry {seq} "
            f"in a tree of {cp.tree_size}",
        )
    if computed.hex() != cp.root_hash:
        raise _Problem(
            PATH_ALTERED,
            f"audit path altered: it leads to root {computed.hex()}, the checkpoint signs {cp.root_hash}",
        )
