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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from joserfc import jwe
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from agency_connectors.refresh import refresh_citizen
from audit.log import Event
from consent.lifecycle import mark_used
from consent.models import AgencyApp
from consent.token_grants import Grant, GrantApp, GrantCitizen
from profile_store.assembly import assemble_read, read_person
from profile_store.models import Citizen

from ..auditing import record, refresh_event
from ..extensions import Runtime
from ..notices.events import notify_release
from . import fast_jose

JWE_ALG, JWE_ENC = "ECDH-ES+A256KW", "A256GCM"
T = TypeVar("T")
ENVELOPE = ("lastupdated", "source", "classification", "unavailable")


@dataclass(frozen=True)
class Encryption:
    """Which of an app's encryption keys we may encrypt to (key-management algorithms and
    curves; the strongest usable key wins) and the content encryption."""

    key_algorithms: tuple[str, ...]
    curves: tuple[str, ...]
    enc: str


# MyInfo v4 §5.3: ECDH-ES+A256KW to a P-256 key, A256GCM.
V4_PERSON = Encryption((JWE_ALG,), ("P-256",), JWE_ENC)


@dataclass(frozen=True)
class Release:
    """What may go out under one access token, as the wire layer verified it."""

    profile: str  # "myinfo-v4" | "myinfo-v5"
    app: AgencyApp | GrantApp
    citizen: Citizen | GrantCitizen
    purpose_id: str
    consent_id: str
    token_jti: str
    attributes: Sequence[str]
    subentity: str | None = None
    # attribute -> the dotted sub-attribute paths asked for (v5 scopes such as `cpfbalances.oa`);
    # an attribute not named here goes out whole.
    subfields: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The scope values the call asked for (app.oauth.selection): the audit entry records them
    # beside `attributes`, what went; a declined item is asked and absent.
    asked: Sequence[str] = ()
    # A "this request only" consent not yet marked used: this release marks it (consent.lifecycle).
    single_use: bool = False

    @classmethod
    def of(cls, grant: Grant, *, profile: str, attributes: Sequence[str], **parts: Any) -> Release:
        """The release `grant` (a usable token's) allows of `attributes`; `parts`: subentity,
        subfields, asked."""
        return cls(
            profile=profile,
            app=grant.app,
            citizen=grant.citizen,
            purpose_id=grant.consent.purpose_id,
            consent_id=grant.consent.id,
            token_jti=grant.token.jti,
            attributes=attributes,
            # Only the first release has anything to mark: later ones would run an UPDATE that
            # changes nothing (mark_used is conditional, so two first releases at once are safe).
            single_use=not grant.consent.remembered and grant.consent.used_at is None,
            **parts,
        )


@contextmanager
def disclosure_writer(rt: Runtime, reader: Session) -> Iterator[Session]:
    """The session a disclosure's audit entry is appended in, for release_person; the caller
    commits it. On SQLite a writer session of its own: the database has one write lock, taken
    by the writer's first statement, so it must not be the session the profile was read in. On
    PostgreSQL the request's own session: row locks serialise only the append, and one
    connection per request is cheaper than two."""
    if rt.engine.dialect.name != "sqlite":
        yield reader
        return
    with rt.writer_sessions() as writer:
        yield writer


def release_person(
    reader: Session,
    writer: Session,
    rt: Runtime,
    release: Release,
    *,
    now: dt.datetime,
    seal: Callable[[dict[str, Any]], T],
    spend: Callable[[Session], None],
) -> T:
    """`seal` of the person JSON for `release` (the wire profile signs and encrypts it), with its
    disclosure appended to the audit log in `writer`'s transaction, after `spend` recorded there
    the use of what authorised it (the request's DPoP proof; it raises on a replay). The caller
    commits `writer` and only then sends the result; any failure (a replayed proof, audit write,
    unusable client key, commit) leaves nothing sent.

    The profile is read in `reader` (the request's session). With a separate `writer`
    (disclosure_writer, SQLite), the read transaction ends before the append, so the write lock
    is held for the append and commit only, not for the reads, decryption and sealing, and app
    servers overlap. A stale field refreshed first goes through `writer`, and is read back there."""
    citizen: Citizen | GrantCitizen = release.citizen
    # The values and each agency's last success in one round trip; decrypted once known fresh.
    read = read_person(reader, citizen_id=citizen.id, attributes=release.attributes)
    if stale := _stale_agencies(rt, read.last_successes, release.attributes, now=now):
        if reader is not writer:
            reader.commit()
            reader = writer
        # The refresh writes through the ORM: the citizen as an entity of the writer's session.
        entity = writer.get_one(Citizen, release.citizen.id)
        _refresh(writer, rt, entity, stale, now=now)
        citizen = entity
        read = read_person(reader, citizen_id=citizen.id, attributes=release.attributes)
    person = assemble_read(read, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen)
    body = seal(narrow(person, release.subfields))
    if reader is not writer:
        reader.commit()  # a read-only transaction: ends it, so the append below starts afresh
    spend(writer)
    record(writer, disclosure_event(citizen, release))
    notify_release(writer, release, now=now)  # the citizen's notice commits with the release
    if release.single_use:
        mark_used(writer, consent_id=release.consent_id, now=now)
    return body


