"""Signed-in sessions on the server, for citizens, operators and auditors, through the Flask test
client: a copied cookie stops working at sign-out; idle timeout and absolute lifetime per role;
a new session at every sign-in; a change of rights revokes; only the token's digest is stored;
HSTS in production only."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyotp
import pytest
import time_machine
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

from app.config import Config
from app.security import HSTS, SESSION_ENDED, SESSION_KEY
from core.clock import utcnow
from identity.accounts import enrol
from identity.models import WebSession
from identity.staff import disable_staff, set_roles
from identity.web_sessions import REPLACED, token_digest
from tests.app.test_citizen_sign_in import PASSWORD, Account, session_token
from tests.factories import fresh_uinfin, make_citizen, make_staff
from tests.http.test_operator_pages import csrf_token

MINUTE = 60


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    cheapest = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr("identity.accounts._hasher", cheapest)
    monkeypatch.setattr("identity.staff._hasher", cheapest)


@dataclass
class Role:
    """One kind of principal: how it signs in and out, a page only it may see, where a stranger
    is sent from that page."""

    name: str
    page: str
    sign_in_page: str
    sign_out_path: str
    sent_to: str
    status: int
    login: Callable[[object, int], object]
    subject: str = ""
    username: str = ""  # the auditor's username, the citizen's national id
    sign_ins: int = field(default=0)
    settings: str = ""  # the config's name for its lifetimes (staff sessions: the operator's)

    @property
    def prefix(self) -> str:
        return self.settings or self.name

    def sign_in(self, client) -> str:
        """Sign in (each time with a fresh code, where there is one); returns the new token."""
        response = self.login(client, self.sign_ins)
        self.sign_ins += 1
        assert response.status_code == 303, response.text
        return session_token(client)

    def sign_out(self, client) -> None:
        response = client.post(self.sign_out_path, data={"csrf_token": csrf_token(client, self.page)})
        assert response.status_code == 303

    def assert_signed_out(self, client, *, ended: bool = True) -> None:
        response = client.get(self.page)
        assert response.status_code == self.status
        assert response.headers["Location"] == self.sent_to
        shown = client.get(self.sign_in_page).text
        assert (SESSION_ENDED in shown) is ended


def form_token(client, sign_in_page: str, signed_in_page: str) -> str:
    """A CSRF token from the sign-in form, or, for a browser already signed in (the form then
    redirects), from a page that has a form."""
    if client.get(sign_in_page).status_code == 200:
        return csrf_token(client, sign_in_page)
    return csrf_token(client, signed_in_page)


def _staff(db_session, runtime) -> Role:
    staff = make_staff(db_session, runtime.config.secret_key, roles=("operator",))
    db_session.commit()

    def login(client, n: int):
        form = {
            "csrf_token": form_token(client, "/staff/sign-in", "/operator/"),
            "username": staff.username,
            "password": staff.password,
            "code": staff.totp.at(time.time() + 30 * n),
        }
        return client.post("/staff/sign-in", data=form)

    return Role(
        name="staff",
        page="/operator/",
        sign_in_page="/staff/sign-in",
        sign_out_path="/staff/sign-out",
        sent_to="/staff/sign-in?next=/operator/",
        status=302,
        login=login,
        subject=staff.id,
        username=staff.username,
        settings="operator",
    )


def _auditor(db_session, runtime) -> Role:
    """An auditor: a member of staff with the auditor role only, on the auditor console."""
    auditor = make_staff(db_session, runtime.config.secret_key, roles=("auditor",))
    db_session.commit()

    def login(client, n: int):
        form = {
            "csrf_token": form_token(client, "/staff/sign-in", "/auditor/status"),
            "username": auditor.username,
            "password": auditor.password,
            "code": auditor.totp.at(time.time() + 30 * n),
        }
        return client.post("/staff/sign-in", data=form)

    return Role(
        name="staff",
        page="/auditor/status",
        sign_in_page="/staff/sign-in",
        sign_out_path="/staff/sign-out",
        sent_to="/staff/sign-in?next=/auditor/status",
        status=302,
        login=login,
        subject=auditor.id,
        username=auditor.username,
        settings="operator",
    )


def _citizen(db_session, runtime) -> Role:
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
    db_session.commit()
    account = Account(enrolment.citizen_id, uinfin, pyotp.TOTP(enrolment.totp_secret))

    def login(client, n: int):
        form = {
            "csrf_token": form_token(client, "/citizen/sign-in", "/citizen/"),
            "uinfin": uinfin,
            "password": PASSWORD,
            "code": account.code(steps_ahead=n),
        }
        return client.post("/citizen/sign-in", data=form)

    return Role(
        name="citizen",
        page="/citizen/",
        sign_in_page="/citizen/sign-in",
        sign_out_path="/citizen/sign-out",
        sent_to="/citizen/sign-in?next=/citizen/",
        status=303,
        login=login,
        subject=account.citizen_id,
        username=uinfin,
    )


ROLES = {"staff": _staff, "auditor": _auditor, "citizen": _citizen}


@pytest.fixture(params=sorted(ROLES))
def role(request, db_session, runtime) -> Role:
    return ROLES[request.param](db_session, runtime)


def copy_of(client, app=None):
    """Another browser holding a copy of this one's cookie (on `app`, by default the same)."""
    other = (app or client.application).test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def stored(db_session, token: str) -> WebSession:
    return db_session.get(WebSession, token_digest(token), populate_existing=True)


