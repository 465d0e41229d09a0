import pytest

from core.crypto.field_cipher import FieldCipher, associated_data
from core.crypto.keyring import MasterKeyring, b64e, new_key_spec
from core.errors import ConfigurationError, CryptoError


def ring(active="k1"):
    return MasterKeyring({"k1": b"1" * 32, "k2": b"2" * 32}, active)


def test_data_key_round_trips_and_is_bound_to_its_context():
    keyring = ring()
    dek, wrapped = keyring.new_data_key(b"citizen-a")
    assert wrapped.kid == "k1"
    assert keyring.unwrap(wrapped, b"citizen-a") == dek
    with pytest.raises(CryptoError):
        keyring.unwrap(wrapped, b"citizen-b")


def test_wrong_or_missing_master_key_is_a_clear_crypto_error():
    _, wrapped = ring().new_data_key(b"c")
    impostor = MasterKeyring({"k1": b"9" * 32}, "k1")
    with pytest.raises(CryptoError, match="authentication"):
        impostor.unwrap(wrapped, b"c")
    only_k2 = MasterKeyring({"k2": b"2" * 32}, "k2")
    with pytest.raises(CryptoError, match="not configured"):
        only_k2.unwrap(wrapped, b"c")


def test_field_cipher_binds_associated_data_and_detects_tampering():
    cipher = FieldCipher(b"k" * 32)
    aad = associated_data("field", "citizen", "name", 1)
    blob = cipher.encrypt_json({"value": "TAN HENG HUAT"}, aad)
    assert b"TAN" not in blob
    assert cipher.decrypt_json(blob, aad) == {"value": "TAN HENG HUAT"}
    with pytest.raises(CryptoError):
        cipher.decrypt_json(blob, associated_data("field", "citizen", "name", 2))
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CryptoError):
        cipher.decrypt_json(flipped, aad)


def test_same_plaintext_encrypts_differently_each_time():
    cipher = FieldCipher(b"k" * 32)
    aad = associated_data("x")
    assert cipher.encrypt(b"same", aad) != cipher.encrypt(b"same", aad)


def test_keyring_spec_parsing_and_validation():
    spec = f"{new_key_spec('2026-a')},{new_key_spec('2026-b')}"
    keyring = MasterKeyring.from_spec(spec, "2026-b")
    assert keyring.kids == ["2026-a", "2026-b"] and keyring.active_kid == "2026-b"
    assert MasterKeyring.from_spec(spec).active_kid == "2026-a"
    with pytest.raises(ConfigurationError):
        MasterKeyring.from_spec("")
    with pytest.raises(ConfigurationError):
        MasterKeyring.from_spec(f"short:{b64e(b'x' * 16)}")
    with pytest.raises(ConfigurationError):
        MasterKeyring.from_spec(spec, "missing")
    with pytest.raises(ConfigurationError):
        MasterKeyring.from_spec("no-separator")