def narrow(person: dict[str, Any], subfields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Keep, of each attribute named in `subfields`, only the dotted sub-paths asked for; the
    envelope (lastupdated, source, classification, unavailable) stays on the item, or on each
    element of a list attribute (v5 spec §8.3). A sub-field the record lacks is left out."""
    narrowed = dict(person)
    for name, paths in subfields.items():
        item = person.get(name)
        if isinstance(item, list):
            narrowed[name] = [_pick(element, paths) for element in item if isinstance(element, dict)]
        elif isinstance(item, dict) and not item.get("unavailable"):
            narrowed[name] = _pick(item, paths)
    return narrowed


def _pick(item: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    picked: dict[str, Any] = {key: item[key] for key in ENVELOPE if key in item}
    for path in paths:
        *parents, leaf = path.split(".")
        source: Any = item
        for part in parents:
            source = source.get(part) if isinstance(source, dict) else None
        if not isinstance(source, dict) or leaf not in source:
            continue
        target = picked
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = source[leaf]
    return picked


def encryption_key(rt: Runtime, app: AgencyApp | GrantApp, encryption: Encryption = V4_PERSON) -> ECKey:
    """The app's key to encrypt to under `encryption`; JwksError when it publishes none."""
    resolver = rt.client_jwks.resolver(app.client_id, jwks=app.jwks, jwks_uri=app.jwks_uri)
    return resolver.encryption_key(encryption.key_algorithms, encryption.curves)


def seal(
    rt: Runtime,
    app: AgencyApp | GrantApp,
    payload: dict[str, Any],
    *,
    claims: dict[str, Any] | None = None,
    encryption: Encryption = V4_PERSON,
) -> str:
    """JWS (ES256, our active key, kid in our JWKS) inside a compact JWE (cty JWT, the key's kid)
    to the app's encryption key: by default ECDH-ES+A256KW and A256GCM, as MyInfo v4 §5.3
    specifies; v5 passes its own `encryption`. Raises JwksError when the app publishes no usable
    encryption key."""
    enc_key = encryption_key(rt, app, encryption)
    alg = enc_key.alg or JWE_ALG  # an enc key without alg is taken as ECDH-ES+A256KW
    signing = rt.platform_keys.signing_key()
    body = json.dumps({**(claims or {}), **payload}, separators=(",", ":"), ensure_ascii=False)
    # Straight on `cryptography` (app.oauth.fast_jose, the same bytes joserfc writes): joserfc's
    # generality cost more than the signing and encryption themselves on every release.
    signed = fast_jose.sign_es256({"alg": "ES256", "kid": signing.kid, "typ": "JWT"}, body.encode(), signing)
    header = {"alg": alg, "enc": encryption.enc, "cty": "JWT"}
    if enc_key.kid:
        header["kid"] = enc_key.kid
    if fast_jose.supports(alg, encryption.enc):
        return fast_jose.encrypt_ecdh_es_kw(header, signed, enc_key)
    return jwe.encrypt_compact(header, signed, enc_key, algorithms=[alg, encryption.enc])


def disclosure_event(citizen: Citizen | GrantCitizen, release: Release) -> Event:
    details: dict[str, Any] = {
        "agency": release.app.agency,
        "consent_id": release.consent_id,
        "token_jti": release.token_jti,
        "profile": release.profile,
    }
    if release.subentity:
        details["subentity"] = release.subentity
    if release.asked:
        details["asked"] = sorted(release.asked)  # what the call asked; `attributes`, what went
    if release.subfields:
        # Searchable by attribute like every disclosure; what left of each is named here.
        details["sub_attributes"] = sorted(
            f"{name}.{path}" for name, paths in release.subfields.items() for path in paths
        )
    return Event(
        kind="disclosure",
        citizen_ref=citizen.uinfin_digest,
        app_id=release.app.client_id,
        purpose=release.purpose_id,
        outcome="released",
        attributes=tuple(sorted(release.attributes)),
        details=details,
    )


def _stale_agencies(
    rt: Runtime,
    last_successes: Mapping[str, dt.datetime | None],
    attributes: Sequence[str],
    *,
    now: dt.datetime,
) -> list[str]:
    """The agencies owning requested fields that were not fetched within the configured age."""
    max_age = dt.timedelta(seconds=rt.config.person_refresh_max_age_s)
    owners = {rt.catalogue[name].agency for name in attributes if name in rt.catalogue}
    owners &= set(rt.connectors.codes())
    return sorted(code for code in owners if (at := last_successes.get(code)) is None or now - at > max_age)


def _refresh(
    session: Session, rt: Runtime, citizen: Citizen, stale: Sequence[str], *, now: dt.datetime
) -> None:
    """Refresh the citizen's fields from the `stale` agencies, bounded by `person_refresh_budget_s`:
    an agency slower than that keeps its stored value, which goes out with its true lastupdated."""
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
