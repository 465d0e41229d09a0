"""Releasing person data to an agency app: the one path every wire profile (v4 person, v5
userinfo) goes through.

Order matters and is the guarantee auditors rely on: refresh stale fields (within a budget),
assemble exactly the approved attributes, sign (JWS, our key) and encrypt (JWE, the app's key),
append the disclosure to the audit log and commit. Only after the commit does the caller send a
byte; if the audit append or the commit fails, nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from sqlalchemy.orm import Session

from agency_connectors.refresh import refresh_citizen
from audit.log import Event
from consent.models import AgencyApp
from profile_store.assembly import agency_status, assemble_person
from profile_store.citizens import get_citizen
from profile_store.models import Citizen

from ..auditing import record, refresh_event
from ..extensions import Runtime

JWE_ALG, JWE_ENC = "ECDH-ES+A256KW", "A256GCM"


@dataclass(frozen=True)
class Release:
    """What may go out under one access token, as the wire layer verified it."""

    profile: str  # "myinfo-v4" | "myinfo-v5"
    app: AgencyApp
    citizen_id: str
    purpose_id: str
    consent_id: str
    token_jti: str
    attributes: Sequence[str]
    subentity: str | None = None


def release_person(session: Session, rt: Runtime, release: Release, *, now: dt.datetime) -> dict[str, Any]:
    """The person JSON for `release`, disclosed and committed. Raises before committing on any
    failure (unknown citizen, unusable client key, audit write), so nothing leaves."""
    citizen = get_citizen(session, release.citizen_id)
    _refresh_stale(session, rt, citizen, release.attributes, now=now)
    person = assemble_person(
        session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=release.attributes
    )
    record(session, disclosure_event(citizen, release))
    return person


def seal(
    rt: Runtime, app: AgencyApp, payload: dict[str, Any], *, claims: dict[str, Any] | None = None
) -> str:
    """JWS (ES256, our active key, kid in our JWKS) inside a compact JWE to the app's encryption
    key (ECDH-ES+A256KW, A256GCM, cty JWT), as MyInfo v4 §5.3 specifies. Raises JwksError when
    the app publishes no usable encryption key."""
    enc_key = rt.client_jwks.resolver(app.client_id, jwks=app.jwks, jwks_uri=app.jwks_uri).encryption_key()
    signing = rt.platform_keys.signing_key()
    body = json.dumps({**(claims or {}), **payload}, separators=(",", ":"), ensure_ascii=False)
    signed = jws.serialize_compact(
        {"alg": "ES256", "kid": signing.kid, "typ": "JWT"},
        body.encode("utf-8"),
        signing,
        algorithms=["ES256"],
    )
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "cty": "JWT"}
    if enc_key.kid:
        header["kid"] = enc_key.kid
    return jwe.encrypt_compact(header, signed, enc_key, algorithms=[JWE_ALG, JWE_ENC])


def disclosure_event(citizen: Citizen, release: Release) -> Event:
    details: dict[str, Any] = {
        "agency": release.app.agency,
        "consent_id": release.consent_id,
        "token_jti": release.token_jti,
        "profile": release.profile,
    }
    if release.subentity:
        details["subentity"] = release.subentity
    return Event(
        kind="disclosure",
        citizen_ref=citizen.uinfin_digest,
        app_id=release.app.client_id,
        purpose=release.purpose_id,
        outcome="released",
        attributes=tuple(sorted(release.attributes)),
        details=details,
    )


def _refresh_stale(
    session: Session, rt: Runtime, citizen: Citizen, attributes: Sequence[str], *, now: dt.datetime
) -> None:
    """Refresh, from their agencies, requested fields not fetched within the configured age.

    Bounded by `person_refresh_budget_s`: an agency slower than that keeps its stored value,
    which goes out with its true lastupdated."""
    max_age = dt.timedelta(seconds=rt.config.person_refresh_max_age_s)
    owners = {rt.catalogue[name].agency for name in attributes if name in rt.catalogue}
    owners &= set(rt.connectors.codes())
    if not owners:
        return
    syncs = agency_status(session, citizen.id)
    stale = sorted(
        code
        for code in owners
        if (sync := syncs.get(code)) is None or sync.succeeded_at is None or now - sync.succeeded_at > max_age
    )
    if not stale:
        return
    result = refresh_citizen(
        session,
        registry=rt.connectors,
        vault=rt.vault,
        catalogue=rt.catalogue,
        citizen=citizen,
        now=now,
        agencies=stale,
        budget_s=rt.config.person_refresh_budget_s,
    )
    record(session, refresh_event(citizen, result))
