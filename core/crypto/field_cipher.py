"""AES-256-GCM for individual field values under a citizen's data key.

The associated data names the citizen, the attribute, where the value lives and its version, so a
ciphertext copied to another row, citizen, attribute or version fails to decrypt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import CryptoError

NONCE_BYTES = 12


def associated_data(*parts: str | int) -> bytes:
    return "\x1f".join(map(str, parts)).encode()


class FieldCipher:
    """Encrypts JSON values with one data key. Cheap to build; build one per citizen per use."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(data_key)

    def encrypt_json(self, value: Any, aad: bytes) -> bytes:
        plaintext = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
        return self.encrypt(plaintext, aad)

    def decrypt_json(self, blob: bytes, aad: bytes) -> Any:
        return json.loads(self.decrypt(blob, aad))

    def decrypt_json_many(self, sealed: Iterable[tuple[bytes, bytes]]) -> list[Any]:
        """`decrypt_json` of many (blob, aad) pairs, in order; raises CryptoError if any fails.

        Every value is authenticated on its own; the plaintexts are then parsed as one JSON array
        (one parser call instead of one per value: most of the cost of a profile read's JSON)."""
        decrypt = self._aead.decrypt
        try:
            plaintexts = [decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad) for blob, aad in sealed]
        except InvalidTag as exc:
            raise CryptoError("field ciphertext failed authentication (tampered or moved)") from exc
        values = json.loads(b"[" + b",".join(plaintexts) + b"]")
        if len(values) != len(plaintexts):
            # Only if a plaintext was not one JSON document; parsing singly raises as decrypt_json does.
            return [json.loads(plaintext) for plaintext in plaintexts]
        return values

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise CryptoError("field ciphertext failed authentication (tampered or moved)") from exc
