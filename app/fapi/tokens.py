"""What the v5 token and userinfo endpoints hand out besides the access token: the ID token
(v5 spec §6) and the userinfo envelope (§8.1). Both are an ES256 JWS by our active key inside a
compact JWE to the client's strongest encryption key, with that key's `kid` (app.oauth.release.seal).

The ID token's `sub_attributes` (SP-IDT) are personal data: the identity number, name, email and
mobile number the Login scopes (`user.identity`, `name`, `email`, `mobileno`) ask for, and only
of what the citizen approved on the consent screen. They leave like any release: read from the
profile store, and a disclosure entry in the audit log in the transaction that issues the token
(`issue_id_token`), so the token is not issued without its record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from consent.grants import RedeemedCode
from consent.models import AgencyApp
from consent.token_grants import GrantApp, grant_citizen
from profile_store.assembly import assemble_person

from ..auditing import record
from ..extensions import Runtime
from ..notices.events import notify_release
from ..oauth.release import Release, disclosure_event, seal
from .profile import ACR, AMR, ID_TOKEN_ENCRYPTION, ID_TOKEN_TTL_S, PROFILE, USERINFO_ENCRYPTION
from .scopes import IDENTITY, LOGIN_SCOPES, login_attributes

# SP-IDT: every account here is a standard Singpass account, identified by a Singapore NRIC or FIN.
ACCOUNT_TYPE, IDENTITY_COI = "standard", "SG"


def issue_id_token(
    session: Session,
    rt: Runtime,
    app: AgencyApp,
    grant: RedeemedCode,
    *,
    token_jti: str,
    issuer: str,
    now: dt.datetime,
) -> str:
    """The ID token for a redeemed code, with `sub_attributes` when a Login scope was asked for
    and its attribute approved; their disclosure is appended to the audit log in `session` (the
    caller commits it with the token). Raises JwksError when the app publishes no usable
    encryption key, before anything is written."""
    wire_scope = grant.wire_scope or []
    names = login_attributes(wire_scope, grant.scope)
    if not names:
        return id_token(rt, app, grant, issuer=issuer, now=now)
    citizen = grant_citizen(session, grant.citizen_id)
    person = assemble_person(
        session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=names
    )
    attributes = sub_attributes(person, wire_scope)
    token = id_token(rt, app, grant, issuer=issuer, now=now, attributes=attributes)
    if attributes:
        sent = [name for name in names if _value(person.get(name)) is not None]
        release = Release(
            profile=PROFILE,
            app=app,
            citizen=citizen,
            purpose_id=grant.purpose_id,
            consent_id=grant.consent_id,
            token_jti=token_jti,
            attributes=sent,
            asked=[value for value in wire_scope if value in LOGIN_SCOPES],
        )
        event = disclosure_event(citizen, release)
        record(session, dataclasses.replace(event, details={**event.details, "in": "id_token"}))
        notify_release(session, release, now=now)
    return token


def id_token(
    rt: Runtime,
    app: AgencyApp,
    grant: RedeemedCode,
    *,
    issuer: str,
    now: dt.datetime,
    attributes: dict[str, str] | None = None,
) -> str:
    """iss, sub, aud (the client id, a string), iat, exp (10 minutes), the PAR nonce, acr, amr,
    sub_type and, when given, sub_attributes (SP-IDT). Raises JwksError when the app publishes
    no usable encryption key."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.citizen_id,
        "aud": app.client_id,
        "iat": iat,
        "exp": iat + ID_TOKEN_TTL_S,
        "nonce": grant.nonce,
        "acr": ACR,  # the only level offered, so every accepted `acr_values` chose it (par.py)
        "amr": list(AMR),
        "sub_type": "user",
    }
    if attributes:
        claims["sub_attributes"] = attributes
    return seal(rt, app, claims, encryption=ID_TOKEN_ENCRYPTION)


def sub_attributes(person: dict[str, Any], wire_scope: list[str]) -> dict[str, str]:
    """SP-IDT's sub_attributes from the person JSON of the approved Login attributes: plain
    strings, each left out when the profile holds no value (an email not registered)."""
    out: dict[str, str] = {}
    if IDENTITY in wire_scope and (number := _value(person.get("uinfin"))) is not None:
        out.update(account_type=ACCOUNT_TYPE, identity_number=number, identity_coi=IDENTITY_COI)
    for name in ("name", "email", "mobileno"):
        if name in wire_scope and (value := _value(person.get(name))) is not None:
            out[name] = value
    return out


def _value(item: Any) -> str | None:
    """An item's plain value: `value`, or a mobile number's `nbr` (a Singapore number without
    its country code, as SP-IDT gives it)."""
    if not isinstance(item, dict) or item.get("unavailable"):
        return None
    value = item.get("value")
    if value is None and isinstance(item.get("nbr"), dict):
        value = item["nbr"].get("value")
    return value if isinstance(value, str) and value else None


def userinfo(
    rt: Runtime, app: AgencyApp | GrantApp, person: dict[str, Any], *, issuer: str, sub: str, now: dt.datetime
) -> str:
    """The userinfo response body: {person_info, iss, sub, aud, iat} with `iat` a number (v5 spec
    §8.1, §15 Q7) and `sub` the ID token's."""
    claims = {"iss": issuer, "sub": sub, "aud": app.client_id, "iat": int(now.timestamp())}
    return seal(rt, app, {"person_info": person}, claims=claims, encryption=USERINFO_ENCRYPTION)
