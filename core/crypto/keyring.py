"""Master keys for envelope encryption.

Each citizen's values are encrypted under a per-citizen data key (DEK); the DEK is stored wrapped by
a master key named by its key id (kid). Rotating the master key means adding a new kid, making it
active, and re-encrypting citizens in batches (profile_store.key_rotation); old kids stay in the
ring until nothing is wrapped by them.

Config form: "kid1:<base64url 32 bytes>,kid2:<...>" with the active kid named separately.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import ConfigurationError, CryptoError

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
NONCE_BYTES = 12
KEY_BYTES = 32


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_spec(kid: str) -> str:
    """A fresh master key in config form, for `consentry keys new-master`."""
    return f"{kid}:{b64e(os.urandom(KEY_BYTES))}"


@dataclass(frozen=True)
class WrappedKey:
    kid: str
    blob: bytes


class MasterKeyring:
    """Holds master keys by kid; wraps new data keys with the active one."""

    def __init__(self, keys: dict[str, bytes], active_kid: str) -> None:
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise ConfigurationError(f"master key id {kid!r} is not a valid key id")
            if len(key) != KEY_BYTES:
                raise ConfigurationError(f"master key {kid!r} must be {KEY_BYTES} bytes")
        if active_kid not in keys:
            raise ConfigurationError(f"active master key {active_kid!r} is not in the keyring")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_kid = active_kid

    @classmethod
    def from_spec(cls, spec: str, active_kid: str | None = None) -> MasterKeyring:
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise ConfigurationError("master key spec must be 'kid:base64url', comma-separated")
            try:
                keys[kid] = b64d(encoded)
            except ValueError as exc:
                raise ConfigurationError(f"master key {kid!r} is not base64url") from exc
        if not keys:
            raise ConfigurationError("no master key configured")
        return cls(keys, active_kid or next(iter(keys)))

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def new_data_key(self, context: bytes) -> tuple[bytes, WrappedKey]:
        """A fresh 256-bit data key and its wrapping under the active master key.

        `context` is bound as associated data, so a wrapped key moved to another citizen fails.
        """
        dek = AESGCM.generate_key(bit_length=256)
        return dek, self.wrap(dek, context)

    def wrap(self, dek: bytes, context: bytes) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self.active_kid].encrypt(nonce, dek, b"dek|" + context)
        return WrappedKey(self.active_kid, blob)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        cipher = self._keys.get(wrapped.kid)
        if cipher is None:
            raise CryptoError("data key is wrapped by a master key that is not configured", kid=wrapped.kid)
        try:
            return cipher.decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], b"dek|" + context)
        except InvalidTag as exc:
            raise CryptoError("data key failed authentication (wrong master key or tampered)") from exc
