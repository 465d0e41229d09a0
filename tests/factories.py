"""Plain builders for test data (no factory framework): make_citizen(session, **overrides)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from core.crypto.keyring import b64e
from core.uinfin import demo_uinfin
from profile_store.citizens import create_citizen
from profile_store.models import Citizen
from profile_store.vault import Vault

# Two master keys: "test-a" is active; "test-b" lets rotation tests switch.
TEST_MASTER_KEYS = f"test-a:{b64e(b'a' * 32)},test-b:{b64e(b'b' * 32)}"
_counter = itertools.count(9_000_000)


def fresh_uinfin() -> str:
    """A valid national id no other test in this worker uses."""
    return demo_uinfin(next(_counter))


def make_citizen(
    session: Session, vault: Vault, *, uinfin: str | None = None, now: dt.datetime | None = None
) -> Citizen:
    return create_citizen(
        session, vault=vault, uinfin=uinfin or fresh_uinfin(), now=now or dt.datetime.now(dt.UTC)
    )
