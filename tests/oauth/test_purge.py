"""Expired grant records are purged a day after they expire; live ones and the audit log stay."""

from __future__ import annotations

import datetime as dt
import secrets

from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

from audit.models import AuditEntry
from consent.grant_models import AuthorizationCode, AuthorizationRequest, IssuedToken
from tests.oauth import flow


def counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (IssuedToken, AuthorizationCode, AuthorizationRequest)
    }


def test_purge_deletes_only_what_expired_over_a_day_ago(app, client, db_session, runtime):
    keys = flow.AgencyKeys()
    flow.setup_app(db_session, runtime, keys)
    citizen = flow.setup_citizen(db_session, runtime)
    for _ in range(2):
        verifier, dpop_key = secrets.token_hex(32), ECKey.generate_key("P-256")
        flow.get_token(client, keys, flow.get_code(client, citizen.id, verifier), verifier, dpop_key)
    before, audited = counts(db_session), db_session.scalar(select(func.count()).select_from(AuditEntry))
    assert all(n >= 2 for n in before.values())

    # One grant's records expired two days ago; the other's are live.
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    # This citizen's: live-server tests commit codes of their own into the same database.
    code_hash = db_session.scalars(
        select(AuthorizationCode.code_hash).where(AuthorizationCode.citizen_id == citizen.id).limit(1)
    ).one()
    db_session.execute(update(IssuedToken).where(IssuedToken.code_hash == code_hash).values(expires_at=old))
    db_session.execute(
        update(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash).values(expires_at=old)
    )
    db_session.commit()

    result = app.test_cli_runner().invoke(args=["oauth", "purge"])

    assert result.exit_code == 0, result.output
    assert "1 issued_tokens, 1 authorization_codes, 0 authorization_requests deleted" in result.output
    after = counts(db_session)
    assert after["issued_tokens"] == before["issued_tokens"] - 1
    assert after["authorization_codes"] == before["authorization_codes"] - 1
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == audited
