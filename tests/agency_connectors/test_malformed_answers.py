"""An agency that answers 200 with a body the connector cannot use (not UTF-8, not JSON, not
labelled JSON, nested past the parser's limits, the wrong shape, cut short): that agency's named
failure, counted by its circuit breaker, its last good values kept; never an exception that fails
the refresh of the other agencies or of other citizens. Over real HTTP to the simulators."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from agency_connectors.base import AgencyFailure
from agency_connectors.http import decode_json
from agency_connectors.refresh import refresh_all
from agency_connectors.simulators.faults import FAULTS
from profile_store.assembly import agency_status
from profile_store.models import AgencySync
from tests.agency_connectors.test_refresh import refresh, views
from tests.factories import make_citizen

MALFORMED = {
    "garbage_bytes": "invalid_encoding",
    "html_page": "invalid_content_type",
    "json_array": "invalid_payload",
    "deep_json": "invalid_json",
    "truncated_json": "invalid_json",
}


@pytest.mark.parametrize(("fault", "reason"), sorted(MALFORMED.items()))
def test_a_malformed_answer_is_the_agencys_named_failure_and_keeps_its_last_values(
    db_session, runtime, now, simulators, fault, reason
):
    citizen = make_citizen(db_session, runtime.vault)
    refresh(db_session, runtime, citizen, now)
    before = views(db_session, runtime, citizen)
    simulators.set_fault("identity", fault=fault)
    result = refresh(db_session, runtime, citizen, now.replace(hour=13))
    assert set(result.failed) == {"identity"}, result.failed
    assert result.failed["identity"].startswith(reason)
    after = views(db_session, runtime, citizen)
    assert {k: v.item for k, v in after.items()} == {k: v.item for k, v in before.items()}
    assert after["name"].fetched_at == now, "the kept value keeps its fetch time"
    assert agency_status(db_session, citizen.id)["identity"].last_error.startswith(reason)


def test_malformed_answers_open_the_circuit_like_other_failures(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    simulators.set_fault("family", fault="garbage_bytes")
    for _ in range(runtime.config.breaker_threshold):
        assert (
            refresh(db_session, runtime, citizen, now, agencies=["family"])
            .failed["family"]
            .startswith("invalid_encoding")
        )
    calls = simulators.stats()["family"]["requests"]
    result = refresh(db_session, runtime, citizen, now, agencies=["family"])
    assert result.failed["family"].startswith("circuit_open")
    assert simulators.stats()["family"]["requests"] == calls


# Every malformed-answer fault of the simulators but "hang" (a timeout: test_refresh.py), with the
# failure it must be named as.
EVERY_BODY_FAULT = {**MALFORMED, "wrong_types": "invalid_payload", "unknown_attribute": "invalid_payload"}


def test_every_body_fault_of_the_simulators_is_named_here():
    assert set(EVERY_BODY_FAULT) == set(FAULTS) - {"hang"}


@pytest.mark.parametrize(("fault", "reason"), sorted(EVERY_BODY_FAULT.items()))
def test_bulk_refresh_goes_on_for_every_citizen_past_an_agency_sending_garbage(
    engine, runtime, now, simulators, fault, reason
):
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        ids = [make_citizen(session, runtime.vault).id for _ in range(12)]
        session.commit()
    simulators.set_fault("identity", fault=fault)  # the one agency that holds everyone's record
    # A time of this run's own: every citizen in the database is refreshed (earlier tests committed
    # some), ours maybe after the breaker opened, so the named failures are found by this time.
    when = now + dt.timedelta(minutes=1 + sorted(EVERY_BODY_FAULT).index(fault))
    progress = refresh_all(
        sessions,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        clock=lambda: when,
        batch_size=5,
        concurrency=8,
    )
    assert progress.citizens >= 12
    assert progress.agency_failures["identity"] >= 12
    with sessions() as session:
        for cid in ids:
            status = agency_status(session, cid)
            others = set(status) - {"identity"}
            assert len(others) == 7 and all(status[code].succeeded_at == when for code in others)
        this_run = (AgencySync.agency == "identity") & (AgencySync.attempted_at == when)
        errors = session.scalars(select(AgencySync.last_error).where(this_run)).all()
    assert len(errors) >= 12
    # The breaker opens after a few failures; every later call is circuit_open.
    assert all(error.startswith((reason, "circuit_open")) for error in errors), errors
    assert any(error.startswith(reason) for error in errors), errors


def answer(body: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return httpx.Response(200, content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"a": "\xff"}', "application/json", "invalid_encoding"),
        (b"\xef\xbb\xbf{}", "application/json", "invalid_json"),  # a byte-order mark
        (b'{"a": NaN}', "application/json", "invalid_json"),
        (b'{"a": -Infinity}', "application/json", "invalid_json"),
        (b'{"a": ' + b"1" * 5000 + b"}", "application/json", "invalid_json"),  # past int digits
        (b"{}", "text/plain", "invalid_content_type"),
        (b"{}", None, "invalid_content_type"),
        (b"", "application/json", "invalid_json"),
    ],
)
def test_decoding_refuses_whatever_is_not_plain_json(body, content_type, reason):
    with pytest.raises(AgencyFailure) as refused:
        decode_json(answer(body, content_type))
    assert refused.value.reason == reason
    assert "\xff" not in refused.value.summary()


def test_decoding_takes_json_with_parameters_and_suffix_types():
    assert decode_json(answer(b'{"a": 1}', "application/json; charset=utf-8")) == {"a": 1}
    assert decode_json(answer(b"[]", "application/problem+json")) == []