def test_a_copied_cookie_stops_working_at_sign_out(client, role):
    role.sign_in(client)
    stolen = copy_of(client)
    assert stolen.get(role.page).status_code == 200
    role.sign_out(client)
    role.assert_signed_out(client, ended=False)
    role.assert_signed_out(stolen)  # told once that the session ended
    role.assert_signed_out(stolen, ended=False)


def test_an_unused_session_ends_at_the_idle_timeout(client_with, role):
    client = client_with(
        **{f"{role.prefix}_session_idle_s": 5 * MINUTE, f"{role.prefix}_session_max_s": 60 * MINUTE}
    )
    role.sign_in(client)
    started = time.time()
    for minutes in (4, 8):  # each use pushes the timeout: 8 minutes in, still signed in
        with time_machine.travel(started + minutes * MINUTE, tick=False):
            assert client.get(role.page).status_code == 200
    with time_machine.travel(started + 13 * MINUTE + 1, tick=False):
        role.assert_signed_out(client)


def test_a_busy_session_ends_at_its_lifetime(client_with, role):
    client = client_with(
        **{f"{role.prefix}_session_idle_s": 10 * MINUTE, f"{role.prefix}_session_max_s": 20 * MINUTE}
    )
    role.sign_in(client)
    started = time.time()
    for minutes in (8, 16, 19):
        with time_machine.travel(started + minutes * MINUTE, tick=False):
            assert client.get(role.page).status_code == 200
    with time_machine.travel(started + 20 * MINUTE + 1, tick=False):
        role.assert_signed_out(client)


def test_each_role_has_its_own_default_lifetimes():
    config = Config()
    lifetimes = {
        name: (getattr(config, f"{name}_session_idle_s"), getattr(config, f"{name}_session_max_s"))
        for name in ("citizen", "operator")  # operator: every staff member, auditors included
    }
    assert lifetimes == {"citizen": (15 * MINUTE, 30 * MINUTE), "operator": (15 * MINUTE, 8 * 60 * MINUTE)}
    env = {"OPERATOR_SESSION_IDLE_S": "600", "CITIZEN_SESSION_MAX_S": "900"}
    changed = Config.from_env(env)
    assert (changed.operator_session_idle_s, changed.citizen_session_max_s) == (600, 900)


def test_every_sign_in_starts_a_new_session(client, role, db_session):
    first = role.sign_in(client)
    stolen = copy_of(client)
    second = role.sign_in(client)
    assert second != first
    assert client.get(role.page).status_code == 200
    assert stored(db_session, first).revoked_reason == REPLACED
    role.assert_signed_out(stolen)


def test_the_table_holds_only_the_tokens_digest(client, role, db_session):
    token = role.sign_in(client)
    row = stored(db_session, token)
    assert (row.role, row.revoked_at) == (role.name, None)
    if role.subject:
        assert row.subject == role.subject
    for values in db_session.execute(select(WebSession.__table__)):
        assert not any(token in str(value) for value in values)


def test_a_garbled_or_unknown_session_is_sent_to_sign_in_not_a_500(client, role):
    for token in ("not-a-session", 12345, "x" * 5000):
        with client.session_transaction() as session:
            session[SESSION_KEY] = token
        role.assert_signed_out(client)


