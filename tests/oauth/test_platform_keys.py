"""Platform JOSE keys: created on demand, rotated with an overlap, private halves wrapped at rest."""

from __future__ import annotations

import datetime as dt

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import delete, text

from core.crypto.keyring import MasterKeyring, b64e
from core.crypto.platform_key_model import PlatformKey
from core.crypto.platform_keys import (
    active_key,
    ensure_keys,
    key_by_kid,
    private_key_by_kid,
    published_jwks,
    rotate,
)
from core.errors import CryptoError, NotFound, ValidationFailed
from tests.factories import TEST_MASTER_KEYS


@pytest.fixture
def keyring() -> MasterKeyring:
    return MasterKeyring.from_spec(TEST_MASTER_KEYS)


@pytest.fixture(autouse=True)
def _no_keys_yet(db_session) -> None:
    """Start from an empty key table (inside the test's transaction): servers started by other
    tests in this worker commit keys of their own, activated at the real time."""
    db_session.execute(delete(PlatformKey))


def published_kids(session, now) -> list[str]:
    return [key["kid"] for key in published_jwks(session, now=now)["keys"]]


def test_ensure_keys_creates_one_sig_and_one_enc_key_once(db_session, keyring, now):
    kids = ensure_keys(db_session, keyring=keyring, now=now)
    assert ensure_keys(db_session, keyring=keyring, now=now + dt.timedelta(hours=1)) == kids

    jwks = published_jwks(db_session, now=now)
    assert {(k["kid"], k["use"], k["alg"]) for k in jwks["keys"]} == {
        (kids["sig"], "sig", "ES256"),
        (kids["enc"], "enc", "ECDH-ES+A256KW"),
    }
    for key in jwks["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (key["kty"], key["crv"]) == ("EC", "P-256")


def test_active_signing_key_signs_what_the_published_key_verifies(db_session, keyring, now):
    kids = ensure_keys(db_session, keyring=keyring, now=now)
    signer = active_key(db_session, keyring=keyring, use="sig", now=now)
    assert signer.is_private and signer.kid == kids["sig"]

    token = jws.serialize_compact({"alg": "ES256", "kid": signer.kid}, b"{}", signer)
    (published,) = [k for k in published_jwks(db_session, now=now)["keys"] if k["kid"] == signer.kid]
    assert jws.deserialize_compact(token, ECKey.import_key(published)).payload == b"{}"
    assert key_by_kid(db_session, kid=signer.kid, now=now).thumbprint() == signer.kid


def test_rotate_keeps_the_old_key_published_until_the_overlap_ends(db_session, keyring, now):
    old = ensure_keys(db_session, keyring=keyring, now=now)["sig"]
    later = now + dt.timedelta(days=90)
    new = rotate(db_session, keyring=keyring, use="sig", now=later, overlap=dt.timedelta(minutes=30)).kid

    assert new != old
    assert active_key(db_session, keyring=keyring, use="sig", now=later).kid == new
    during = later + dt.timedelta(minutes=29)
    assert {old, new} <= set(published_kids(db_session, during))
    assert key_by_kid(db_session, kid=old, now=during).kid == old

    after = later + dt.timedelta(minutes=30)
    assert old not in published_kids(db_session, after)
    assert new in published_kids(db_session, after)
    with pytest.raises(NotFound):
        key_by_kid(db_session, kid=old, now=after)


def test_rotation_marks_keys_past_their_overlap_as_retired(db_session, keyring, now):
    first = ensure_keys(db_session, keyring=keyring, now=now)["enc"]
    rotate(db_session, keyring=keyring, use="enc", now=now, overlap=dt.timedelta(0))
    rotate(db_session, keyring=keyring, use="enc", now=now + dt.timedelta(seconds=1))

    retired = db_session.execute(text("SELECT retired FROM platform_keys WHERE kid = :kid"), {"kid": first})
    assert retired.scalar_one() in (True, 1)
    assert first not in published_kids(db_session, now + dt.timedelta(seconds=1))


def test_rotate_refuses_a_negative_overlap_and_an_unknown_use(db_session, keyring, now):
    with pytest.raises(ValidationFailed):
        rotate(db_session, keyring=keyring, use="sig", now=now, overlap=dt.timedelta(seconds=-1))
    with pytest.raises(ValidationFailed):
        rotate(db_session, keyring=keyring, use="tls", now=now)  # type: ignore[arg-type]


def test_no_active_key_is_not_found(db_session, keyring, now):
    with pytest.raises(NotFound):
        active_key(db_session, keyring=keyring, use="sig", now=now)


def test_private_keys_are_encrypted_at_rest(db_session, keyring, now):
    kids = ensure_keys(db_session, keyring=keyring, now=now)
    for kid in kids.values():
        row = db_session.execute(
            text("SELECT wrapping_kid, private_jwk_wrapped, public_jwk FROM platform_keys WHERE kid = :kid"),
            {"kid": kid},
        ).one()
        private = active_key(db_session, keyring=keyring, use="sig", now=now).as_dict(private=True)
        assert row.wrapping_kid == "test-a"
        assert b'"d"' not in bytes(row.private_jwk_wrapped)
        assert private["d"].encode() not in bytes(row.private_jwk_wrapped)
        assert '"d"' not in str(row.public_jwk)
    enc = private_key_by_kid(db_session, keyring=keyring, kid=kids["enc"], now=now)
    assert enc.is_private and enc.kid == kids["enc"]


def test_wrong_master_key_is_a_crypto_error(db_session, keyring, now):
    ensure_keys(db_session, keyring=keyring, now=now)
    impostor = MasterKeyring({"test-a": b"z" * 32}, "test-a")
    with pytest.raises(CryptoError):
        active_key(db_session, keyring=impostor, use="sig", now=now)
    missing = MasterKeyring.from_spec(f"other:{b64e(b'o' * 32)}")
    with pytest.raises(CryptoError):
        active_key(db_session, keyring=missing, use="enc", now=now)


def test_a_wrapped_key_moved_to_another_row_fails(db_session, keyring, now):
    kids = ensure_keys(db_session, keyring=keyring, now=now)
    db_session.execute(
        text(
            "UPDATE platform_keys SET private_jwk_wrapped = "
            "(SELECT private_jwk_wrapped FROM platform_keys WHERE kid = :enc) WHERE kid = :sig"
        ),
        {"enc": kids["enc"], "sig": kids["sig"]},
    )
    db_session.expire_all()
    with pytest.raises(CryptoError):
        active_key(db_session, keyring=keyring, use="sig", now=now)
