"""The auditor console's reports and 'Verify now' through the Flask test client, CSRF on:
names instead of ids, periods in the display time zone, CSV downloads safe in a spreadsheet,
a verification run from start to result (a tampered log names its first bad position), and
only auditors let in."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

import pytest
from sqlalchemy import select, update

from audit.auditor_models import AuditVerification
from audit.log import Event, append
from audit.models import AuditEntry
from audit.verification_runs import start_run
from consent.models import AgencyApp
from tests.audit.test_tamper import _bypass_guard
from tests.http.test_auditor_pages import _cheap_argon2, auditor_entries, enrolled, signed_in  # noqa: F401
from tests.http.test_operator_pages import csrf_token, operator_login

# Asia/Singapore (the default display zone) is UTC+8: 16:00 UTC is midnight there.
SGT_MIDNIGHT = dt.datetime(2026, 3, 1, 16, 0, tzinfo=dt.UTC)  # 2 March 00:00 in Singapore


@pytest.fixture
def agency_app(db_session, now):
    app = AgencyApp(
        client_id=f"app-{uuid.uuid4().hex[:8]}",
        name='=HYPERLINK("http://evil") Housing Grant',
        agency="HDB",
        redirect_uris=["https://example.test/cb"],
        allowed_attributes=["name", "sex"],
        jwks=None,
        jwks_uri=None,
        profiles=["myinfo-v4"],
    )
    db_session.add(app)
    db_session.commit()
    return app


def disclose(db_session, app_id: str, at: dt.datetime, attributes=("name",), asked=None):
    details = {"asked": sorted(asked)} if asked else None
    event = Event(
        kind="disclosure",
        citizen_ref="c" * 64,
        app_id=app_id,
        purpose="grant",
        outcome="released",
        attributes=tuple(attributes),
        details=details,
    )
    entry = append(db_session, event, now=at)
    db_session.commit()
    return entry


def report(client, name, **params):
    return client.get(f"/auditor/reports/{name}", query_string=params)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


# Reports


def test_the_reports_page_lists_each_report_with_its_definition(signed_in):  # noqa: F811
    page = signed_in.get("/auditor/reports/")
    assert page.status_code == 200
    for title in (
        "Releases per app and attribute",
        "Apps that asked for more than they used",
        "Unusual volumes",
    ):
        assert title in page.text
    assert "mean plus 3 standard" in page.text and 'href="/auditor/reports/staff-lookups"' in page.text


def test_releases_name_the_app_and_the_attribute_label(signed_in, agency_app, db_session):  # noqa: F811
    disclose(db_session, agency_app.client_id, SGT_MIDNIGHT + dt.timedelta(hours=1), ("name", "sex"))
    page = report(signed_in, "releases", **{"from": "2026-03-02", "to": "2026-03-02"})
    assert page.status_code == 200
    assert "Housing Grant" in page.text and agency_app.client_id in page.text
    assert "Sex" in page.text and "(Asia/Singapore)" in page.text


def test_the_period_is_whole_days_in_the_display_time_zone(signed_in, agency_app, db_session):  # noqa: F811
    disclose(db_session, agency_app.client_id, SGT_MIDNIGHT - dt.timedelta(seconds=1))  # 1 March, 23:59:59
    disclose(db_session, agency_app.client_id, SGT_MIDNIGHT)  # 2 March, 00:00
    disclose(db_session, agency_app.client_id, SGT_MIDNIGHT)

    def releases_on(day: str) -> int:
        rows = csv_rows(report(signed_in, "releases", format="csv", **{"from": day, "to": day}))
        return sum(int(r[4]) for r in rows[1:] if r[1] == agency_app.client_id)

    assert (releases_on("2026-03-01"), releases_on("2026-03-02")) == (1, 2)


def test_the_csv_download_has_the_columns_and_defuses_formulas(signed_in, agency_app, db_session):  # noqa: F811
    disclose(db_session, agency_app.client_id, SGT_MIDNIGHT, ("name",), asked=["name", "sex"])
    response = report(signed_in, "over-asking", format="csv", **{"from": "2026-03-02", "to": "2026-03-02"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert (
        'filename="consentry-over-asking-2026-03-02-2026-03-02.csv"'
        in response.headers["Content-Disposition"]
    )
    rows = csv_rows(response)
    assert rows[0] == ["App", "App id", "Releases", "Asked for, never released", "Asked for"]
    mine = next(r for r in rows[1:] if r[1] == agency_app.client_id)
    assert mine[0].startswith("'=HYPERLINK") and mine[2:4] == ["1", "Sex"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_reading_and_downloading_a_report_are_logged(signed_in, enrolled, db_session):  # noqa: F811
    report(signed_in, "staff-lookups", **{"from": "2026-03-02", "to": "2026-03-03"})
    report(signed_in, "staff-lookups", format="csv", **{"from": "2026-03-02", "to": "2026-03-03"})
    logged = auditor_entries(db_session, enrolled.username)[-2:]
    assert [(e["kind"], e["details"]["report"]) for e in logged] == [
        ("auditor_search", "staff-lookups"),
        ("auditor_export", "staff-lookups"),
    ]
    assert logged[0]["details"]["period"] == {"from": "2026-03-02", "to": "2026-03-03"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "2026-02-30"}, "from"), ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
     ({"format": "xlsx"}, "format"), ({"from": "2024-01-01", "to": "2026-01-01"}, "to"), ({"x": "1"}, "x")],
)  # fmt: skip
def test_a_malformed_period_is_400_naming_the_field(signed_in, params, field):  # noqa: F811
    response = report(signed_in, "releases", **params)
    assert response.status_code == 400 and "govuk-error-summary" in response.text


def test_an_unknown_report_is_404(signed_in):  # noqa: F811
    assert report(signed_in, "everything").status_code == 404


@pytest.mark.parametrize("path", ["/auditor/reports/", "/auditor/reports/releases", "/auditor/verify"])
def test_reports_and_verification_are_for_auditors_only(client, path):
    assert client.get(path).status_code == 302  # signed out: to the sign-in page
    operator_login(client)
    assert client.get(path).status_code == 403
    assert (
        client.post("/auditor/verify", data={"csrf_token": csrf_token(client, "/operator/")}).status_code
        == 403
    )


# Verify now


@pytest.fixture
def in_line(monkeypatch):
    """The background run, in the request's thread (the test's sessions share one connection)."""
    monkeypatch.setattr("app.auditor.verify_views.start_thread", lambda target, *args: target(*args))


def verify_now(client):
    return client.post("/auditor/verify", data={"csrf_token": csrf_token(client, "/auditor/verify")})


def test_verify_now_runs_and_shows_the_result_and_the_history(signed_in, enrolled, in_line, db_session):  # noqa: F811
    response = verify_now(signed_in)
    assert response.status_code == 303
    run_url = response.headers["Location"]
    assert re.fullmatch(r"/auditor/verify/runs/\d+", run_url)
    page = signed_in.get(run_url)
    assert "Passed" in page.text and 'http-equiv="refresh"' not in page.text
    history = signed_in.get("/auditor/verify")
    assert f'href="{run_url}"' in history.text and enrolled.username in history.text
    started = auditor_entries(db_session, enrolled.username)[-2]
    assert started["outcome"] == "audit_verification_started"


def test_a_running_run_refreshes_its_page_and_blocks_a_second(signed_in, db_session, now):  # noqa: F811
    db_session.execute(
        update(AuditVerification).where(AuditVerification.state == "running").values(state="done")
    )
    run = start_run(db_session, started_by="someone", total=10, now=dt.datetime.now(dt.UTC))
    db_session.commit()
    page = signed_in.get(f"/auditor/verify/runs/{run.id}")
    assert '<meta http-equiv="refresh" content="2">' in page.text and "Check progress" in page.text
    assert "0 of 10 entries" in page.text
    response = verify_now(signed_in)
    assert response.status_code == 303 and response.headers["Location"] == "/auditor/verify"
    assert "A verification is running" in signed_in.get("/auditor/verify").text
    running = db_session.scalars(select(AuditVerification).where(AuditVerification.state == "running")).all()
    assert [r.id for r in running] == [run.id]


def test_a_stale_run_does_not_block_a_new_one(signed_in, in_line, db_session):  # noqa: F811
    db_session.execute(
        update(AuditVerification).where(AuditVerification.state == "running").values(state="done")
    )
    stale = start_run(
        db_session, started_by="gone", total=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    db_session.commit()
    assert "Passed" in signed_in.get(verify_now(signed_in).headers["Location"]).text
    db_session.expire_all()
    assert db_session.get(AuditVerification, stale.id).finding.startswith("abandoned")


@pytest.mark.as_owner
def test_a_tampered_log_names_its_first_bad_position(signed_in, in_line, db_session, now):  # noqa: F811
    target = disclose(db_session, "app-tampered", now)
    _bypass_guard(db_session.connection())
    body = json.loads(target.body)
    body["attributes"] = ["name", "nric"]
    forged = json.dumps(body, separators=(",", ":"), sort_keys=True)
    db_session.execute(update(AuditEntry).where(AuditEntry.seq == target.seq).values(body=forged))
    db_session.commit()
    page = signed_in.get(verify_now(signed_in).headers["Location"])
    assert "Failed" in page.text and f"seq {target.seq}" in page.text
    assert f'href="/auditor/entries/{target.seq}"' in page.text
    assert f"seq {target.seq}" in signed_in.get("/auditor/verify").text


# Search filters


def search(client, **params):
    return client.get("/auditor/", query_string=params)


def seqs_on(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'href="/auditor/entries/(\d+)"', html)]


def test_the_filters_offer_apps_by_name_attributes_by_label_and_staff_by_username(signed_in, agency_app):  # noqa: F811
    page = search(signed_in, app_id=agency_app.client_id)
    assert page.status_code == 200
    assert f'<option value="{agency_app.client_id}" selected>' in page.text
    assert "Housing Grant (" in page.text and '<option value="sex">Sex</option>' in page.text
    assert '<option value="citizen">A citizen</option>' in page.text
    assert page.text.index("Results") < page.text.index("Filters")  # results first
    assert "Asia/Singapore time" in page.text


def test_dates_are_whole_days_in_the_display_time_zone(signed_in, agency_app, db_session):  # noqa: F811
    before = disclose(db_session, agency_app.client_id, SGT_MIDNIGHT - dt.timedelta(seconds=1))
    after = disclose(db_session, agency_app.client_id, SGT_MIDNIGHT)
    on = {
        day: seqs_on(search(signed_in, app_id=agency_app.client_id, **{"from": day, "to": day}).text)
        for day in ("2026-03-01", "2026-03-02")
    }
    assert on == {"2026-03-01": [before.seq], "2026-03-02": [after.seq]}
    page = search(signed_in, app_id=agency_app.client_id)
    assert "2 Mar 2026 00:00 (Asia/Singapore)" in page.text


def test_who_acted_filters_by_member_of_staff_and_by_app(signed_in, agency_app, db_session, now):  # noqa: F811
    actor = f"staff:{uuid.uuid4()}"
    looked = append(
        db_session, Event(kind="staff_lookup", citizen_ref="d" * 64, details={"actor": actor}), now=now
    )
    released = disclose(db_session, agency_app.client_id, now)
    assert seqs_on(search(signed_in, actor=actor).text) == [looked.seq]
    assert released.seq in seqs_on(search(signed_in, actor="app", app_id=agency_app.client_id).text)
    assert search(signed_in, actor="staff:nobody").status_code == 400
