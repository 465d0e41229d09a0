"""A step-up: a signed-in citizen proves again, with a fresh authenticator code, that it is them,
before something sensitive (showing their national id in full). The code follows sign-in's rules:
the current 30-second step or one either side, and never a step already used (so a code seen over
a shoulder at sign-in does not work here, nor this one at the next sign-in).

Runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy.orm import Session

from core.credentials import matching_step
from core.crypto.keyring import MasterKeyring
from core.errors import Unauthorized

from .accounts import _claim_step, _load_secret, find_account
from .web_sessions import reauthenticated

WRONG_CODE = "The code is not correct"


def confirm_code(
    session: Session,
    *,
    keyring: MasterKeyring,
    citizen_id: str,
    web_session_id: str,
    code: str,
    now: dt.datetime,
) -> str:
    """Accept `code` as the citizen's fresh proof: claim its time step and rotate the web session
    `web_session_id` to a new one authenticated at `now`; returns its token (the browser's
    cookie must take it). Raises Unauthorized (one message) for a wrong, old or reused code, or a
    citizen without a local account. Flushes, never commits."""
    account = find_account(session, citizen_id)
    if account is None:
        raise Unauthorized(WRONG_CODE)
    step = matching_step(pyotp.TOTP(_load_secret(account, keyring)), code, now)
    if step is None or not _claim_step(session, account, step, now):
        raise Unauthorized(WRONG_CODE)
    token = reauthenticated(session, session_id=web_session_id, now=now)
    if token is None:
        raise Unauthorized("Your session has ended. Sign in again.")
    return token
