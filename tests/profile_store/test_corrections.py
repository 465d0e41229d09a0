"""Correction requests as a domain service: filing one on a government-verified value only, text
sealed at rest, double submits, one citizen never reading another's, the agency's queue (paged,
only its own), and answers that move forward only."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from core.errors import Conflict, NotFound, ValidationFailed
from profile_store import corrections as service
from profile_store.correction_models import CorrectionRequest
from profile_store.fields import apply_agency_record
from tests.factories import make_citizen

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def citizen_with_name(db_session, runtime, name="TAN AH KOW"):
    citizen = make_citizen(db_session, runtime.vault)
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="identity",
        items={"name": {"value": name}}, now=NOW,
    )  # fmt: skip
    return citizen


def file(db_session, runtime, citizen, *, submission=None, note="", attribute="name", now=NOW):
    return service.file_correction(
        db_session, vault=runtime.vault, citizen=citizen, attribute=attribute,
        what="My name is misspelt", correct_value="TAN AH KAU", note=note,
        submission=submission or uuid.uuid4().hex, now=now,
    )  # fmt: skip


def test_a_request_goes_to_the_agency_holding_the_value_with_its_text_sealed(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    row, new = file(db_session, runtime, citizen, note="See my passport")
    assert new and row.agency == "identity" and row.status == service.SENT
    assert b"TAN AH KAU" not in row.ciphertext and b"passport" not in row.ciphertext
    [mine] = service.corrections_of(db_session, vault=runtime.vault, citizen=citizen)
    assert (mine.what, mine.correct_value, mine.note) == (
        "My name is misspelt",
        "TAN AH KAU",
        "See my passport",
    )
    event = service.correction_event(citizen, row, by="citizen")
    assert event.kind == "correction_requested" and "TAN" not in repr(event)


def test_only_a_government_verified_value_can_be_reported(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    for attribute in ("email", "nosuch", "uinfin"):  # never sent by an agency for this citizen
        with pytest.raises(NotFound):
            file(db_session, runtime, citizen, attribute=attribute)


def test_bad_text_is_refused_with_codes_and_nothing_written(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    with pytest.raises(ValidationFailed) as caught:
        service.file_correction(
            db_session, vault=runtime.vault, citizen=citizen, attribute="name", what=" ",
            correct_value="x" * 501, note="n" * 1001, submission="s1", now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"what": ["required"], "correct_value": ["too_long"], "note": ["too_long"]}
    rows = db_session.scalars(select(CorrectionRequest).where(CorrectionRequest.citizen_id == citizen.id))
    assert list(rows) == []


def test_the_same_form_posted_twice_files_one_request(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    first, new = file(db_session, runtime, citizen, submission="form-1")
    again, new_again = file(db_session, runtime, citizen, submission="form-1")
    assert new and not new_again and again.id == first.id
    assert len(service.corrections_of(db_session, vault=runtime.vault, citizen=citizen)) == 1


def test_a_citizen_never_reads_another_citizens_request(db_session, runtime):
    alice, bob = citizen_with_name(db_session, runtime), citizen_with_name(db_session, runtime)
    row, _ = file(db_session, runtime, alice)
    with pytest.raises(NotFound):
        service.get_correction(db_session, vault=runtime.vault, citizen=bob, request_id=row.id)
    assert service.corrections_of(db_session, vault=runtime.vault, citizen=bob) == []
    mine = service.get_correction(db_session, vault=runtime.vault, citizen=alice, request_id=row.id)
    assert mine.id == row.id


def test_an_agency_pages_through_its_own_queue_only(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    base = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # before any other test's requests
    ids = [file(db_session, runtime, citizen, now=base + dt.timedelta(seconds=i))[0].id for i in range(3)]
    seen, cursor = [], None
    while True:
        page = service.agency_queue(
            db_session, vault=runtime.vault, agency="identity", status="sent", cursor=cursor, limit=2
        )
        seen += [item.id for item, _uinfin in page.items if item.id in ids]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids
    first = service.agency_queue(
        db_session, vault=runtime.vault, agency="identity", status=None, cursor=None, limit=500
    )
    uinfins = {item.id: uinfin for item, uinfin in first.items}
    assert all(len(uinfins[i]) == 9 for i in ids if i in uinfins)
    other = service.agency_queue(
        db_session, vault=runtime.vault, agency="tax", status=None, cursor=None, limit=500
    )
    assert not {item.id for item, _ in other.items} & set(ids)
    with pytest.raises(ValidationFailed):
        service.agency_queue(
            db_session, vault=runtime.vault, agency="tax", status=None, cursor="bad!", limit=2
        )
    with pytest.raises(ValidationFailed):
        service.agency_queue(
            db_session, vault=runtime.vault, agency="tax", status="lost", cursor=None, limit=2
        )


def test_answers_move_forward_only_and_a_retry_changes_nothing(db_session, runtime):
    citizen = citizen_with_name(db_session, runtime)
    row, _ = file(db_session, runtime, citizen)

    def answer(status, reason=None, agency="identity"):
        return service.answer_correction(
            db_session, agency=agency, request_id=row.id, status=status, reason=reason, now=NOW
        )

    with pytest.raises(NotFound):
        answer("acknowledged", agency="tax")
    with pytest.raises(ValidationFailed):
        answer("rejected")  # no reason
    with pytest.raises(ValidationFailed):
        answer("sent")
    assert answer("acknowledged")[1] is True
    assert answer("acknowledged")[1] is False
    assert answer("rejected", "We hold your birth certificate's spelling")[1] is True
    assert answer("rejected", "We hold your birth certificate's spelling")[1] is False
    with pytest.raises(Conflict):
        answer("corrected")
    mine = service.get_correction(db_session, vault=runtime.vault, citizen=citizen, request_id=row.id)
    assert mine.status == "rejected" and mine.reason == "We hold your birth certificate's spelling"


@pytest.mark.parametrize("answered", [None, "acknowledged"])
def test_a_citizen_withdraws_a_request_not_yet_answered_and_the_agency_cannot_answer_it(
    db_session, runtime, answered
):
    citizen = citizen_with_name(db_session, runtime)
    row, _ = file(db_session, runtime, citizen)
    if answered:
        service.answer_correction(
            db_session, agency="identity", request_id=row.id, status=answered, reason=None, now=NOW
        )
    later = NOW + dt.timedelta(hours=1)

    withdrawn, changed = service.withdraw_correction(
        db_session, citizen=citizen, request_id=row.id, now=later
    )

    assert changed and withdrawn.status == "withdrawn" and withdrawn.updated_at == later
    again = service.withdraw_correction(db_session, citizen=citizen, request_id=row.id, now=later)
    assert again[1] is False  # twice: once
    for status, reason in (("acknowledged", None), ("corrected", None), ("rejected", "No")):
        with pytest.raises(Conflict, match="withdrew"):
            service.answer_correction(
                db_session, agency="identity", request_id=row.id, status=status, reason=reason, now=later
            )
    mine = service.get_correction(db_session, vault=runtime.vault, citizen=citizen, request_id=row.id)
    assert mine.status == "withdrawn" and not mine.can_withdraw
    event = service.correction_event(citizen, withdrawn, by="citizen")
    assert event.kind == "correction_withdrawn" and event.outcome == "withdrawn"
    queue = service.agency_queue(
        db_session, vault=runtime.vault, agency="identity", status="withdrawn", cursor=None, limit=50
    )
    assert row.id in [item.id for item, _ in queue.items]


@pytest.mark.parametrize(("status", "reason"), [("corrected", None), ("rejected", "We hold the proof")])
def test_an_answered_request_cannot_be_withdrawn(db_session, runtime, status, reason):
    citizen = citizen_with_name(db_session, runtime)
    row, _ = file(db_session, runtime, citizen)
    service.answer_correction(
        db_session, agency="identity", request_id=row.id, status=status, reason=reason, now=NOW
    )
    with pytest.raises(Conflict):
        service.withdraw_correction(db_session, citizen=citizen, request_id=row.id, now=NOW)
    assert db_session.get(CorrectionRequest, row.id).status == status


def test_a_citizen_cannot_withdraw_another_citizens_request(db_session, runtime):
    owner = citizen_with_name(db_session, runtime)
    row, _ = file(db_session, runtime, owner)
    other = citizen_with_name(db_session, runtime, name="LIM AH MENG")
    for request_id in (row.id, str(uuid.uuid4()), "x" * 60):
        with pytest.raises(NotFound):
            service.withdraw_correction(db_session, citizen=other, request_id=request_id, now=NOW)
    assert db_session.get(CorrectionRequest, row.id).status == "sent"
