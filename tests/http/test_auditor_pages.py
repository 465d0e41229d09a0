"""The auditor console through the Flask test client, CSRF on: auditors are staff with the auditor
role and sign in at /staff/sign-in with a real TOTP code (the console's old /auditor/login and
/auditor/logout forward there); search, entry proofs, exports that verify offline, and an audit
entry for every auditor action."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from argon2 import PasswordHasher, profiles
from sqlalchemy import select, text

from app.auditor.display import CSV_COLUMNS
from audit.auditor_models import AuditorName
from audit.checkpoint_signing import load_public_key_pem
from audit.log import Event, append
from audit.models import AuditEntry
from audit.tree import create_checkpoint
from audit.verifier import verify_export
from core.clock import utcnow
from identity.staff import SIGN_IN_FAILED, disable_staff
from tests.factories import StaffLogin, fresh_uinfin, make_staff
from tests.http.staff_flow import staff_login
from tests.http.test_operator_pages import csrf_token, operator_login

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    monkeypatch.setattr("identity.staff._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def enrolled(db_session, runtime) -> StaffLogin:
    """A member of staff with the auditor role only (committed)."""
    auditor = make_staff(db_session, runtime.config.secret_key, roles=("auditor",), password=PASSWORD)
    db_session.commit()
    return auditor


def auditor_login(client, enrolled: StaffLogin, **overrides):
    """Sign in at /staff/sign-in, asking to come back to the console (as /auditor/login sends you)."""
    return staff_login(client, enrolled, **{"next": "/auditor/", **overrides})


@pytest.fixture
def signed_in(client, enrolled):
    assert auditor_login(client, enrolled).status_code == 303
    return client


@dataclass(frozen=True)
class Logged:
    uinfin: str
    citizen_ref: str
    app_id: str
    seqs: list[int]
    checkpoint_size: int


@pytest.fixture
def logged(db_session, runtime, now) -> Logged:
    """30 entries of one app (every third about one citizen), then a checkpoint, then 2 more."""
    uinfin, app_id = fresh_uinfin(), f"app-{uuid.uuid4().hex[:8]}"
    citizen_ref = runtime.vault.digest_uinfin(uinfin)
    seqs = []
    for n in range(32):
        event = Event(
            kind="disclosure" if n % 5 else "consent_granted",
            citizen_ref=citizen_ref if n % 3 == 0 else runtime.vault.digest_uinfin(fresh_uinfin()),
            app_id=app_id,
            purpose="loan application",
            outcome="released",
            attributes=("name", "cpfbalances") if n % 2 else ("name",),
        )
        seqs.append(append(db_session, event, now=now + dt.timedelta(minutes=n)).seq)
        if n == 29:
            checkpoint = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()
    return Logged(uinfin, citizen_ref, app_id, seqs, checkpoint.tree_size)


def auditor_entries(db_session, username: str) -> list[dict]:
    """The entries naming the member of staff called `username` as actor, oldest first."""
    (staff_id,) = db_session.execute(text("SELECT id FROM staff WHERE username = :u"), {"u": username}).one()
    bodies = (json.loads(e.body) for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    return [b for b in bodies if (b.get("details") or {}).get("actor") == f"staff:{staff_id}"]


def seqs_on(page_html: str) -> list[int]:
    return [int(s) for s in re.findall(r'href="/auditor/entries/(\d+)"', page_html)]


def search(client, **params):
    return client.get("/auditor/", query_string=params)


# Sign-in and sessions (the sign-in page itself: tests/http/test_staff_pages.py)


def test_sign_in_with_a_real_totp_code_starts_a_fresh_session(client, enrolled, db_session):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = auditor_login(client, enrolled)
    assert response.status_code == 303 and response.headers["Location"] == "/auditor/"
    with client.session_transaction() as session:
        assert "planted" not in session
    page = client.get("/auditor/")
    assert page.status_code == 200 and "Search the audit log" in page.text and "Sign out" in page.text
    login = auditor_entries(db_session, enrolled.username)[0]
    assert (login["kind"], login["outcome"]) == ("admin_action", "staff_signed_in")


def test_an_auditor_lands_on_the_console_after_signing_in(client, enrolled):
    response = staff_login(client, enrolled)
    assert response.status_code == 303 and response.headers["Location"] == "/auditor/"


def test_the_old_sign_in_address_sends_you_to_the_staff_sign_in(client):
    response = client.get("/auditor/login")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in?next=/auditor/"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and 'name="next" value="/auditor/"' in page.text
    # A form posted there (an old bookmark's page) is not signed in anywhere: it goes the same way.
    form = {"csrf_token": csrf_token(client, "/staff/sign-in"), "username": "x", "password": "y"}
    posted = client.post("/auditor/login", data=form)
    assert posted.status_code == 303 and posted.headers["Location"] == "/staff/sign-in?next=/auditor/"


@pytest.mark.parametrize(
    "overrides",
    [{"password": "not the password"}, {"code": "000000"}, {"username": "nobody-at-all"}],
    ids=["wrong password", "wrong code", "unknown user"],
)
def test_failed_sign_in_is_400_with_one_generic_message(client, enrolled, overrides):
    if overrides.get("code") == enrolled.totp.now():
        pytest.skip("the wrong code happens to be right this half-minute")
    response = auditor_login(client, enrolled, **overrides)
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text and SIGN_IN_FAILED in response.text
    assert 'href="#username"' in response.text and PASSWORD not in response.text
    assert client.get("/auditor/").status_code == 302


def test_a_replayed_code_is_refused(client, enrolled):
    code = enrolled.totp.now()
    assert auditor_login(client, enrolled, code=code).status_code == 303
    client.post("/staff/sign-out", data={"csrf_token": csrf_token(client, "/auditor/")})
    assert auditor_login(client, enrolled, code=code).status_code == 400


def test_a_malformed_sign_in_names_each_field(client, enrolled):
    response = auditor_login(client, enrolled, username="", code="12ab")
    assert response.status_code == 400
    assert 'href="#username"' in response.text and 'href="#code"' in response.text
    assert "6-digit code" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/auditor/",
        "/auditor/entries/0",
        "/auditor/export?format=csv",
        "/auditor/export/checkpoint",
        "/auditor/export/public-key",
        "/auditor/status",
    ],
)
def test_signed_out_pages_redirect_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.path == "/staff/sign-in" and parse_qs(location.query)["next"] == [path]


def test_an_operator_session_is_not_an_auditor_session(client):
    operator_login(client)
    assert client.get("/auditor/").status_code == 403


def test_posts_without_the_csrf_token_are_refused(client, signed_in, enrolled):
    assert client.post("/auditor/", data={"uinfin": fresh_uinfin()}).status_code == 400
    assert client.post("/staff/sign-out").status_code == 400
    assert client.post("/auditor/logout", follow_redirects=True).status_code == 400
    form = {"username": enrolled.username, "password": PASSWORD, "code": enrolled.totp.now()}
    assert client.post("/staff/sign-in", data=form).status_code == 400


def test_sign_out_ends_the_session_and_is_logged(signed_in, enrolled, db_session):
    response = signed_in.post("/staff/sign-out", data={"csrf_token": csrf_token(signed_in, "/auditor/")})
    assert response.status_code == 303
    assert signed_in.get("/auditor/").status_code == 302
    assert auditor_entries(db_session, enrolled.username)[-1]["outcome"] == "staff_signed_out"


def test_the_old_sign_out_address_forwards_the_post_to_the_staff_sign_out(signed_in, enrolled, db_session):
    token = csrf_token(signed_in, "/auditor/")
    response = signed_in.post("/auditor/logout", data={"csrf_token": token})
    assert response.status_code == 307 and response.headers["Location"] == "/staff/sign-out"
    # A browser posts the same form on after a 307 (Werkzeug's test client does not resend a body).
    assert signed_in.post(response.headers["Location"], data={"csrf_token": token}).status_code == 303
    assert signed_in.get("/auditor/").status_code == 302
    assert auditor_entries(db_session, enrolled.username)[-1]["outcome"] == "staff_signed_out"


def test_an_idle_session_ends_and_the_sign_in_page_says_so(signed_in):
    started = time.time()
    for minutes in (10, 20):  # used every 10 minutes: never idle for 15
        with time_machine.travel(started + minutes * 60, tick=False):
            assert signed_in.get("/auditor/status").status_code == 200
    with time_machine.travel(started + 36 * 60, tick=False):
        response = signed_in.get("/auditor/status")
        assert response.status_code == 302 and response.headers["Location"].startswith("/staff/sign-in")
        assert "Your session has ended" in signed_in.get(response.headers["Location"]).text
        assert signed_in.get("/auditor/status").status_code == 302


def test_disabling_an_auditor_ends_their_session(signed_in, enrolled, db_session):
    disable_staff(db_session, username=enrolled.username, now=utcnow())
    db_session.commit()
    assert signed_in.get("/auditor/").status_code == 302


def test_taking_the_auditor_role_away_ends_their_session(signed_in, enrolled, db_session):
    from identity.staff import set_roles

    set_roles(db_session, username=enrolled.username, roles=["operator"], now=utcnow())
    db_session.commit()
    assert signed_in.get("/auditor/").status_code == 302


# Search


def test_search_by_app_pages_newest_first_without_repeats(signed_in, logged):
    first = search(signed_in, app_id=logged.app_id)
    assert first.status_code == 200
    shown = seqs_on(first.text)
    assert shown == sorted(logged.seqs, reverse=True)[:25]
    next_url = re.search(r'href="([^"]*cursor=[^"]*)"', first.text).group(1).replace("&amp;", "&")
    second = signed_in.get(next_url)
    assert seqs_on(second.text) == sorted(logged.seqs, reverse=True)[25:]
    assert "cursor=" not in second.text.split("Results", 1)[1].split("Download", 1)[0]


def test_search_by_national_id_keeps_it_out_of_urls_and_the_log(signed_in, logged, db_session):
    token = csrf_token(signed_in, "/auditor/")
    form = {"csrf_token": token, "uinfin": f" {logged.uinfin.lower()} ", "app_id": logged.app_id}
    response = signed_in.post("/auditor/", data=form)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert logged.uinfin not in location.upper()
    assert parse_qs(urlparse(location).query) == {
        "citizen_ref": [logged.citizen_ref],
        "app_id": [logged.app_id],
    }
    page = signed_in.get(location)
    assert seqs_on(page.text) == sorted(logged.seqs[::3], reverse=True)
    assert logged.uinfin not in page.text
    signed_in.get(f"/auditor/export?format=csv&citizen_ref={logged.citizen_ref}")
    bodies = db_session.scalars(select(AuditEntry.body)).all()
    assert not [body for body in bodies if logged.uinfin in body]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"attribute": "cpfbalances"}, lambda n: n % 2 == 1),
        ({"kind": "consent_granted"}, lambda n: n % 5 == 0),
        ({"from": "2026-11-23", "to": "2026-11-23"}, lambda n: True),
        ({"to": "2026-11-22"}, lambda n: False),
    ],
)
def test_filters_combine_with_the_app(signed_in, logged, params, expected):
    page = search(signed_in, app_id=logged.app_id, **params)
    assert page.status_code == 200
    want = sorted((seq for n, seq in enumerate(logged.seqs) if expected(n)), reverse=True)[:25]
    assert seqs_on(page.text) == want


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-11-23", "to": "2026-11-01"}, "to"),
        ({"kind": "everything"}, "kind"),
        ({"app_id": "app id with spaces"}, "app_id"),
        ({"purpose": "about S1234567D"}, "purpose"),
        ({"citizen_ref": "not-a-digest"}, "citizen_ref"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"uinfin": "S1234567D"}, "uinfin"),
        ({"evil": "1"}, "evil"),
    ],
)
def test_malformed_search_parameters_are_400_naming_the_field(signed_in, params, field):
    response = search(signed_in, **params)
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text
    assert f'href="#{field}"' in response.text or f"({field})" in response.text


def test_a_malformed_national_id_is_400_on_the_form(signed_in):
    token = csrf_token(signed_in, "/auditor/")
    response = signed_in.post("/auditor/", data={"csrf_token": token, "uinfin": "S1234567A"})
    assert response.status_code == 400
    assert 'href="#uinfin"' in response.text and "Enter a valid NRIC or FIN" in response.text


# Entries and proofs


def test_an_entry_shows_a_verified_inclusion_proof(signed_in, logged):
    seq = logged.seqs[3]
    page = signed_in.get(f"/auditor/entries/{seq}")
    assert page.status_code == 200
    assert f"Audit entry {seq}" in page.text and "Verified" in page.text and "Not verified" not in page.text
    assert re.search(rf"Checkpoint tree size</dt>\s*<dd[^>]*>{logged.checkpoint_size}<", page.text)
    assert f"&#34;app_id&#34;: &#34;{logged.app_id}&#34;" in page.text  # the body, indented


def test_an_entry_after_the_latest_checkpoint_says_it_is_not_covered_yet(signed_in, logged):
    page = signed_in.get(f"/auditor/entries/{logged.seqs[-1]}")
    assert page.status_code == 200 and "No signed checkpoint covers this entry yet" in page.text


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(
    "zone, recorded, signed",
    [  # `now` is 23 Nov 2026 09:00 UTC; the entry is 27 minutes later, the checkpoint at `now`
        (None, "23 Nov 2026 17:27 (Asia/Singapore)", "23 Nov 2026 17:00 (Asia/Singapore)"),
        ("Europe/London", "23 Nov 2026 09:27 (Europe/London)", "23 Nov 2026 09:00 (Europe/London)"),
    ],
)
def test_an_entry_is_at_the_same_time_in_the_search_and_on_its_page_in_the_display_zone(
    app, signed_in, logged, zone, recorded, signed
):
    if zone:
        rt = app.extensions["consentry"]
        rt.config = rt.config.replace(display_timezone=zone)
    seq = logged.seqs[27]  # on the first page of results, and covered by the checkpoint
    results = search(signed_in, app_id=logged.app_id).text
    (row,) = [
        r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", results, re.S) if f'aria-label="Entry {seq}"' in r
    ]
    assert words(row).startswith(f"{seq} {recorded} Disclosure")
    page = words(signed_in.get(f"/auditor/entries/{seq}").text)
    assert f"Recorded {recorded} Leaf hash" in page
    assert f"Signed {signed} with key" in page
    assert "UTC" not in page


@pytest.mark.parametrize("seq", ["999999999", "99999999999999999999999"])
def test_an_unknown_entry_is_404(signed_in, logged, seq):
    assert signed_in.get(f"/auditor/entries/{seq}").status_code == 404


# Exports


def test_the_jsonl_export_verifies_offline(signed_in, logged):
    export = signed_in.get("/auditor/export?format=jsonl")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment;")
    checkpoint = signed_in.get("/auditor/export/checkpoint")
    key = signed_in.get("/auditor/export/public-key")
    assert (
        "attachment" in checkpoint.headers["Content-Disposition"]
        and "attachment" in key.headers["Content-Disposition"]
    )
    report = verify_export(
        io.StringIO(export.text), json.loads(checkpoint.text), load_public_key_pem(key.data)
    )
    assert report.ok, report.first_error
    assert report.checked == logged.checkpoint_size


def test_the_csv_export_has_the_columns_and_one_row_per_match(signed_in, logged):
    response = signed_in.get("/auditor/export", query_string={"format": "csv", "app_id": logged.app_id})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == sorted(logged.seqs, reverse=True)
    assert {r[8] for r in rows[1:]} == {"name", "cpfbalances name"}
    assert all(r[3] for r in rows[1:]), "every row names its actor"


def test_a_filtered_jsonl_export_names_its_search(signed_in, logged):
    response = signed_in.get(
        "/auditor/export", query_string={"format": "jsonl", "citizen_ref": logged.citizen_ref}
    )
    lines = response.text.splitlines()
    assert json.loads(lines[0])["filters"] == {"citizen_ref": logged.citizen_ref}
    assert [json.loads(line)["seq"] for line in lines[1:]] == sorted(logged.seqs[::3], reverse=True)


def test_malformed_export_parameters_are_400_naming_the_field(signed_in):
    response = signed_in.get("/auditor/export?format=xml", headers={"Accept": "application/json"})
    assert response.status_code == 400 and "format" in response.get_json()["errors"]
    assert signed_in.get("/auditor/export").status_code == 400


def test_every_auditor_action_is_logged_with_its_kind(signed_in, enrolled, logged, db_session):
    signed_in.get(f"/auditor/entries/{logged.seqs[0]}")
    signed_in.get("/auditor/export?format=jsonl").get_data()
    signed_in.get(f"/auditor/export?format=csv&app_id={logged.app_id}").get_data()
    signed_in.get("/auditor/export/checkpoint")
    signed_in.get("/auditor/export/public-key")
    signed_in.post("/staff/sign-out", data={"csrf_token": csrf_token(signed_in, "/auditor/status")})
    seen = [
        (
            e["kind"],
            e.get("outcome"),
            {k: v for k, v in e["details"].items() if k not in ("auditor", "actor")},
        )
        for e in auditor_entries(db_session, enrolled.username)
    ]
    assert [(kind, outcome) for kind, outcome, _ in seen] == [
        ("admin_action", "staff_signed_in"),
        ("auditor_search", None),
        ("auditor_export", None),
        ("auditor_export", None),
        ("auditor_export", None),
        ("auditor_export", None),
        ("auditor_search", None),  # the status page, where the sign-out form was taken from
        ("admin_action", "staff_signed_out"),
    ]
    assert seen[1][2] == {"entry": logged.seqs[0]}
    assert seen[2][2] == {"format": "jsonl", "filters": {}, "upto": logged.checkpoint_size}
    assert seen[3][2] == {"format": "csv", "filters": {"app_id": logged.app_id}}
    assert seen[4][2]["format"] == "checkpoint" and seen[5][2]["format"] == "public_key"
    assert seen[6][2] == {"page": "status"}


def test_a_search_is_logged_with_its_filters(signed_in, enrolled, logged, db_session):
    search(signed_in, citizen_ref=logged.citizen_ref, kind="disclosure")
    entry = auditor_entries(db_session, enrolled.username)[-1]
    assert entry["kind"] == "auditor_search"
    assert entry["details"]["filters"] == {"citizen_ref": logged.citizen_ref, "kind": "disclosure"}


def test_without_a_checkpoint_there_is_nothing_to_export_yet(signed_in, monkeypatch):
    # The worker's database may hold a checkpoint a live-server test committed: pretend it does not.
    monkeypatch.setattr("app.auditor.views.latest_checkpoint", lambda session: None)
    assert signed_in.get("/auditor/export?format=jsonl").status_code == 404
    assert signed_in.get("/auditor/export/checkpoint").status_code == 404


# Status


def test_status_shows_the_checkpoint_the_size_and_the_last_verification(signed_in, logged, app):
    app.test_cli_runner().invoke(args=["audit", "verify"])
    page = signed_in.get("/auditor/status")
    assert page.status_code == 200
    assert "Latest signed checkpoint" in page.text and "Passed" in page.text
    assert app.extensions["consentry"].audit_signer.key_id in page.text
    assert f">{logged.checkpoint_size}<" in page.text
    # The checkpoint was signed at `now` (09:00 UTC), shown in the display zone with its name.
    text = words(page.text)
    assert "Signed 23 Nov 2026 17:00 (Asia/Singapore) Key id" in text
    assert re.search(r"Ran \d{1,2} \w{3} \d{4} \d\d:\d\d \(Asia/Singapore\) Checked", text), text
    assert "UTC" not in text


def test_an_older_auditor_accounts_entries_read_with_its_username(signed_in, db_session, now):
    """Entries written before migration 0027 name their auditor `auditor:<id>`; the console shows
    the username that account had (kept in auditor_names), and a member of staff by username."""
    old_id, app_id = str(uuid.uuid4()), f"app-{uuid.uuid4().hex[:8]}"
    db_session.add(AuditorName(id=old_id, username=f"old-{old_id[:6]}"))
    details = {"auditor": f"old-{old_id[:6]}", "actor": f"auditor:{old_id}"}
    append(db_session, Event(kind="auditor_search", app_id=app_id, details=details), now=now)
    db_session.commit()
    page = search(signed_in, app_id=app_id).text
    results = page.split("Results", 1)[1].split("</table>", 1)[0]  # the filters' options come after
    assert f"By old-{old_id[:6]} (auditor account)" in results and f"auditor:{old_id}" not in results
