"""Change notifications pushed by agencies (e.g. a change of address), signed with HMAC-SHA256.

Signature: `X-Signature: sha256=<hex HMAC(secret, "<X-Timestamp>.<raw body>")>`, with
`X-Timestamp` in Unix seconds. Old or future timestamps and replayed notice ids are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime
from core.errors import Conflict, Unauthorized


class AgencyNotice(Base):
    """Notices already acted on, so a replayed notice is refused."""

    __tablename__ = "agency_notices"

    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: dt.datetime,
    max_skew_s: int,
) -> None:
    """Raises Unauthorized unless the signature is valid and the timestamp is fresh."""
    if not timestamp or not signature or not timestamp.isdigit():
        raise Unauthorized("missing or malformed X-Timestamp / X-Signature")
    if abs(now.timestamp() - int(timestamp)) > max_skew_s:
        raise Unauthorized("notification timestamp outside the accepted window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise Unauthorized("bad notification signature")


def claim_notice(session: Session, *, agency: str, notice_id: str, now: dt.datetime) -> None:
    """Record the notice in the caller's transaction; Conflict if it was already processed."""
    try:
        # A savepoint, so a concurrent duplicate fails here and not at the caller's commit.
        with session.begin_nested():
            session.add(AgencyNotice(agency=agency, notice_id=notice_id, received_at=now))
    except IntegrityError:
        raise Conflict("notice already processed") from None
