"""Consent receipts: for every consent decision and every release, a JSON document with the
information elements of ISO/IEC TS 27560 (consent record information structure), signed as a JWS
(RFC 7515, Ed25519) with the platform's receipt key.

A receipt derives from the audit entry of its event, and from nothing that changes afterwards but
the app's registration: its `record_id` is `urn:consentry:receipt:<log id>:<seq>`, and it carries
the entry's seq and leaf hash, so a receipt and the audit log name the same event and a receipt can
be tied to an inclusion proof (`GET /api/audit/proofs/inclusion?seq=`). Receipts are built on
demand, not stored: the payload is canonical JSON (RFC 8785) of immutable facts, and Ed25519
signatures are deterministic, so the citizen and the app get the same bytes while the receipt key
is unchanged; after a rotation a fresh download is signed by the new key, while one saved earlier
keeps verifying against the old key, which stays published.

The PII principal is the citizen's keyed digest (`citizen_ref`), never the national id. Flask-free;
reads only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.canonical import canonical_json
from audit.models import AuditEntry
from core.errors import NotFound
from profile_store.models import Citizen

from .grant_models import IssuedToken
from .models import AgencyApp, Consent, Purpose

SCHEMA_VERSION = "consentry-receipt/1; ISO/IEC TS 27560:2023"
RECEIPT_TYP = "consent-receipt+jws"
ALG = "Ed25519"  # RFC 9864's fully-specified name for EdDSA over Ed25519
URN_PREFIX = "urn:consentry:receipt:"
NOT_STATED = "not stated"
# Audit kinds that yield a receipt, and the event each is in the receipt.
EVENTS = {
    "disclosure": "released",
    "consent_granted": "consent_given",
    "consent_declined": "consent_declined",
    "consent_revoked": "consent_withdrawn",
    "consent_expired": "consent_expired",
}
# The audit entry's time is read from the clock after the consent's: never earlier, but a second's
# slack covers a clock step between the two reads.
CLOCK_SLACK = dt.timedelta(seconds=1)
PRINCIPAL_ID_TYPE = "keyed digest: HMAC-SHA256 of the national id under the platform's lookup key"


@dataclass(frozen=True)
class ReceiptContext:
    """What a receipt says about the deployment: the audit log's id, the jurisdiction, and where a
    citizen withdraws a consent."""

    log_id: str
    jurisdiction: str
    withdrawal_url: str


def record_id(log_id: str, seq: int) -> str:
    return f"{URN_PREFIX}{log_id}:{seq}"


def citizen_receipt(
    session: Session, *, seq: int, citizen_ref: str, context: ReceiptContext
) -> dict[str, Any]:
    """The receipt of audit entry `seq` for the citizen whose keyed digest is `citizen_ref`.
    Raises NotFound for an unknown entry, one that yields no receipt, or another citizen's."""
    entry = _entry(session, seq)
    if entry.citizen_ref != citizen_ref:
        raise NotFound("no such receipt")
    return build_receipt(session, entry, context=context)


def app_receipt(session: Session, *, seq: int, client_id: str, context: ReceiptContext) -> dict[str, Any]:
    """The receipt of audit entry `seq` for the agency app `client_id`: only its own events.
    Raises NotFound for an unknown entry, one that yields no receipt, or another app's."""
    entry = _entry(session, seq)
    if entry.app_id != client_id:
        raise NotFound("no such receipt")
    return build_receipt(session, entry, context=context)


