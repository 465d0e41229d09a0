"""Citizen sign-in through the Flask test client, CSRF on: success starts a fresh session and
returns to a local `next` only; every wrong answer gets one message; attempts are limited per
national id and per address (429 with Retry-After), and so are operator and auditor sign-ins."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import quote

import pyotp
import pytest
import time_machine
from argon2 import PasswordHasher, profiles

from app.identity import is_local_path
from app.security import SESSION_KEY
from core.clock import utcnow
from identity.accounts import SIGN_IN_FAILED, enrol
from identity.web_sessions import resolve
from tests.factories import fresh_uinfin, make_citizen
from tests.http.test_operator_pages import csrf_token

PASSWORD = "correct horse battery staple"
SIGN_IN = "/citizen/sign-in"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    cheapest = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr("identity.accounts._hasher", cheapest)


@dataclass(frozen=True)
class Account:
    citizen_id: str
    uinfin: str
    totp: pyotp.TOTP

    def code(self, steps_ahead: int = 0) -> str:
        """The current code, or a later one (still inside the drift window) for a second sign-in."""
        return self.totp.at(time.time() + 30 * steps_ahead)


@pytest.fixture
def account(db_session, runtime) -> Account:
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
    db_session.commit()
    return Account(enrolment.citizen_id, uinfin, pyotp.TOTP(enrolment.totp_secret))


def citizen_sign_in(client, account: Account, *, next_path: str | None = None, **overrides):
    page = SIGN_IN + (f"?next={quote(next_path, safe='')}" if next_path is not None else "")
    form = {
        "csrf_token": csrf_token(client, page),
        "uinfin": account.uinfin,
        "password": PASSWORD,
        "code": account.code(),
        **({"next": next_path} if next_path is not None else {}),
        **overrides,
    }
    return client.post(SIGN_IN, data=form)


def session_token(client) -> str | None:
    """The token the browser's cookie holds, if any."""
    with client.session_transaction() as session:
        return session.get(SESSION_KEY)


def signed_in_citizen(client) -> str | None:
    """Whom the server takes the browser's session to be, if a live citizen session."""
    token = session_token(client)
    with client.application.extensions["consentry"].sessions() as store:
        row = resolve(store, token=token, now=utcnow()) if token else None
    return row.subject if row is not None and row.role == "citizen" else None


def test_sign_in_page_is_a_form_with_csrf(client):
    page = client.get(SIGN_IN)
    assert page.status_code == 200
    for field in ('name="uinfin"', 'name="password"', 'name="code"', 'name="csrf_token"'):
        assert field in page.text
    assert 'autocomplete="one-time-code"' in page.text and 'name="next"' not in page.text


def test_sign_in_opens_the_landing_page_in_a_fresh_session(client, account):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = citizen_sign_in(client, account)
    assert response.status_code == 303
    assert response.headers["Location"] == "/citizen/"
    with client.session_transaction() as session:
        assert "planted" not in session
    assert signed_in_citizen(client) == account.citizen_id
    landing = client.get("/citizen/")
    assert landing.status_code == 200
    assert "Signed in" in landing.text and "Sign out" in landing.text


def test_sign_in_returns_to_a_local_next_path(client, account):
    next_path = "/oauth/authorize?client_id=app-1&state=x%20y"
    assert (
        f'name="next" value="{next_path.replace("&", "&amp;")}"'
        in client.get(f"{SIGN_IN}?next={quote(next_path, safe='')}").text
    )
    response = citizen_sign_in(client, account, next_path=next_path)
    assert response.status_code == 303
    assert response.headers["Location"] == next_path


EVIL_NEXTS = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "",
    "/" + "a" * 2001,
]


@pytest.mark.parametrize("evil", EVIL_NEXTS)
def test_next_must_be_a_local_path(client, account, evil):
    assert not is_local_path(evil)
    assert 'name="next"' not in client.get(SIGN_IN, query_string={"next": evil}).text
    response = citizen_sign_in(client, account, next_path=evil)
    assert response.status_code == 303
    assert response.headers["Location"] == "/citizen/"


def test_local_paths_are_local():
    for path in ("/", "/citizen/", "/oauth/authorize?a=1&b=%2F%2Fx", "/a//b", "/%2F%2Fevil.example"):
        assert is_local_path(path), path


def test_signed_in_visit_to_sign_in_goes_on_to_next(client, account):
    citizen_sign_in(client, account)
    response = client.get(SIGN_IN, query_string={"next": "/citizen/?tab=1"})
    assert response.status_code == 303 and response.headers["Location"] == "/citizen/?tab=1"
    response = client.get(SIGN_IN, query_string={"next": "//evil.example/"})
    assert response.headers["Location"] == "/citizen/"


def test_landing_page_sends_strangers_to_sign_in_and_back(client):
    response = client.get("/citizen/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/citizen/sign-in?next=/citizen/"


def test_post_without_csrf_token_is_a_400_page(client, account):
    form = {"uinfin": account.uinfin, "password": PASSWORD, "code": account.code()}
    response = client.post(SIGN_IN, data=form)
    assert response.status_code == 400
    assert "The form expired or was not sent by this site" in response.text
    assert signed_in_citizen(client) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"password": "not the password at all"},
        {"code": "000000"},
        {"uinfin": "unknown"},  # replaced by a valid id nobody has, below
    ],
)
def test_wrong_answers_are_400_with_one_message(client, account, overrides):
    if overrides.get("uinfin") == "unknown":
        overrides = {"uinfin": fresh_uinfin()}
    if overrides.get("code") == "000000" and account.code() == "000000":
        overrides = {"code": "111111"}
    response = citizen_sign_in(client, account, **overrides)
    assert response.status_code == 400
    assert SIGN_IN_FAILED in response.text
    assert 'href="#uinfin"' in response.text and "<title>Error: " in response.text
    assert PASSWORD not in response.text
    assert signed_in_citizen(client) is None


