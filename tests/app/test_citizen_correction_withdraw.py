"""Withdrawing a correction request over HTTP (Flask test client, CSRF on): offered while the
agency has not answered (sent, acknowledged), confirmed on a page of its own, withdrawn once and
audited without the text; refused once answered; a forged post and another citizen's request
change nothing."""

from __future__ import annotations

import pytest

from core.clock import utcnow
from profile_store import corrections as service
from tests.app.test_citizen_corrections import (  # noqa: F401 - the citizen fixture
    CSRF_INPUT,
    FORM,
    answers,
    citizen,
    entries,
    form_of,
    requests_of,
)
from tests.factories import make_citizen
from tests.oauth import flow


def filed(client, db_session, citizen):  # noqa: F811 - the fixture's value
    flow.sign_in(client, citizen.id)
    client.post(FORM, data={**form_of(client), **answers(note="As on my passport")})
    [row] = requests_of(db_session, citizen)
    return row


def answer(db_session, row, status, reason=None):
    service.answer_correction(
        db_session, agency="identity", request_id=row.id, status=status, reason=reason, now=utcnow()
    )
    db_session.commit()


@pytest.mark.parametrize("answered", [None, "acknowledged"])
def test_a_request_not_yet_answered_is_withdrawn_once_and_audited(client, db_session, citizen, answered):  # noqa: F811
    row = filed(client, db_session, citizen)
    if answered:
        answer(db_session, row, answered)
    detail = client.get(f"/citizen/corrections/{row.id}").text
    path = f"/citizen/corrections/{row.id}/withdraw"
    assert f'href="{path}"' in detail

    page = client.get(path)
    assert page.status_code == 200 and "Withdraw your request about your principal name?" in page.text
    token = CSRF_INPUT.search(page.text).group(1)
    done = client.post(path, data={"csrf_token": token})

    assert done.status_code == 303 and done.headers["Location"].endswith(f"/citizen/corrections/{row.id}")
    shown = client.get(done.headers["Location"]).text
    assert "You withdrew your request" in shown and "Withdrawn" in shown and f'href="{path}"' not in shown
    assert "Withdrawn" in client.get("/citizen/corrections").text
    [row] = requests_of(db_session, citizen)
    assert row.status == "withdrawn"
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 303 and "already withdrawn" in client.get(again.headers["Location"]).text
    [entry] = entries(db_session, citizen, "correction_withdrawn")
    body = entry.body.decode() if isinstance(entry.body, bytes) else str(entry.body)
    assert row.id in body and "TAN AH KAU" not in body and "passport" not in body
    assert "This request can no longer be withdrawn" in client.get(path).text


@pytest.mark.parametrize(("status", "reason"), [("corrected", None), ("rejected", "We hold the proof")])
def test_an_answered_request_is_not_offered_and_a_late_post_changes_nothing(
    client,
    db_session,
    citizen,  # noqa: F811
    status,
    reason,
):
    row = filed(client, db_session, citizen)
    path = f"/citizen/corrections/{row.id}/withdraw"
    token = CSRF_INPUT.search(client.get(path).text).group(1)  # the page, opened before the answer
    answer(db_session, row, status, reason)
    assert f'href="{path}"' not in client.get(f"/citizen/corrections/{row.id}").text
    assert "This request can no longer be withdrawn" in client.get(path).text

    late = client.post(path, data={"csrf_token": token})

    assert late.status_code == 303
    assert "already answered this request" in client.get(late.headers["Location"]).text
    [row] = requests_of(db_session, citizen)
    assert row.status == status and entries(db_session, citizen, "correction_withdrawn") == []


def test_a_forged_post_or_another_citizens_request_changes_nothing(client, db_session, runtime, citizen):  # noqa: F811
    row = filed(client, db_session, citizen)
    path = f"/citizen/corrections/{row.id}/withdraw"
    assert client.post(path, data={}).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    token = CSRF_INPUT.search(client.get("/citizen/profile").text).group(1)
    assert client.get(path).status_code == 404
    assert client.post(path, data={"csrf_token": token}).status_code == 404
    assert client.get("/citizen/corrections/not-a-uuid/withdraw").status_code == 404
    [row] = requests_of(db_session, citizen)
    assert row.status == "sent" and entries(db_session, citizen, "correction_withdrawn") == []
