"""Plain builders for test data (no factory framework): make_citizen(session, **overrides),
make_staff(session, secret_key, roles=...)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid

import pyotp
from sqlalchemy.orm import Session

from agency_connectors.simulators import AGENCIES, record_for
from core.crypto.keyring import b64e
from core.uinfin import demo_uinfin
from identity.staff import add_staff, staff_totp_key
from profile_store.citizens import create_citizen
from profile_store.models import Citizen
from profile_store.vault import Vault

# Two master keys: "test-a" is active; "test-b" lets rotation tests switch.
TEST_MASTER_KEYS = f"test-a:{b64e(b'a' * 32)},test-b:{b64e(b'b' * 32)}"
_counter = itertools.count(9_000_000)


def fresh_uinfin() -> str:
    """A valid national id no other test in this worker uses, with a record at every agency: about
    one demo person in three. Which of them a test got used to depend on the tests that ran before
    it on the worker, and a fault set on an agency the person has no record at went unseen (the
    agency answers 404 before any fault). Tests of a missing record pick such an id explicitly."""
    while True:
        uinfin = demo_uinfin(next(_counter))
        if all(record_for(agency, uinfin) is not None for agency in AGENCIES):
            return uinfin


def make_citizen(
    session: Session, vault: Vault, *, uinfin: str | None = None, now: dt.datetime | None = None
) -> Citizen:
    return create_citizen(
        session, vault=vault, uinfin=uinfin or fresh_uinfin(), now=now or dt.datetime.now(dt.UTC)
    )


STAFF_PASSWORD = "staff correct horse battery"
_staff_counter = itertools.count(1)


@dataclasses.dataclass
class StaffLogin:
    """A member of staff as a test signs them in: username, password and their authenticator."""

    id: str
    username: str
    password: str
    totp: pyotp.TOTP
    roles: tuple[str, ...]
    codes_used: int = 0

    def next_code(self) -> str:
        """A code not used yet: the current step's, then the next step's (each code works once,
        and the server accepts one step of drift)."""
        if self.codes_used > 1:
            raise AssertionError("a member of staff signs in at most twice per 30 s in tests")
        step = self.totp.timecode(dt.datetime.now(dt.UTC)) + self.codes_used
        self.codes_used += 1
        return self.totp.generate_otp(step)


def make_staff(
    session: Session,
    secret_key: str,
    *,
    roles: tuple[str, ...] = ("operator",),
    username: str | None = None,
    password: str = STAFF_PASSWORD,
    now: dt.datetime | None = None,
) -> StaffLogin:
    """A member of staff with `roles` (flushed, not committed)."""
    username = username or f"staff-{next(_staff_counter)}-{uuid.uuid4().hex[:6]}"
    enrolment = add_staff(
        session,
        username=username,
        password=password,
        roles=roles,
        now=now or dt.datetime.now(dt.UTC),
        totp_key=staff_totp_key(secret_key),
    )
    return StaffLogin(enrolment.member.id, username, password, pyotp.TOTP(enrolment.totp_secret), roles)