def test_last_seen_is_written_at_most_once_a_minute(client, role, db_session):
    token = role.sign_in(client)
    signed_in_at = stored(db_session, token).last_seen_at
    started = time.time()
    with time_machine.travel(started + 30, tick=False):
        assert client.get(role.page).status_code == 200
    assert stored(db_session, token).last_seen_at == signed_in_at
    with time_machine.travel(started + 61, tick=False):
        assert client.get(role.page).status_code == 200
    assert stored(db_session, token).last_seen_at > signed_in_at


# A change of who may do what ends sessions


def test_signing_in_as_a_citizen_ends_the_operator_session_in_that_browser(client, db_session, runtime):
    operator, citizen = _staff(db_session, runtime), _citizen(db_session, runtime)
    operator.sign_in(client)
    stolen = copy_of(client)
    citizen.sign_in(client)
    assert client.get(citizen.page).status_code == 200
    operator.assert_signed_out(client, ended=False)  # the citizen's session is not the operator's
    operator.assert_signed_out(stolen)


def test_disabling_an_auditor_ends_every_session_of_theirs(client, db_session, runtime):
    auditor = _auditor(db_session, runtime)
    elsewhere = client.application.test_client()
    tokens = [auditor.sign_in(client), auditor.sign_in(elsewhere)]
    disable_staff(db_session, username=auditor.username, now=utcnow())
    db_session.commit()
    auditor.assert_signed_out(elsewhere)
    assert {stored(db_session, token).revoked_reason for token in tokens} == {"staff_disabled"}
    auditor.assert_signed_out(client)


def test_new_citizen_credentials_end_their_sessions(client, db_session, runtime):
    citizen = _citizen(db_session, runtime)
    token = citizen.sign_in(client)
    enrol(db_session, vault=runtime.vault, uinfin=citizen.username, password=PASSWORD, now=utcnow())
    db_session.commit()
    citizen.assert_signed_out(client)
    assert stored(db_session, token).revoked_reason == "credentials_changed"


def test_disabling_a_member_of_staff_ends_every_session_of_theirs(client, db_session, runtime):
    staff = _staff(db_session, runtime)
    elsewhere = client.application.test_client()
    tokens = [staff.sign_in(client), staff.sign_in(elsewhere)]
    disable_staff(db_session, username=staff.username, now=utcnow())
    db_session.commit()
    assert {stored(db_session, token).revoked_reason for token in tokens} == {"staff_disabled"}
    staff.assert_signed_out(elsewhere)
    staff.assert_signed_out(client)


@pytest.mark.parametrize("roles", [["operator", "auditor"], ["auditor"]], ids=["role-added", "role-taken"])
def test_a_change_of_roles_ends_the_members_sessions(client, db_session, runtime, roles):
    staff = _staff(db_session, runtime)
    token = staff.sign_in(client)
    set_roles(db_session, username=staff.username, roles=["operator"], now=utcnow())
    db_session.commit()
    assert client.get(staff.page).status_code == 200, "the same roles again change nothing"
    set_roles(db_session, username=staff.username, roles=roles, now=utcnow())
    db_session.commit()
    assert stored(db_session, token).revoked_reason == "roles_changed"
    staff.assert_signed_out(client)


def test_the_purge_command_deletes_sessions_a_day_past_their_lifetime(app, client, role, db_session):
    ended, live = role.sign_in(client), role.sign_in(client.application.test_client())
    long_ago = utcnow() - dt.timedelta(days=2)
    stored(db_session, ended).expires_at = long_ago
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["sessions", "purge"])
    assert result.exit_code == 0, result.output
    assert "ended sessions deleted" in result.output
    assert stored(db_session, ended) is None and stored(db_session, live) is not None


# HSTS


def test_production_responses_carry_hsts(app, client, base_config):
    app.extensions["consentry"].config = base_config.replace(env="production")
    for path in ("/", "/staff/sign-in", "/no/such/page"):
        assert client.get(path).headers["Strict-Transport-Security"] == HSTS
    assert HSTS == "max-age=63072000; includeSubDomains"


def test_development_responses_carry_no_hsts(client):
    for path in ("/", "/staff/sign-in", "/no/such/page"):
        assert "Strict-Transport-Security" not in client.get(path).headers
