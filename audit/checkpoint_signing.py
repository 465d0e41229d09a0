"""Signed tree heads ("checkpoints") of the audit log: Ed25519 over the RFC 8785 canonical JSON of
the checkpoint body, encoded base64url without padding.

A checkpoint body is ``{"log_id", "tree_size", "root_hash", "chain_head", "timestamp", "key_id"}``;
`key_id` names the signing key as the first 16 hex digits of SHA-256 of its raw 32-byte public
key, so an auditor holding several published keys can tell which one applies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .canonical import canonical_json

_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")  # 64 bytes in unpadded base64url
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass(frozen=True)
class CheckpointBody:
    """The fields of a checkpoint body; hashes as lowercase hex, as signed."""

    log_id: str
    tree_size: int
    root_hash: str
    chain_head: str
    timestamp: str
    key_id: str

    @classmethod
    def parse(cls, body: Any) -> CheckpointBody:
        """Check the body's shape (not its signature). Raises ValueError naming the bad field."""
        if not isinstance(body, dict):
            raise ValueError("checkpoint body is not an object")
        checks = {
            "log_id": lambda v: isinstance(v, str),
            "tree_size": lambda v: type(v) is int and v >= 0,
            "root_hash": lambda v: isinstance(v, str) and _HEX64.fullmatch(v),
            "chain_head": lambda v: isinstance(v, str) and _HEX64.fullmatch(v),
            "timestamp": lambda v: isinstance(v, str) and _TIMESTAMP.fullmatch(v),
            "key_id": lambda v: isinstance(v, str),
        }
        for name, check in checks.items():
            if not check(body.get(name)):
                raise ValueError(
                    f"checkpoint field {name!r} is missing or malformed: {body.get(name)!r:.100}"
                )
        return cls(**{name: body[name] for name in checks})


def new_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), the form the platform publishes."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    """Parse a PEM SubjectPublicKeyInfo. Raises ValueError if it is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm as exc:
        raise ValueError("unsupported public key algorithm") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (protect it like any secret)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key_pem(pem: bytes) -> Ed25519PrivateKey:
    """Parse an unencrypted PKCS#8 PEM. Raises ValueError if it is not an Ed25519 private key
    (and TypeError, from cryptography, if it is encrypted)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except UnsupportedAlgorithm as exc:
        raise ValueError("unsupported private key algorithm") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def sign_checkpoint(private_key: Ed25519PrivateKey, body: dict[str, Any]) -> dict[str, Any]:
    """``{"body": body, "signature": ...}`` with the signature over ``canonical_json(body)``.
    Raises ValueError if body["key_id"] does not name this key, or if the body is not canonical
    JSON material (see `canonical_json`)."""
    if body.get("key_id") != key_id(private_key.public_key()):
        raise ValueError("checkpoint key_id does not name the signing key")
    signature = private_key.sign(canonical_json(body))
    return {"body": body, "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")}


def verify_checkpoint(public_key: Ed25519PublicKey, signed: Any) -> bool:
    """True only if `signed` is ``{"body": {...}, "signature": str}``, the body's key_id names
    `public_key`, and the signature is valid. Any malformed input gives False, never an error."""
    try:
        body, signature = signed["body"], signed["signature"]
        if (
            not isinstance(body, dict)
            or not isinstance(signature, str)
            or not _SIGNATURE.fullmatch(signature)
        ):
            return False
        if body.get("key_id") != key_id(public_key):
            return False
        raw = base64.urlsafe_b64decode(signature + "==")
        # Reject the non-canonical spellings (stray low bits in the last character).
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != signature:
            return False
        public_key.verify(raw, canonical_json(body))
    except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error, RecursionError):
        return False
    return True