def test_a_code_works_once(client, account):
    code = account.code()
    assert citizen_sign_in(client, account, code=code).status_code == 303
    client.post("/citizen/sign-out", data={"csrf_token": csrf_token(client, "/citizen/")})
    response = citizen_sign_in(client, account, code=code)
    assert response.status_code == 400 and SIGN_IN_FAILED in response.text


def test_a_malformed_form_names_each_field(client, account):
    response = citizen_sign_in(client, account, uinfin="S1234567A", password="", code="12ab")
    assert response.status_code == 400
    assert "Enter a valid NRIC or FIN, like S1234567D" in response.text
    assert "Enter your password" in response.text
    assert "Enter the 6-digit code from your authenticator app" in response.text
    assert 'value="S1234567A"' in response.text


def test_unknown_fields_are_refused(client, account):
    response = citizen_sign_in(client, account, admin="1")
    assert response.status_code == 400
    assert signed_in_citizen(client) is None


def test_sign_out_ends_the_session(client, account):
    citizen_sign_in(client, account)
    response = client.post("/citizen/sign-out", data={"csrf_token": csrf_token(client, "/citizen/")})
    assert response.status_code == 303 and response.headers["Location"] == SIGN_IN
    assert signed_in_citizen(client) is None
    assert client.get("/citizen/").status_code == 303
    assert "You have signed out" in client.get(SIGN_IN).text


def test_sign_out_needs_the_csrf_token(client, account):
    citizen_sign_in(client, account)
    assert client.post("/citizen/sign-out").status_code == 400
    assert signed_in_citizen(client) == account.citizen_id


def test_the_session_ends_30_minutes_after_sign_in_however_busy(client, account):
    citizen_sign_in(client, account)
    started = time.time()
    for minutes in (10, 20, 29):  # used every 10 minutes: never idle for 15
        with time_machine.travel(started + minutes * 60, tick=False):
            assert client.get("/citizen/").status_code == 200
    with time_machine.travel(started + 30 * 60 + 1, tick=False):
        response = client.get("/citizen/")
        assert response.status_code == 303 and response.headers["Location"].startswith(SIGN_IN)
        assert "Your session has ended" in client.get(SIGN_IN).text


def test_logs_carry_no_national_id_or_password(client, account, capsys):
    citizen_sign_in(client, account, password="not the password at all")
    citizen_sign_in(client, account)
    logs = capsys.readouterr().out
    assert "citizen_sign_in_failed" in logs and "citizen_signed_in" in logs
    assert account.citizen_id in logs
    assert account.uinfin not in logs and PASSWORD not in logs


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    assert re.fullmatch(r"[1-9][0-9]*", response.headers["Retry-After"])
    assert "Too many attempts" in response.text


def test_attempts_per_national_id_are_limited_and_cleared_by_success(client_with, account):
    client = client_with(sign_in_account_limit=3)
    wrong = {"password": "not the password at all"}
    for _ in range(2):
        assert citizen_sign_in(client, account, **wrong).status_code == 400
    assert citizen_sign_in(client, account).status_code == 303  # the third: right, and clears
    client.post("/citizen/sign-out", data={"csrf_token": csrf_token(client, "/citizen/")})
    for _ in range(3):
        assert citizen_sign_in(client, account, **wrong).status_code == 400
    response = citizen_sign_in(client, account, code=account.code(steps_ahead=1))
    assert_rate_limited(response)
    assert int(response.headers["Retry-After"]) <= 15 * 60
    assert signed_in_citizen(client) is None
    # Another citizen on the same address is not held up.
    other = {"uinfin": fresh_uinfin()}
    assert citizen_sign_in(client, account, **other).status_code == 400


def test_attempts_per_address_are_limited(client_with, account):
    client = client_with(sign_in_ip_limit=3)
    for _ in range(3):
        assert citizen_sign_in(client, account, uinfin=fresh_uinfin()).status_code == 400
    assert_rate_limited(citizen_sign_in(client, account))
    # A forged X-Forwarded-For does not buy more attempts (no proxy is trusted by default).
    form = {"csrf_token": csrf_token(client, SIGN_IN), "uinfin": account.uinfin}
    assert_rate_limited(client.post(SIGN_IN, data=form, headers={"X-Forwarded-For": "203.0.113.7"}))


def test_a_rate_limited_json_caller_gets_json(client_with, account):
    client = client_with(sign_in_ip_limit=1)
    citizen_sign_in(client, account, uinfin=fresh_uinfin())
    form = {"csrf_token": csrf_token(client, SIGN_IN)}
    response = client.post(SIGN_IN, data=form, headers={"Accept": "application/json"})
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert response.get_json()["error"] == "rate_limited"


def test_staff_sign_in_is_limited_per_address(client_with):
    client = client_with(sign_in_ip_limit=2)
    form = {"csrf_token": csrf_token(client, "/staff/sign-in"), "password": "wrong", "code": "123456"}
    for n in range(2):
        response = client.post("/staff/sign-in", data={**form, "username": f"someone.{n}"})
        assert response.status_code == 400
    assert_rate_limited(client.post("/staff/sign-in", data={**form, "username": "someone.else"}))
    assert client.get("/staff/sign-in").status_code == 200  # looking at the form is not an attempt
