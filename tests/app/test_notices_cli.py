"""`consentry notifications work / failed / retry-failed`."""

from __future__ import annotations

import datetime as dt

from notifications.models import FAILED, PENDING, SENT, Outbox
from notifications.sink import SinkHandler, start_sink
from tests.notifications.test_worker import NOW, citizen_with_email, notice


def test_failed_lists_notices_for_operators_and_retry_queues_them(app, db_session, runtime):
    runner = app.test_cli_runner()
    assert "no failed notices" in runner.invoke(args=["notifications", "failed"]).output
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    row.state, row.attempts, row.last_error = FAILED, 8, "smtp_554"
    db_session.commit()
    listed = runner.invoke(args=["notifications", "failed"])
    assert listed.exit_code == 0 and "smtp_554" in listed.output and "release" in listed.output
    assert "example.com" not in listed.output  # no address is stored, so none is shown
    retried = runner.invoke(args=["notifications", "retry-failed"])
    assert retried.exit_code == 0 and "1 notices queued again" in retried.output
    db_session.refresh(row)
    assert row.state == PENDING and row.attempts == 0


def test_work_once_delivers_the_due_notices(app, db_session):
    rt = app.extensions["consentry"]
    controller = start_sink(SinkHandler())
    rt.config = rt.config.replace(smtp_url=f"smtp://127.0.0.1:{controller.port}")
    try:
        citizen = citizen_with_email(db_session, rt)
        row = notice(db_session, citizen.id, at=NOW - dt.timedelta(minutes=1))
        db_session.commit()
        result = app.test_cli_runner().invoke(args=["notifications", "work"])
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert "sent " in result.output
    db_session.refresh(row)
    assert row.state == SENT
    assert isinstance(db_session.get(Outbox, row.id), Outbox)


def test_operators_see_failed_notices_on_a_page(client, db_session, runtime):
    from tests.http.test_operator_pages import operator_login

    assert client.get("/operator/notices/failed").status_code in (302, 303)
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    row.state, row.attempts, row.last_error = FAILED, 8, "smtp_down"
    db_session.commit()
    assert operator_login(client).status_code == 303
    page = client.get("/operator/notices/failed")
    assert page.status_code == 200 and "smtp_down" in page.text and "example.com" not in page.text
