"""The platform's audit signing key (Ed25519), loaded from configuration."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.errors import ConfigurationError

from .checkpoint_signing import key_id, load_private_key_pem, public_key_pem, sign_checkpoint


@dataclass(frozen=True)
class AuditSigner:
    log_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_pem(cls, log_id: str, pem: str) -> AuditSigner:
        try:
            return cls(log_id, load_private_key_pem(pem.encode()))
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("AUDIT_SIGNING_KEY is not an Ed25519 private key in PEM") from exc

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
