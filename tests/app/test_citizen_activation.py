"""Activation, recovery and closing an account through the Flask test client, CSRF on: the
happy paths, and every bad input getting a clear message with nothing half-written: wrong,
expired, locked and used activation codes, weak or mismatched passwords, wrong authenticator
codes, reused recovery codes, forged posts and double submits."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

from app.citizen.activation import code_key
from audit.models import AuditEntry
from core.clock import utcnow
from identity.accounts import find_account
from identity.activation import LETTER_EXPIRED, LETTER_USED, MAX_WRONG, issue_letter
from identity.recovery import CODE_USED
from tests.factories import fresh_uinfin, make_citizen
from tests.http.staff_flow import csrf_token

PASSWORD = "tangerine lantern kettle"
SECRET = re.compile(r'id="secret">([A-Z2-7 ]+)<')
CODES = re.compile(r'<code class="app-code">([A-Z0-9-]+)</code>')


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    monkeypatch.setattr("identity.accounts._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


def key_of(app) -> bytes:
    with app.test_request_context():
        return code_key()


@pytest.fixture
def letter(app, db_session, runtime):
    """A citizen and their activation letter: (uinfin, code)."""
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    issued = issue_letter(db_session, vault=runtime.vault, key=key_of(app), uinfin=uinfin, now=utcnow())
    db_session.commit()
    return uinfin, issued.code


def post(client, path: str, page: str | None = None, **form):
    """Post the form at `path` with a CSRF token from `page` (the form's own page by default)."""
    return client.post(path, data={"csrf_token": csrf_token(client, page or path), **form})


def enter_code(client, uinfin: str, code: str):
    return post(client, "/citizen/activate", uinfin=uinfin, code=code)


def activate(client, uinfin: str, code: str) -> tuple[str, list[str]]:
    """The whole journey; returns the TOTP secret and the recovery codes."""
    assert enter_code(client, uinfin, code).headers["Location"] == "/citizen/activate/password"
    chosen = post(client, "/citizen/activate/password", password=PASSWORD, confirm=PASSWORD)
    assert chosen.headers["Location"] == "/citizen/activate/authenticator"
    page = client.get("/citizen/activate/authenticator")
    assert 'src="data:image/svg+xml' in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    done = post(client, "/citizen/activate/authenticator", code=pyotp.TOTP(secret).now())
    assert done.status_code == 200, done.text
    codes = CODES.findall(done.text)
    assert len(codes) == 10
    return secret, codes


def test_a_citizen_activates_their_account_and_is_signed_in(app, client, db_session, letter):
    uinfin, code = letter
    secret, codes = activate(client, uinfin, code.lower().replace("-", " "))
    finished = post(client, "/citizen/activate/done", "/citizen/activate/authenticator")
    assert finished.headers["Location"] == "/citizen/"
    assert client.get("/citizen/").status_code == 200
    kinds = db_session.scalars(select(AuditEntry.kind).order_by(AuditEntry.seq.desc()).limit(3)).all()
    assert kinds == ["citizen_activated", "citizen_password_chosen", "citizen_activation_started"]
    bodies = " ".join(db_session.scalars(select(AuditEntry.body).order_by(AuditEntry.seq.desc()).limit(4)))
    for value in (code, secret, PASSWORD, uinfin, *codes):
        assert value not in bodies


def test_wrong_code_then_locked_then_even_the_right_code_is_refused(client_with, letter):
    client = client_with(sign_in_account_limit=100)  # the letter locks before the per-id limit
    uinfin, code = letter
    for _ in range(MAX_WRONG):
        wrong = enter_code(client, uinfin, "AAAA-BBBB-CCCC")
        assert wrong.status_code == 400 and "activation code is not correct" in wrong.text
    refused = enter_code(client, uinfin, code)
    assert refused.status_code == 400 and "too many times" in refused.text


def test_an_expired_code_says_so(app, client, db_session, runtime):
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    old = utcnow() - dt.timedelta(days=31)
    issued = issue_letter(db_session, vault=runtime.vault, key=key_of(app), uinfin=uinfin, now=old)
    db_session.commit()
    response = enter_code(client, uinfin, issued.code)
    assert response.status_code == 400 and LETTER_EXPIRED in response.text


def test_missing_fields_are_named_next_to_the_fields(client):
    response = post(client, "/citizen/activate", uinfin="", code="")
    assert response.status_code == 400
    assert "Enter your NRIC or FIN" in response.text and "Enter the activation code" in response.text
    assert 'href="#uinfin"' in response.text and 'href="#code"' in response.text


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "12 characters or more"),
        ("password1234", "password1234", "too common"),
        ("{uinfin}-and-more", "{uinfin}-and-more", "must not contain your NRIC or FIN"),
        (PASSWORD, "something else entirely", "The passwords do not match"),
    ],
)
def test_weak_or_mismatched_passwords_are_refused(client, db_session, letter, password, confirm, message):
    uinfin, code = letter
    enter_code(client, uinfin, code)
    response = post(
        client,
        "/citizen/activate/password",
        password=password.format(uinfin=uinfin),
        confirm=confirm.format(uinfin=uinfin),
    )
    assert response.status_code == 400 and message in response.text
    assert client.get("/citizen/activate/authenticator").headers["Location"] == "/citizen/activate/password"


