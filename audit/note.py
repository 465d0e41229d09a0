"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), the form
Certificate Transparency monitors, Go's checksum database clients and witnesses read.

A checkpoint note's body is three lines, each ending in a newline::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>

then a blank line and one signature line per key, ``— <key name> <base64(key hash || signature)>``
(an em dash, U+2014). For Ed25519 (signature type 0x01) the key hash is the first 4 bytes of
``SHA-256(key name || "\\n" || 0x01 || public key)`` and the signature is over the body's bytes. A
verifier trusts a key given as the verifier key string ``<name>+<key hash, 8 hex>+<base64(0x01 ||
public key)>``. Our key name is the log's origin.

Needs only the standard library and `cryptography`, like the offline verifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
EM_DASH = "\u2014"
_KEY_NAME = re.compile(r"[^\s+]+")  # non-empty, no Unicode space, no plus
DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint note body."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoteSignature:
    key_name: str
    key_hash: bytes
    signature: bytes


def valid_key_name(name: str) -> bool:
    """Key names (and our origins) are non-empty and hold no Unicode space and no plus sign."""
    return bool(_KEY_NAME.fullmatch(name))


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def typed_key_hash(name: str, sig_type: int, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash (key ID) of an Ed25519 key used with signature type `sig_type`: 0x01
    for note signatures, 0x04 for witness cosignatures (c2sp.org/tlog-cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + _raw(public_key)).digest()[:4]


def typed_verifier_key(name: str, sig_type: int, public_key: Ed25519PublicKey) -> str:
    """``<name>+<key hash, 8 hex>+<base64(sig_type || public key)>``."""
    if not valid_key_name(name):
        raise ValueError("a key name is non-empty with no spaces and no plus sign")
    encoded = base64.b64encode(bytes([sig_type]) + _raw(public_key)).decode()
    return f"{name}+{typed_key_hash(name, sig_type, public_key).hex()}+{encoded}"


def parse_typed_verifier_key(vkey: str, sig_type: int) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key hash, public key) of a verifier key string whose key is of type `sig_type`.
    ValueError if malformed, of another type, or if its key hash does not match its name and key."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not valid_key_name(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise ValueError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise ValueError("verifier key is not base64") from exc
    if len(raw) != 33 or raw[0] != sig_type:
        raise ValueError(f"not an Ed25519 key of signature type 0x{sig_type:02x}")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if typed_key_hash(parts[0], sig_type, public_key).hex() != parts[1]:
        raise ValueError("verifier key hash does not match its name and key")
    return parts[0], bytes.fromhex(parts[1]), public_key


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash of an Ed25519 note key."""
    return typed_key_hash(name, ED25519, public_key)


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string a client configures to trust our checkpoints."""
    return typed_verifier_key(name, ED25519, public_key)


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes) -> str:
    """The checkpoint note body (no extension lines). ValueError on a bad origin, size or root."""
    if not valid_key_name(origin):
        raise ValueError("origin must be non-empty with no spaces and no plus sign")
    if tree_size < 0 or len(root_hash) != 32:
        raise ValueError("tree size must be >= 0 and the root 32 bytes")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"


def sign_body(private_key: Ed25519PrivateKey, key_name: str, body: str) -> str:
    """The signature line's last field, ``base64(key hash || Ed25519 signature over body)``."""
    signature = private_key.sign(body.encode())
    return base64.b64encode(key_hash(key_name, private_key.public_key()) + signature).decode()


def signature_line(key_name: str, signature_b64: str) -> str:
    """One newline-terminated signature line, ``— <key name> <base64 signature>``."""
    return f"{EM_DASH} {key_name} {signature_b64}\n"


def note_text(body: str, key_name: str, signature_b64: str) -> str:
    """A signed note: the body, a blank line, one signature line."""
    return f"{body}\n{signature_line(key_name, signature_b64)}"


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """The body and the signature lines of a note. ValueError if it is not a well-formed note."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("a note is text lines, a blank line, then signature lines")
    cut = note.rindex("\n\n")
    body, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not lines:
        raise ValueError("a note needs at least one signature line")
    signatures = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not valid_key_name(parts[1]):
            raise ValueError("malformed signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise ValueError("signature is not base64") from exc
        if len(raw) < 5:
            raise ValueError("signature too short")
        signatures.append(NoteSignature(parts[1], raw[:4], raw[4:]))
    return body, signatures


def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key hash, public key) of an Ed25519 note verifier key string; ValueError if malformed
    or if its key hash does not match its name and key."""
    return parse_typed_verifier_key(vkey, ED25519)


def verify_note(note: str, vkey: str) -> str:
    """The body of `note` if it carries a valid signature by the verifier key `vkey` (other
    signatures are ignored, as the spec allows). ValueError otherwise."""
    name, hash4, public_key = parse_verifier_key(vkey)
    body, signatures = split_note(note)
    for sig in signatures:
        if sig.key_name == name and sig.key_hash == hash4:
            try:
                public_key.verify(sig.signature, body.encode())
            except InvalidSignature:
                continue
            return body
    raise ValueError("no valid signature by that key")


def parse_checkpoint(body: str) -> Checkpoint:
    """Origin, size and root of a checkpoint note body. ValueError when malformed."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise ValueError("a checkpoint body is at least three newline-terminated lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not DECIMAL.fullmatch(size):
        raise ValueError("bad origin or tree size line")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except binascii.Error as exc:
        raise ValueError("root hash is not base64") from exc
    if len(root_hash) != 32:
        raise ValueError("root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root_hash, tuple(lines[3:-1]))
