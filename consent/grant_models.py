"""What an authorisation hands out, as records: the pending request, the one-time code, and each
access token issued from it.

Codes, and the `request_uri` handles of pushed requests (RFC 9126), are stored as SHA-256 digests
only: a database read does not yield a redeemable code or a usable request_uri.
Access tokens are signed JWTs; their rows hold the `jti`, so a token can be revoked (a replayed
code, a revoked consent) and every person call can check that it has not been.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class AuthorizationRequest(Base):
    """A validated authorisation request waiting for the citizen (sign-in, then the consent screen).
    Its id is the unguessable handle in the consent page's URL; it is completed at most once.

    A pushed request (Myinfo v5, RFC 9126) also has a `request_uri`, a second handle given to the
    client, which the browser must present at the authorization endpoint before
    `request_uri_expires_at`; only then does it learn the consent page's id."""

    __tablename__ = "authorization_requests"
    __table_args__ = (
        Index("ix_authorization_requests_expires_at", "expires_at"),
        Index("ix_authorization_requests_request_uri_hash", "request_uri_hash", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile: Mapped[str] = mapped_column(String(20))  # "myinfo-v4" | "myinfo-v5"
    client_id: Mapped[str] = mapped_column(ForeignKey("agency_apps.client_id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[list[str]] = mapped_column(JSON)
    purpose_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    subentity: Mapped[str | None] = mapped_column(String(100))
    nonce: Mapped[str | None] = mapped_column(Text)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    # The scope as the client sent it, where it says more than `scope` (the attributes the
    # consent is about): v5's `openid` and dotted sub-attributes such as `cpfbalances.oa`.
    wire_scope: Mapped[list[str] | None] = mapped_column(JSON)
    request_uri_hash: Mapped[str | None] = mapped_column(String(64))
    request_uri_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_expires_at", "expires_at"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str] = mapped_column(ForeignKey("agency_apps.client_id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"), index=True)
    purpose_id: Mapped[str] = mapped_column(String(100))
    scope: Mapped[list[str]] = mapped_column(JSON)  # the approved attributes
    subentity: Mapped[str | None] = mapped_column(String(100))
    nonce: Mapped[str | None] = mapped_column(Text)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    # The scope as requested: the request's `wire_scope` where it has one (v5), else its
    # attributes (v4). `scope` above is what of it the citizen approved.
    wire_scope: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class IssuedToken(Base):
    __tablename__ = "issued_tokens"
    __table_args__ = (Index("ix_issued_tokens_expires_at", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(
        ForeignKey("authorization_codes.code_hash", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    jkt: Mapped[str] = mapped_column(String(64))
    scope: Mapped[list[str]] = mapped_column(JSON)  # the approved attributes
    # The authorisation request's scope as sent (its code's `wire_scope`): a resource call may ask
    # for any of it, declined items being simply absent; None (tokens from before it was kept):
    # only `scope` may be asked for.
    requested_scope: Mapped[list[str] | None] = mapped_column(JSON)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
