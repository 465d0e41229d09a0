"""The platform's audit signing key (Ed25519), loaded from configuration."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.errors import ConfigurationError

from . import note
from .checkpoint_signing import key_id, load_private_key_pem, public_key_pem, sign_checkpoint


@dataclass(frozen=True)
class AuditSigner:
    log_id: str
    private_key: Ed25519PrivateKey
    # The checkpoint notes' origin line and key name (AUDIT_LOG_ORIGIN); the log id when unset.
    origin: str = ""

    @classmethod
    def from_pem(cls, log_id: str, pem: str, origin: str = "") -> AuditSigner:
        if origin and not note.valid_key_name(origin):
            raise ConfigurationError("AUDIT_LOG_ORIGIN must be non-empty with no spaces and no plus sign")
        try:
            return cls(log_id, load_private_key_pem(pem.encode()), origin)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("AUDIT_SIGNING_KEY is not an Ed25519 private key in PEM") from exc

    @property
    def note_origin(self) -> str:
        return self.origin or self.log_id

    def note_verifier_key(self) -> str:
        """The C2SP verifier key string of the checkpoint notes (audit/note.py)."""
        return note.verifier_key(self.note_origin, self.public_key)

    def sign_note(self, body: str) -> str:
        """The note signature (base64 of key hash and signature) of a checkpoint note body."""
        return note.sign_body(self.private_key, self.note_origin, body)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def public_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    def sign(self, body: dict) -> dict:
        return sign_checkpoint(self.private_key, body)