def test_a_wrong_authenticator_code_makes_no_account(app, client, db_session, runtime, letter):
    uinfin, code = letter
    enter_code(client, uinfin, code)
    post(client, "/citizen/activate/password", password=PASSWORD, confirm=PASSWORD)
    response = post(client, "/citizen/activate/authenticator", code="000000")
    assert response.status_code == 400 and "The code is not correct" in response.text
    citizen = runtime.vault.digest_uinfin(uinfin)
    assert citizen and not any(find_account(db_session, cid) for cid in _citizen_ids(db_session, citizen))


def _citizen_ids(db_session, digest):
    from profile_store.models import Citizen

    return db_session.scalars(select(Citizen.id).where(Citizen.uinfin_digest == digest)).all()


def test_a_double_submit_of_the_last_step_shows_a_clear_page(client, letter):
    uinfin, code = letter
    secret, _ = activate(client, uinfin, code)
    again = post(client, "/citizen/activate/authenticator", code=pyotp.TOTP(secret).now())
    assert again.status_code == 409 and "already finished" in again.text
    assert CODES.search(again.text) is None


def test_a_used_letter_cannot_activate_again(app, letter):
    uinfin, code = letter
    activate(app.test_client(), uinfin, code)
    response = enter_code(app.test_client(), uinfin, code)
    assert response.status_code == 400 and LETTER_USED in response.text


def test_pages_after_the_first_need_the_activation_in_progress(client):
    for path in ("/citizen/activate/password", "/citizen/activate/authenticator"):
        assert client.get(path).headers["Location"] == "/citizen/activate"


def test_a_forged_post_without_csrf_is_refused(client, letter):
    uinfin, code = letter
    response = client.post("/citizen/activate", data={"uinfin": uinfin, "code": code})
    assert response.status_code == 400 and "not sent by this site" in response.text


def test_activation_attempts_are_limited_per_address(client_with, letter):
    client = client_with(sign_in_ip_limit=2)
    uinfin, _ = letter
    statuses = [enter_code(client, uinfin, "AAAA-BBBB-CCCC").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_recovery_code_then_new_authenticator_then_signed_in(app, client, db_session, letter):
    uinfin, code = letter
    old_secret, codes = activate(app.test_client(), uinfin, code)
    wrong = post(
        client, "/citizen/recover", uinfin=uinfin, password="not the password", recovery_code=codes[0]
    )
    assert wrong.status_code == 400 and "recovery code is not correct" in wrong.text
    ok = post(client, "/citizen/recover", uinfin=uinfin, password=PASSWORD, recovery_code=codes[0].lower())
    assert ok.headers["Location"] == "/citizen/recover/authenticator"
    assert client.get("/citizen/").status_code == 303  # not signed in yet: only the re-enrolment
    page = client.get("/citizen/recover/authenticator")
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    assert secret != old_secret
    done = post(client, "/citizen/recover/authenticator", code=pyotp.TOTP(secret).now())
    assert done.status_code == 200 and "You have 9 recovery codes left" in done.text
    assert client.get("/citizen/").status_code == 200
    reused = post(
        app.test_client(), "/citizen/recover", uinfin=uinfin, password=PASSWORD, recovery_code=codes[0]
    )
    assert reused.status_code == 400 and CODE_USED in reused.text
    last = db_session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert (last.kind, last.outcome) == ("citizen_recovery_used", "code_reused")
    assert codes[0] not in last.body and PASSWORD not in last.body


def test_closing_the_account_signs_out_and_sign_in_then_fails(app, client, db_session, letter):
    uinfin, code = letter
    secret, _ = activate(client, uinfin, code)
    post(client, "/citizen/activate/done", "/citizen/activate/authenticator")
    assert "Close my account" in client.get("/citizen/account/close").text
    closed = post(client, "/citizen/account/close")
    assert closed.headers["Location"] == "/citizen/sign-in"
    assert client.get("/citizen/").status_code == 303
    kinds = db_session.scalars(select(AuditEntry.kind).order_by(AuditEntry.seq.desc()).limit(1)).all()
    assert kinds == ["citizen_account_closed"]
    sign_in = post(
        client, "/citizen/sign-in", uinfin=uinfin, password=PASSWORD, code=pyotp.TOTP(secret).now()
    )
    assert sign_in.status_code == 400
