"""The grant behind an access token, as a resource call reads it: the token's row, its consent,
its app and its citizen in one select of plain columns, refused when the token or the consent no
longer allows a release (RFC 6750 §3.1). Also when an app's access under a consent ends.

Issuing the token (codes, redemption, the token row) is consent/grants.py. Every function reads
in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from itertools import islice
from typing import NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.driver_sql import DriverStatement
from core.errors import NotFound, Unauthorized
from profile_store.models import Citizen

from .grant_models import IssuedToken
from .models import AgencyApp, Consent


class InvalidToken(Unauthorized):
    """The access token is unknown, expired or revoked, or its consent is (RFC 6750 §3.1)."""

    code = "invalid_token"


class GrantToken(NamedTuple):
    """The columns of an issued token a resource call reads."""

    jti: str
    scope: list[str]
    requested_scope: list[str] | None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class GrantConsent(NamedTuple):
    """The columns of a token's consent a resource call reads."""

    id: str
    purpose_id: str
    remembered: bool
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    paused_at: dt.datetime | None
    used_at: dt.datetime | None

    def active_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class GrantApp(NamedTuple):
    """The columns of a token's app a resource call reads (names, keys, whether it may still)."""

    client_id: str
    name: str
    agency: str
    jwks: dict | None
    jwks_uri: str | None
    profiles: list[str]
    disabled: bool


class GrantCitizen(NamedTuple):
    """The columns of a token's citizen a resource call reads (the audit reference and the
    wrapped data key, as profile_store.vault reads them)."""

    id: str
    uinfin_digest: str
    dek_kid: str
    dek_wrapped: bytes


class Grant(NamedTuple):
    """What an access token stands for: its row, its consent, the app and the citizen, as plain
    read-only column tuples (not ORM objects: nothing here is changed through them)."""

    token: GrantToken
    consent: GrantConsent
    app: GrantApp
    citizen: GrantCitizen


_PARTS = (
    (GrantToken, IssuedToken.__table__),
    (GrantConsent, Consent.__table__),
    (GrantApp, AgencyApp.__table__),
    (GrantCitizen, Citizen.__table__),
)
_T, _C, _A, _Z = (table for _part, table in _PARTS)
# One round trip and plain columns on every person and userinfo call: loading four ORM entities
# (identity map, instance state, every column of each) was an eighth of a call. Built once.
_TOKEN_GRANT = DriverStatement(
    select(*(table.c[name] for part, table in _PARTS for name in part._fields))
    .select_from(_T)
    .join(_C, _C.c.id == _T.c.consent_id)
    .join(_A, _A.c.client_id == _T.c.client_id)
    .join(_Z, _Z.c.id == _T.c.citizen_id)
    .where(_T.c.jti == bindparam("jti"))
)


_CITIZEN_COLUMNS = DriverStatement(
    select(*(_Z.c[name] for name in GrantCitizen._fields)).where(_Z.c.id == bindparam("id"))
)


def grant_citizen(session: Session, citizen_id: str) -> GrantCitizen:
    """The columns of a citizen a release reads (as a resource call reads them with its token),
    for a release from the token call (an ID token's claims). Raises NotFound."""
    session.flush()  # pending ORM changes first, as session.execute would
    row = _CITIZEN_COLUMNS.first(session.connection(), {"id": citizen_id})
    if row is None:
        raise NotFound("no such citizen")
    return GrantCitizen._make(row)


def usable_token(session: Session, jti: str, *, now: dt.datetime) -> Grant:
    """The token's grant, if the token is unrevoked and unexpired and the consent still active and
    not paused: revoking or pausing a consent stops its tokens at once (resuming it lets them work
    again while unexpired). The app is returned as it is (the caller checks
    it is enabled). Reads in the caller's transaction; raises InvalidToken."""
    session.flush()  # pending ORM changes first, as session.execute would
    row = _TOKEN_GRANT.first(session.connection(), {"jti": jti})
    if row is None:
        raise InvalidToken("access token is unknown")
    columns = iter(row)
    token, consent, app, citizen = (part._make(islice(columns, len(part._fields))) for part, _ in _PARTS)
    if token.revoked_at is not None or token.expires_at <= now:
        raise InvalidToken("access token has expired or was revoked")
    if not consent.active_at(now):
        raise InvalidToken("the consent behind this access token was revoked or has expired")
    if consent.paused_at is not None:
        raise InvalidToken("the consent behind this access token is paused")
    return Grant(token, consent, app, citizen)


def access_ends(session: Session, *, consent_id: str, now: dt.datetime) -> dt.datetime | None:
    """When the app's access under the consent ends: the latest expiry among its unrevoked access
    tokens, capped by the consent's own expiry (`usable_token` refuses a token past
    either, and any token once the consent is withdrawn). None when no token works at `now`.
    Reads only, in the caller's transaction."""
    consent = session.get(Consent, consent_id)
    if consent is None or not consent.active_at(now):
        return None
    latest = session.scalar(
        select(func.max(IssuedToken.expires_at)).where(
            IssuedToken.consent_id == consent_id, IssuedToken.revoked_at.is_(None)
        )
    )
    if latest is None:
        return None
    ends = min(latest, consent.expires_at)  # UTCDateTime: aware on every backend, max() included
    return ends if ends > now else None
