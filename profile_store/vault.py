"""Where profile values meet keys: national-id digests, per-citizen data keys and the associated
data that pins each ciphertext to its row."""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from core.crypto.field_cipher import FieldCipher, associated_data
from core.crypto.keyring import MasterKeyring, WrappedKey


class KeyedCitizen(Protocol):
    """What a citizen's data key is found by: an ORM `Citizen`, or the plain columns a resource
    call reads with its token (consent.token_grants.GrantCitizen)."""

    @property
    def id(self) -> str: ...

    @property
    def dek_kid(self) -> str: ...

    @property
    def dek_wrapped(self) -> bytes: ...


class Vault:
    def __init__(self, keyring: MasterKeyring, lookup_key: str) -> None:
        self.keyring = keyring
        self._lookup_key = lookup_key.encode()

    def digest_uinfin(self, uinfin: str) -> str:
        """A keyed digest: finds a citizen by national id without storing the id in clear."""
        return hmac.new(self._lookup_key, uinfin.encode(), hashlib.sha256).hexdigest()

    def new_data_key(self, citizen_id: str) -> tuple[FieldCipher, WrappedKey]:
        dek, wrapped = self.keyring.new_data_key(citizen_id.encode())
        return FieldCipher(dek), wrapped

    def cipher_for(self, citizen: KeyedCitizen) -> FieldCipher:
        """The citizen's field cipher; raises CryptoError for a wrong master key or tampered key."""
        dek = self.keyring.unwrap(WrappedKey(citizen.dek_kid, citizen.dek_wrapped), citizen.id.encode())
        return FieldCipher(dek)


def field_aad(citizen_id: str, attribute: str, origin: str, version: int) -> bytes:
    # associated_data("field", citizen_id, attribute, origin, version), spelled out: it runs once
    # per value on every profile read and write (tests/profile_store/test_fields.py pins it).
    return f"field\x1f{citizen_id}\x1f{attribute}\x1f{origin}\x1f{version}".encode()


def uinfin_aad(citizen_id: str) -> bytes:
    return associated_data("uinfin", citizen_id)
