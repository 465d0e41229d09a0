"""Server-side web sessions: only the token's digest is stored; a session ends at revocation, its
idle timeout or its absolute lifetime; `last_seen_at` is written at most once a minute; a new
sign-in replaces the browser's old session; ended sessions are purged a day later."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

import identity.accounts
from core.errors import ValidationFailed
from identity.accounts import enrol
from identity.models import WebSession
from identity.web_sessions import (
    REPLACED,
    SIGNED_OUT,
    TOUCH_EVERY,
    purge_ended,
    resolve,
    revoke,
    revoke_all_for,
    start_session,
    token_digest,
    touch,
)
from tests.factories import fresh_uinfin, make_citizen

IDLE = dt.timedelta(minutes=15)
LIFETIME = dt.timedelta(minutes=30)
SECOND = dt.timedelta(seconds=1)


def start(db_session, now, *, role="citizen", subject=None, **overrides) -> str:
    args = {"idle": IDLE, "lifetime": LIFETIME, **overrides}
    return start_session(
        db_session, role=role, subject=str(uuid.uuid4()) if subject is None else subject, now=now, **args
    )


def row_of(db_session, token: str) -> WebSession:
    return db_session.get(WebSession, token_digest(token), populate_existing=True)


def test_only_the_tokens_digest_is_stored(db_session, now):
    token = start(db_session, now, subject="citizen-1")
    assert len(token) >= 43  # 256 random bits, base64url
    row = row_of(db_session, token)
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(row, column.key)) for column in WebSession.__table__.columns]
    assert not any(token in value for value in stored)
    assert (row.role, row.subject, row.created_at, row.last_seen_at) == ("citizen", "citizen-1", now, now)
    assert (row.idle_expires_at, row.expires_at) == (now + IDLE, now + LIFETIME)


def test_every_sign_in_gets_a_new_token(db_session, now):
    assert start(db_session, now, subject="a") != start(db_session, now, subject="a")


def test_a_live_session_resolves_to_its_principal(db_session, now):
    token = start(db_session, now, role="auditor", subject="auditor-7")
    row = resolve(db_session, token=token, now=now + SECOND)
    assert (row.role, row.subject) == ("auditor", "auditor-7")


@pytest.mark.parametrize("token", [None, "", "x" * 201, "ünïcode", 42, "no-such-token"])
def test_unknown_or_malformed_tokens_resolve_to_nothing(db_session, now, token):
    assert resolve(db_session, token=token, now=now) is None
    assert revoke(db_session, token=token, now=now) is False


def test_an_unused_session_ends_at_its_idle_timeout(db_session, now):
    token = start(db_session, now)
    assert resolve(db_session, token=token, now=now + IDLE - SECOND) is not None
    assert resolve(db_session, token=token, now=now + IDLE) is None


def test_use_pushes_the_idle_timeout_but_not_the_lifetime(db_session, now):
    token = start(db_session, now)
    for minutes in (10, 20, 29):
        seen = now + dt.timedelta(minutes=minutes)
        assert touch(db_session, row=resolve(db_session, token=token, now=seen), now=seen)
        assert row_of(db_session, token).idle_expires_at == min(seen + IDLE, now + LIFETIME)
    assert resolve(db_session, token=token, now=now + LIFETIME - SECOND) is not None
    assert resolve(db_session, token=token, now=now + LIFETIME) is None


def test_last_seen_is_written_at_most_once_a_minute(db_session, now):
    token = start(db_session, now)
    soon = now + TOUCH_EVERY - SECOND
    assert not touch(db_session, row=resolve(db_session, token=token, now=soon), now=soon)
    assert row_of(db_session, token).last_seen_at == now
    later = now + TOUCH_EVERY
    assert touch(db_session, row=resolve(db_session, token=token, now=later), now=later)
    assert row_of(db_session, token).last_seen_at == later


def test_touch_never_revives_a_revoked_session(db_session, now):
    token = start(db_session, now)
    later = now + 2 * TOUCH_EVERY
    row = resolve(db_session, token=token, now=later)
    revoke(db_session, token=token, now=later)
    assert not touch(db_session, row=row, now=later)
    assert resolve(db_session, token=token, now=later) is None


def test_revoking_ends_the_session_and_keeps_why(db_session, now):
    token = start(db_session, now)
    assert revoke(db_session, token=token, now=now + SECOND) is True
    assert resolve(db_session, token=token, now=now + 2 * SECOND) is None
    row = row_of(db_session, token)
    assert (row.revoked_at, row.revoked_reason) == (now + SECOND, SIGNED_OUT)
    assert revoke(db_session, token=token, now=now + 2 * SECOND) is False  # signing out twice


def test_a_new_sign_in_replaces_the_browsers_session_whatever_its_role(db_session, now):
    operator = start(db_session, now, role="staff", subject="staff-id")
    citizen = start(db_session, now + SECOND, replacing=operator)
    assert resolve(db_session, token=operator, now=now + SECOND) is None
    assert row_of(db_session, operator).revoked_reason == REPLACED
    assert resolve(db_session, token=citizen, now=now + SECOND) is not None


def test_revoke_all_for_ends_every_session_of_one_principal_only(db_session, now):
    mine = [start(db_session, now, subject="same") for _ in range(3)]
    other_role = start(db_session, now, role="auditor", subject="same")
    other_subject = start(db_session, now, subject="someone-else")
    assert revoke_all_for(db_session, role="citizen", subject="same", now=now, reason="closed") == 3
    assert all(resolve(db_session, token=token, now=now) is None for token in mine)
    assert {row_of(db_session, token).revoked_reason for token in mine} == {"closed"}
    assert resolve(db_session, token=other_role, now=now) is not None
    assert resolve(db_session, token=other_subject, now=now) is not None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 101}, "subject"),
        ({"idle": dt.timedelta(0)}, "idle"),
        ({"lifetime": -SECOND}, "lifetime"),
    ],
)
def test_malformed_sessions_are_refused(db_session, now, overrides, field):
    with pytest.raises(ValidationFailed) as caught:
        start(db_session, now, **overrides)
    assert field in caught.value.errors


def test_purge_deletes_sessions_a_day_past_their_lifetime(db_session, now):
    old = start(db_session, now - dt.timedelta(days=1) - LIFETIME - SECOND)
    recent = start(db_session, now - dt.timedelta(days=1) - LIFETIME + SECOND)
    revoke(db_session, token=recent, now=now - dt.timedelta(days=1))
    assert purge_ended(db_session, now=now) >= 1
    ids = set(db_session.scalars(select(WebSession.id)))
    assert token_digest(old) not in ids and token_digest(recent) in ids


def test_new_credentials_end_the_citizens_sessions(db_session, runtime, now, monkeypatch):
    monkeypatch.setattr(identity.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    uinfin = fresh_uinfin()
    citizen = make_citizen(db_session, runtime.vault, uinfin=uinfin, now=now)
    token = start(db_session, now, subject=citizen.id)
    enrol(db_session, vault=runtime.vault, uinfin=uinfin, password="a new long password", now=now)
    assert resolve(db_session, token=token, now=now) is None
    assert row_of(db_session, token).revoked_reason == "credentials_changed"
