"""`consentry keys ...` through the CLI runner: ensure, rotate with an overlap (the old key stays
published until it ends, then is gone), rotate a compromised key at once, list; every change audited.

Time is frozen with time-machine while a command runs; what is published afterwards is read with
an explicit `now`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import func, select

from audit.models import AuditEntry
from core.clock import utcnow
from core.crypto.platform_keys import ensure_keys, find_active_kid, published_jwks, receipt_jwks

OVERLAP = dt.timedelta(minutes=30)


@pytest.fixture
def start() -> dt.datetime:
    # The real present (audit entries are recorded at it), to the second.
    return utcnow().replace(microsecond=0)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def keyring(app):
    return app.extensions["consentry"].vault.keyring


@pytest.fixture
def initial(db_session, keyring, start) -> dict[str, str]:
    kids = ensure_keys(db_session, keyring=keyring, now=start - dt.timedelta(days=90))
    db_session.commit()
    return kids


def invoke(runner, args, at: dt.datetime):
    with time_machine.travel(at, tick=False):
        result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result


def published(db_session, now) -> set[str]:
    return {key["kid"] for key in published_jwks(db_session, now=now)["keys"]}


def last_seq(db_session) -> int:
    return db_session.scalar(select(func.coalesce(func.max(AuditEntry.seq), -1)))


def audit_bodies(db_session, after: int, outcome: str) -> list[dict]:
    query = select(AuditEntry).where(AuditEntry.seq > after, AuditEntry.outcome == outcome)
    return [json.loads(entry.body) for entry in db_session.scalars(query.order_by(AuditEntry.seq))]


def test_ensure_creates_one_key_per_use_once_and_audits_only_the_creation(runner, db_session, start):
    seq = last_seq(db_session)
    first = invoke(runner, ["keys", "ensure"], start)
    assert first.output.count("(created)") == 3
    again = invoke(runner, ["keys", "ensure"], start + dt.timedelta(minutes=1))
    assert "(created)" not in again.output
    kids = {use: find_active_kid(db_session, use=use, now=start) for use in ("sig", "enc", "receipt")}
    assert all(kids.values()) and all(kid in first.output for kid in kids.values())
    (entry,) = audit_bodies(db_session, seq, "keys_created")
    assert entry["kind"] == "admin_action"
    assert entry["details"] == {"action": "keys_created", "created": kids}


def test_rotate_makes_a_new_active_key_and_keeps_the_old_one_published_for_the_overlap(
    runner, db_session, initial, start
):
    seq = last_seq(db_session)
    result = invoke(runner, ["keys", "rotate", "--use", "sig"], start)

    new = find_active_kid(db_session, use="sig", now=start)
    assert new not in (None, initial["sig"]) and new in result.output
    assert find_active_kid(db_session, use="enc", now=start) == initial["enc"]  # untouched
    assert {initial["sig"], new} <= published(db_session, start + OVERLAP - dt.timedelta(seconds=1))
    after = published(db_session, start + OVERLAP)
    assert initial["sig"] not in after and {new, initial["enc"]} <= after

    (entry,) = audit_bodies(db_session, seq, "keys_rotated")
    assert entry["kind"] == "admin_action"
    assert entry["details"] == {
        "action": "keys_rotated",
        "keys": [{"use": "sig", "new_kid": new, "old_kid": initial["sig"]}],
        "overlap_minutes": 30,
    }


def test_a_compromised_key_is_withdrawn_at_once_with_overlap_zero(runner, db_session, initial, start):
    seq = last_seq(db_session)
    invoke(runner, ["keys", "rotate", "--use", "all", "--overlap-minutes", "0"], start)
    now_published = published(db_session, start)
    assert initial["sig"] not in now_published and initial["enc"] not in now_published
    new = {use: find_active_kid(db_session, use=use, now=start) for use in ("sig", "enc")}
    assert set(new.values()) == now_published
    (entry,) = audit_bodies(db_session, seq, "keys_rotated")
    assert entry["details"]["overlap_minutes"] == 0
    assert entry["details"]["keys"] == [
        {"use": "sig", "new_kid": new["sig"], "old_kid": initial["sig"]},
        {"use": "enc", "new_kid": new["enc"], "old_kid": initial["enc"]},
    ]


def test_rotating_before_any_key_exists_creates_one_with_no_predecessor(runner, db_session, start):
    seq = last_seq(db_session)
    invoke(runner, ["keys", "rotate", "--use", "enc", "--overlap-minutes", "5"], start)
    (entry,) = audit_bodies(db_session, seq, "keys_rotated")
    assert entry["details"]["keys"][0]["old_kid"] is None
    assert entry["details"]["keys"][0]["new_kid"] == find_active_kid(db_session, use="enc", now=start)


def test_list_shows_every_key_and_whether_it_is_published_now(runner, db_session, initial, start):
    invoke(runner, ["keys", "rotate", "--use", "sig", "--overlap-minutes", "10"], start)
    new = find_active_kid(db_session, use="sig", now=start)

    def row(output: str, kid: str) -> str:
        (line,) = [line for line in output.splitlines() if kid in line]
        return line

    during = invoke(runner, ["keys", "list"], start + dt.timedelta(minutes=9)).output
    for header in ("kid", "use", "alg", "activated", "retire_at", "published"):
        assert header in during
    old_row = row(during, initial["sig"])
    assert "ES256" in old_row and "yes" in old_row
    assert (start + dt.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S UTC") in old_row
    assert "yes" in row(during, new) and "ECDH-ES+A256KW" in row(during, initial["enc"])

    later = invoke(runner, ["keys", "list"], start + dt.timedelta(minutes=10)).output
    assert row(later, initial["sig"]).rstrip(" │|").endswith("no")
    assert "yes" in row(later, new)


def test_list_with_no_keys_says_how_to_make_them(runner, start):
    assert "consentry keys ensure" in invoke(runner, ["keys", "list"], start).output


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "rotate"],
        ["keys", "rotate", "--use", "tls"],
        ["keys", "rotate", "--use", "sig", "--overlap-minutes", "-1"],
        ["keys", "rotate", "--use", "sig", "--overlap-minutes", "soon"],
    ],
)
def test_bad_options_are_usage_errors_and_change_nothing(runner, db_session, start, args):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert published(db_session, start) == set()


def test_rotating_the_receipt_key_keeps_the_old_one_published_with_no_end(runner, db_session, initial, start):
    seq = last_seq(db_session)
    result = invoke(runner, ["keys", "rotate", "--use", "receipt"], start)

    new = find_active_kid(db_session, use="receipt", now=start)
    assert new.startswith("receipt-") and new != initial["receipt"] and new in result.output
    assert "stays published" in result.output
    years_later = start + dt.timedelta(days=3650)
    assert {k["kid"] for k in receipt_jwks(db_session, now=years_later)["keys"]} == {initial["receipt"], new}
    assert find_active_kid(db_session, use="sig", now=start) == initial["sig"]  # untouched
    assert not {initial["receipt"], new} & published(db_session, start)  # never among the token keys
    (entry,) = audit_bodies(db_session, seq, "keys_rotated")
    assert entry["details"] == {
        "action": "keys_rotated",
        "keys": [{"use": "receipt", "new_kid": new, "old_kid": initial["receipt"]}],
        "overlap_minutes": None,
    }


def test_a_compromised_receipt_key_is_withdrawn_with_overlap_zero(runner, db_session, initial, start):
    invoke(runner, ["keys", "rotate", "--use", "receipt", "--overlap-minutes", "0"], start)
    kids = {k["kid"] for k in receipt_jwks(db_session, now=start)["keys"]}
    assert kids == {find_active_kid(db_session, use="receipt", now=start)}
