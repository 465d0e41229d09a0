"""Consent receipts (consent/receipts.py) and their offline verifier (consent/receipt_verify.py):
the fields of each kind of event, the round trip, every field tampered with and named, a wrong
key, a foreign key, a truncated or malformed file, and a rotated key still verifying old
receipts while a withdrawn one does not."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json

import pytest
from joserfc.jwk import OKPKey

from audit.log import Event, append
from consent.apps import find_purpose, get_app, registration_document, update_app
from consent.consents import grant_consent
from consent.receipt_verify import MALFORMED, TAMPERED, UNKNOWN_KEY, Invalid, verify
from consent.receipts import (
    ReceiptContext,
    app_receipt,
    citizen_receipt,
    consent_receipt_seq,
    receipt_document,
    sign_receipt,
)
from core.crypto.platform_keys import active_key, ensure_keys, receipt_jwks, rotate
from core.errors import NotFound
from profile_store.citizens import reveal_uinfin
from tests.factories import make_citizen
from tests.oauth.flow import CLIENT_ID, PURPOSE

CONTEXT = ReceiptContext(
    log_id="test-log", jurisdiction="SG", withdrawal_url="http://localhost/citizen/consents"
)


@pytest.fixture
def receipt_key(db_session, keyring, now) -> OKPKey:
    ensure_keys(db_session, keyring=keyring, now=now)
    return active_key(db_session, keyring=keyring, use="receipt", now=now)


@pytest.fixture
def keyring(runtime):
    return runtime.vault.keyring


def granted(db_session, citizen, *, now, approved=("uinfin", "name", "regadd"), remember=None):
    app, purpose = get_app(db_session, CLIENT_ID), find_purpose(db_session, CLIENT_ID, PURPOSE)
    consent = grant_consent(
        db_session,
        citizen_id=citizen.id,
        app=app,
        purpose=purpose,
        requested=["uinfin", "name", "regadd", "cpfbalances"],
        approved=approved,
        remember_for=remember,
        now=now,
    )
    details = {
        "consent_id": consent.id,
        "declined": consent.declined,
        "expires_at": consent.expires_at.isoformat(),
        "remembered": consent.remembered,
    }
    event = Event(
        kind="consent_granted",
        citizen_ref=citizen.uinfin_digest,
        app_id=CLIENT_ID,
        purpose=PURPOSE,
        outcome="granted",
        attributes=tuple(consent.approved),
        details=details,
    )
    return consent, append(db_session, event, now=now + dt.timedelta(milliseconds=3))


def disclosed(db_session, citizen, consent, *, now, attributes=("name", "regadd")):
    details = {"agency": "Housing Board", "consent_id": consent.id, "token_jti": "j", "profile": "myinfo-v4"}
    event = Event(
        kind="disclosure",
        citizen_ref=citizen.uinfin_digest,
        app_id=CLIENT_ID,
        purpose=PURPOSE,
        outcome="released",
        attributes=attributes,
        details=details,
    )
    return append(db_session, event, now=now)


def document_text(receipt, key) -> str:
    return json.dumps(receipt_document(receipt, key))


def jwks(db_session, now) -> dict:
    return receipt_jwks(db_session, now=now)


# --- what a receipt says ------------------------------------------------------------------------


def test_a_consent_receipt_has_the_27560_fields_and_names_the_audit_entry(db_session, citizen, now):
    consent, entry = granted(db_session, citizen, now=now)
    receipt = citizen_receipt(db_session, seq=entry.seq, citizen_ref=citizen.uinfin_digest, context=CONTEXT)

    assert receipt["record_id"] == f"urn:consentry:receipt:test-log:{entry.seq}"
    assert receipt["schema_version"].startswith("consentry-receipt/1")
    assert receipt["audit"] == {"log_id": "test-log", "seq": entry.seq, "leaf_hash": entry.leaf_hash.hex()}
    assert receipt["pii_principal"]["id"] == citizen.uinfin_digest
    assert receipt["pii_controller"] == {
        "name": "Housing Board",
        "app_id": CLIENT_ID,
        "app_name": "Housing grant application",
    }
    assert receipt["purpose"] == {"id": PURPOSE, "description": "To assess your housing grant application."}
    assert receipt["pii_categories"] == {
        "approved": ["name", "regadd", "uinfin"],
        "declined": ["cpfbalances"],
    }
    assert receipt["processing"] == receipt["retention"] == "not stated"
    assert receipt["jurisdiction"] == "SG"
    assert receipt["event"]["type"] == "consent_given"
    assert receipt["consent_id"] == consent.id
    assert receipt["validity"]["scope"] == "this request only"
    assert receipt["withdrawal"]["url"] == CONTEXT.withdrawal_url


def test_the_national_id_is_never_in_a_receipt(db_session, citizen, runtime, now):
    _consent, entry = granted(db_session, citizen, now=now)
    receipt = citizen_receipt(db_session, seq=entry.seq, citizen_ref=citizen.uinfin_digest, context=CONTEXT)
    assert reveal_uinfin(runtime.vault, citizen) not in json.dumps(receipt)


def test_a_release_receipt_names_what_left_what_was_declined_and_its_validity(db_session, citizen, now):
    consent, _ = granted(db_session, citizen, now=now, remember=dt.timedelta(days=30))
    entry = disclosed(db_session, citizen, consent, now=now + dt.timedelta(seconds=5))
    receipt = app_receipt(db_session, seq=entry.seq, client_id=CLIENT_ID, context=CONTEXT)

    assert receipt["event"]["type"] == "released"
    assert receipt["pii_categories"] == {"released": ["name", "regadd"], "declined": ["cpfbalances"]}
    assert receipt["validity"]["scope"] == "remembered"
    assert receipt["validity"]["until"].startswith((now + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))

    once, _ = granted(db_session, citizen, now=now)
    entry = disclosed(db_session, citizen, once, now=now + dt.timedelta(seconds=6))
    receipt = app_receipt(db_session, seq=entry.seq, client_id=CLIENT_ID, context=CONTEXT)
    assert receipt["validity"]["scope"] == "this release only"


def test_processing_and_retention_are_as_the_app_registered_them(db_session, runtime, citizen, now):
    document = registration_document(db_session, CLIENT_ID)
    document["purposes"][0] |= {
        "processing": "Assessed by grant officers; not shared.",
        "retention": "5 years",
    }
    update_app(db_session, document=document, catalogue=runtime.catalogue, now=now)
    assert registration_document(db_session, CLIENT_ID) == document  # round trip of the document

    _consent, entry = granted(db_session, citizen, now=now)
    receipt = citizen_receipt(db_session, seq=entry.seq, citizen_ref=citizen.uinfin_digest, context=CONTEXT)
    assert receipt["processing"] == "Assessed by grant officers; not shared."
    assert receipt["retention"] == "5 years"


@pytest.mark.parametrize(
    ("kind", "event_type", "categories"),
    [
        ("consent_declined", "consent_declined", {"approved": [], "declined": ["name", "uinfin"]}),
        ("consent_revoked", "consent_withdrawn", {"withdrawn": ["name", "uinfin"]}),
        ("consent_expired", "consent_expired", {"expired": ["name", "uinfin"]}),
    ],
)
def test_declined_withdrawn_and_expired_consents_have_receipts(
    db_session, citizen, now, kind, event_type, categories
):
    event = Event(
        kind=kind,
        citizen_ref=citizen.uinfin_digest,
        app_id=CLIENT_ID,
        purpose=PURPOSE,
        attributes=("uinfin", "name"),
    )
    entry = append(db_session, event, now=now)
    receipt = citizen_receipt(db_session, seq=entry.seq, citizen_ref=citizen.uinfin_digest, context=CONTEXT)
    assert receipt["event"]["type"] == event_type
    assert receipt["pii_categories"] == categories
    assert receipt["withdrawal"]["method"].startswith("Nothing to withdraw")


def test_only_the_citizen_and_the_app_of_the_event_get_its_receipt(db_session, runtime, citizen, now):
    _consent, entry = granted(db_session, citizen, now=now)
    other = make_citizen(db_session, runtime.vault)
    with pytest.raises(NotFound):
        citizen_receipt(db_session, seq=entry.seq, citizen_ref=other.uinfin_digest, context=CONTEXT)
    with pytest.raises(NotFound):
        app_receipt(db_session, seq=entry.seq, client_id="another-app", context=CONTEXT)
    refresh = append(db_session, Event(kind="profile_refreshed", citizen_ref=citizen.uinfin_digest), now=now)
    with pytest.raises(NotFound):  # no receipt for what is not a consent decision or a release
        citizen_receipt(db_session, seq=refresh.seq, citizen_ref=citizen.uinfin_digest, context=CONTEXT)
    with pytest.raises(NotFound):
        citizen_receipt(db_session, seq=10**9, citizen_ref=citizen.uinfin_digest, context=CONTEXT)


def test_a_consent_leads_to_the_entry_that_recorded_it(db_session, citizen, now):
    first, first_entry = granted(db_session, citizen, now=now)
    second, second_entry = granted(db_session, citizen, now=now)  # same moment, another consent
    ref = citizen.uinfin_digest
    assert consent_receipt_seq(db_session, consent=first, citizen_ref=ref) == first_entry.seq
    assert consent_receipt_seq(db_session, consent=second, citizen_ref=ref) == second_entry.seq
    with pytest.raises(NotFound):
        consent_receipt_seq(db_session, consent=first, citizen_ref="0" * 64)


# --- signing and verifying ----------------------------------------------------------------------


@pytest.fixture
def receipt(db_session, citizen, now) -> dict:
    consent, _ = granted(db_session, citizen, now=now)
    entry = disclosed(db_session, citizen, consent, now=now + dt.timedelta(seconds=1))
    return app_receipt(db_session, seq=entry.seq, client_id=CLIENT_ID, context=CONTEXT)


def test_round_trip_and_both_sides_get_the_same_bytes(db_session, receipt, receipt_key, now):
    text = document_text(receipt, receipt_key)
    verified, kid = verify(text, jwks(db_session, now))
    assert verified == receipt and kid == receipt_key.kid and kid.startswith("receipt-")
    # Ed25519 is deterministic: the citizen's download and the app's fetch are the same proof.
    assert sign_receipt(receipt, receipt_key) == sign_receipt(copy.deepcopy(receipt), receipt_key)
    header = json.loads(base64.urlsafe_b64decode(sign_receipt(receipt, receipt_key).split(".")[0] + "=="))
    assert header == {"alg": "Ed25519", "kid": receipt_key.kid, "typ": "consent-receipt+jws"}
    compact = json.loads(text)["jws"]
    assert verify(compact, jwks(db_session, now))[0] == receipt  # the JWS alone verifies too


def leaves(value, path=()):
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from leaves(inner, (*path, name))
    else:
        yield path


def dotted(path) -> str:
    return "receipt." + ".".join(path)


def test_every_field_tampered_with_is_named(db_session, receipt, receipt_key, now):
    document = receipt_document(receipt, receipt_key)
    keys = jwks(db_session, now)
    paths = list(leaves(receipt))
    assert len(paths) > 20
    for path in paths:
        changed = copy.deepcopy(document)
        holder = changed["receipt"]
        for name in path[:-1]:
            holder = holder[name]
        holder[path[-1]] = ["x"] if isinstance(holder[path[-1]], list) else "tampered"
        with pytest.raises(Invalid) as caught:
            verify(json.dumps(changed), keys)
        assert caught.value.code == TAMPERED
        assert dotted(path) in caught.value.reason, caught.value.reason


def test_a_field_added_or_removed_is_named(db_session, receipt, receipt_key, now):
    document = receipt_document(receipt, receipt_key)
    document["receipt"]["extra"] = 1
    del document["receipt"]["retention"]
    with pytest.raises(Invalid, match=r"field receipt\.extra") as caught:
        verify(json.dumps(document), jwks(db_session, now))
    assert caught.value.code == TAMPERED


def test_a_changed_signed_payload_fails_the_signature(db_session, receipt, receipt_key, now):
    header, _payload, signature = sign_receipt(receipt, receipt_key).split(".")
    forged = {**receipt, "retention": "forever"}
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(Invalid, match="signature") as caught:
        verify(
            json.dumps({"receipt": forged, "jws": f"{header}.{payload}.{signature}"}), jwks(db_session, now)
        )
    assert caught.value.code == TAMPERED


def test_a_wrong_key_under_our_kid_fails_and_a_foreign_key_is_unknown(db_session, receipt, receipt_key, now):
    impostor = OKPKey.import_key(
        {**OKPKey.generate_key("Ed25519").as_dict(private=True), "kid": receipt_key.kid}
    )
    with pytest.raises(Invalid, match="signature") as caught:
        verify(document_text(receipt, impostor), jwks(db_session, now))
    assert caught.value.code == TAMPERED

    foreign = OKPKey.import_key(
        {**OKPKey.generate_key("Ed25519").as_dict(private=True), "kid": "receipt-foreign"}
    )
    with pytest.raises(Invalid, match="unknown key: receipt-foreign") as caught:
        verify(document_text(receipt, foreign), jwks(db_session, now))
    assert caught.value.code == UNKNOWN_KEY


def test_a_token_key_is_not_a_receipt_key(db_session, receipt, receipt_key, now):
    from core.crypto.platform_keys import published_jwks

    token_keys = published_jwks(db_session, now=now)
    assert receipt_key.kid not in {k["kid"] for k in token_keys["keys"]}
    with pytest.raises(Invalid) as caught:
        verify(document_text(receipt, receipt_key), token_keys)
    assert caught.value.code == UNKNOWN_KEY


def test_a_rotated_key_still_verifies_old_receipts_and_a_withdrawn_one_does_not(
    db_session, keyring, receipt, receipt_key, now
):
    old_text = document_text(receipt, receipt_key)
    later = now + dt.timedelta(days=400)
    new = rotate(db_session, keyring=keyring, use="receipt", now=later)
    assert active_key(db_session, keyring=keyring, use="receipt", now=later).kid == new.kid != receipt_key.kid
    years_on = later + dt.timedelta(days=3650)
    assert verify(old_text, jwks(db_session, years_on))[1] == receipt_key.kid
    new_key = active_key(db_session, keyring=keyring, use="receipt", now=years_on)
    assert verify(document_text(receipt, new_key), jwks(db_session, years_on))[1] == new.kid

    rotate(db_session, keyring=keyring, use="receipt", now=years_on, overlap=dt.timedelta(0))  # compromised
    assert verify(old_text, jwks(db_session, years_on))[1] == receipt_key.kid  # older keys untouched
    with pytest.raises(Invalid) as caught:
        verify(document_text(receipt, new_key), jwks(db_session, years_on))
    assert caught.value.code == UNKNOWN_KEY


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, 0.99])
def test_a_truncated_file_is_reported_as_truncated(db_session, receipt, receipt_key, now, cut):
    text = document_text(receipt, receipt_key)
    with pytest.raises(Invalid, match="truncated") as caught:
        verify(text[: int(len(text) * cut)], jwks(db_session, now))
    assert caught.value.code == MALFORMED


def test_a_truncated_jws_is_reported_as_truncated(db_session, receipt, receipt_key, now):
    compact = sign_receipt(receipt, receipt_key)
    for text in (compact[:-10], compact.rsplit(".", 1)[0], ""):
        with pytest.raises(Invalid, match="truncated"):
            verify(text, jwks(db_session, now))


@pytest.mark.parametrize(
    "text",
    [
        "not a receipt",
        '{"receipt": {}, "jws": 5}',
        "[1, 2]",
        '{"jws": "a.b.c.d.e"}',
        '{"receipt": [], "jws": "a.b.c"}',
        "{receipt: 1}",
    ],
)
def test_malformed_files_are_reported_as_malformed(db_session, receipt_key, now, text):
    with pytest.raises(Invalid, match="malformed") as caught:
        verify(text, jwks(db_session, now))
    assert caught.value.code == MALFORMED


def test_another_algorithm_is_malformed(db_session, receipt, receipt_key, now):
    _header, payload, signature = sign_receipt(receipt, receipt_key).split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": receipt_key.kid}).encode()).rstrip(
        b"="
    )
    with pytest.raises(Invalid, match="alg") as caught:
        verify(f"{header.decode()}.{payload}.{signature}", jwks(db_session, now))
    assert caught.value.code == MALFORMED


def test_a_receipt_key_never_verifies_or_decrypts_a_token(db_session, keyring, receipt_key, now):
    from core.crypto.platform_keys import key_by_kid, private_key_by_kid

    with pytest.raises(NotFound):
        key_by_kid(db_session, kid=receipt_key.kid, now=now)
    with pytest.raises(NotFound):
        private_key_by_kid(db_session, keyring=keyring, kid=receipt_key.kid, now=now)