def consent_receipt_seq(session: Session, *, consent: Consent, citizen_ref: str) -> int:
    """The seq of the `consent_granted` entry that recorded `consent`: the receipt of the consent.
    The entry is appended just after the consent is granted, so it is among the citizen's first
    entries from `granted_at` on (index citizen_ref, recorded_at, seq). Raises NotFound when the
    consent has no such entry (one made outside the consent screen, as the demo's seed does)."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.citizen_ref == citizen_ref,
            AuditEntry.recorded_at >= consent.granted_at - CLOCK_SLACK,
            AuditEntry.kind == "consent_granted",
            AuditEntry.app_id == consent.client_id,
        )
        .order_by(AuditEntry.recorded_at, AuditEntry.seq)
        .limit(50)
    )
    for entry in session.scalars(query):
        if (json.loads(entry.body).get("details") or {}).get("consent_id") == consent.id:
            return entry.seq
    raise NotFound("no receipt for this consent")


def release_seqs(session: Session, *, client_id: str, token_jti: str) -> list[int]:
    """The seqs of the releases to `client_id` under its access token `token_jti` (the app can
    read the jti in its token), newest first: how an app finds the receipts of its releases. The
    search spans the token's life (issued_at to expires_at) among its citizen's entries, on the
    index (citizen_ref, recorded_at, seq). Raises NotFound for a token unknown to this app, or
    purged (a day after it expired)."""
    token = session.get(IssuedToken, token_jti)
    citizen = session.get(Citizen, token.citizen_id) if token is not None else None
    if token is None or citizen is None or token.client_id != client_id:
        raise NotFound("no access token with this jti for this app")
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.citizen_ref == citizen.uinfin_digest,
            AuditEntry.app_id == client_id,
            AuditEntry.recorded_at >= token.issued_at,
            AuditEntry.recorded_at <= token.expires_at + CLOCK_SLACK,
            AuditEntry.kind == "disclosure",
        )
        .order_by(AuditEntry.recorded_at.desc(), AuditEntry.seq.desc())
    )
    return [
        entry.seq
        for entry in session.scalars(query)
        if (json.loads(entry.body).get("details") or {}).get("token_jti") == token_jti
    ]


def _entry(session: Session, seq: int) -> AuditEntry:
    entry = session.get(AuditEntry, seq)
    if entry is None or entry.kind not in EVENTS or entry.citizen_ref is None or entry.app_id is None:
        raise NotFound("no such receipt")
    return entry


def build_receipt(session: Session, entry: AuditEntry, *, context: ReceiptContext) -> dict[str, Any]:
    """The receipt's content (unsigned) for one audit entry of a receipt kind."""
    body = json.loads(entry.body)
    details = body.get("details") or {}
    app = session.get(AgencyApp, body["app_id"])
    purpose = session.get(Purpose, (body["app_id"], body.get("purpose", "")))
    consent_id = details.get("consent_id")
    consent = session.get(Consent, consent_id) if consent_id else None
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": record_id(context.log_id, entry.seq),
        "audit": {"log_id": context.log_id, "seq": entry.seq, "leaf_hash": entry.leaf_hash.hex()},
        "pii_principal": {"id": body["citizen_ref"], "id_type": PRINCIPAL_ID_TYPE},
        "pii_controller": {
            "name": details.get("agency") or (app.agency if app else NOT_STATED),
            "app_id": body["app_id"],
            "app_name": app.name if app else body["app_id"],
        },
        "purpose": {
            "id": body.get("purpose", NOT_STATED),
            "description": purpose.description if purpose else NOT_STATED,
        },
        "pii_categories": _categories(body, details, consent),
        "processing": (purpose.processing if purpose else None) or NOT_STATED,
        "retention": (purpose.retention if purpose else None) or NOT_STATED,
        "jurisdiction": context.jurisdiction,
        "event": {"type": EVENTS[body["kind"]], "time": body["time"]},
        "consent_id": consent_id,
        "validity": _validity(body, details, consent),
        "withdrawal": _withdrawal(body["kind"], consent_id, context),
    }


def _categories(body: dict, details: dict, consent: Consent | None) -> dict[str, list[str]]:
    """Attribute names by what became of them; a part of an attribute as `name.part`."""
    named = list(body.get("attributes", []))
    kind = body["kind"]
    if kind == "disclosure":
        released = named + list(details.get("sub_attributes", []))
        return {"released": released, "declined": list(consent.declined) if consent else []}
    if kind == "consent_granted":
        return {
            "approved": named + list(details.get("parts", [])),
            "declined": list(details.get("declined", [])),
        }
    if kind == "consent_declined":
        return {"approved": [], "declined": named}
    return {"withdrawn" if kind == "consent_revoked" else "expired": named}


def _validity(body: dict, details: dict, consent: Consent | None) -> dict[str, Any]:
    kind, time = body["kind"], body["time"]
    if kind == "consent_granted":
        remembered = bool(details.get("remembered"))
        until = _iso(consent.expires_at) if consent else details.get("expires_at")
        return {"scope": "remembered" if remembered else "this request only", "from": time, "until": until}
    if kind == "disclosure":
        if consent is not None and consent.remembered:
            return {
                "scope": "remembered",
                "from": _iso(consent.granted_at),
                "until": _iso(consent.expires_at),
            }
        return {"scope": "this release only", "from": time, "until": time}
    if kind == "consent_declined":
        return {"scope": "nothing was agreed", "from": time, "until": time}
    return {"scope": "ended", "from": time, "until": time}


def _withdrawal(kind: str, consent_id: str | None, context: ReceiptContext) -> dict[str, str]:
    if kind in ("disclosure", "consent_granted") and consent_id:
        return {
            "method": "Withdraw the consent under 'My consents' on the citizen portal; the app's "
            "tokens stop working at once. Data already released is the agency's to handle.",
            "url": context.withdrawal_url,
        }
    return {
        "method": "Nothing to withdraw: this consent was declined or has ended.",
        "url": context.withdrawal_url,
    }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as audit bodies write times


def sign_receipt(receipt: dict[str, Any], key: OKPKey) -> str:
    """The compact JWS of `receipt` (payload: its canonical JSON), signed with receipt key `key`."""
    header = {"alg": ALG, "kid": key.kid, "typ": RECEIPT_TYP}
    return jws.serialize_compact(header, canonical_json(receipt), key, algorithms=[ALG])


def receipt_document(receipt: dict[str, Any], key: OKPKey) -> dict[str, Any]:
    """What a citizen downloads and an app fetches: the receipt to read, and the JWS that proves it
    (`python -m consent.receipt_verify` checks that the two agree)."""
    return {"receipt": receipt, "jws": sign_receipt(receipt, key)}


def payload_of(compact: str) -> dict[str, Any]:
    """The payload of a compact JWS, NOT verified (for tests and display only)."""
    segment = compact.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
