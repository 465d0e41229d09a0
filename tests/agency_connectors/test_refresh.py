"""Refresh over real HTTP against the simulated agencies, including every fault mode."""

import time
from dataclasses import replace

import pytest
from sqlalchemy.orm import sessionmaker

from agency_connectors.refresh import refresh_all, refresh_citizen
from agency_connectors.registry import ConnectorRegistry
from agency_connectors.simulators import record_for
from profile_store.assembly import agency_status, load_fields
from profile_store.citizens import get_citizen, reveal_uinfin
from tests.factories import make_citizen


def refresh(db_session, runtime, citizen, now, registry=None, **kw):
    return refresh_citizen(
        db_session,
        registry=registry or runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        now=now,
        **kw,
    )


def views(db_session, runtime, citizen, attributes=None):
    return load_fields(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=attributes
    )


@pytest.fixture
def with_endpoint(base_config, runtime):
    """A registry whose one agency endpoint is changed (closed after the test)."""
    made = []

    def build(code, **changes):
        endpoints = tuple(replace(e, **changes) if e.code == code else e for e in base_config.agencies)
        made.append(ConnectorRegistry.from_config(base_config.replace(agencies=endpoints), runtime.catalogue))
        return made[-1]

    yield build
    for registry in made:
        registry.close()


def test_refresh_aggregates_all_eight_agencies_with_provenance(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    result = refresh(db_session, runtime, citizen, now)
    assert set(result.outcomes) == set(runtime.catalogue.source_agencies())
    assert result.failed == {}
    fields = views(db_session, runtime, citizen)
    expected = record_for("identity", reveal_uinfin(runtime.vault, citizen))
    assert fields["name"].item["value"] == expected["name"]["value"]
    assert fields["name"].agency == "identity" and fields["name"].source == "1"
    assert fields["name"].item["lastupdated"] == expected["name"]["lastupdated"]
    assert fields["name"].fetched_at == now


def test_an_agency_that_is_down_never_fails_the_refresh(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    refresh(db_session, runtime, citizen, now)
    before = views(db_session, runtime, citizen)
    simulators.set_fault("identity", outage=True)
    result = refresh(db_session, runtime, citizen, now.replace(hour=12))
    assert set(result.failed) == {"identity"} and result.failed["identity"].startswith("http_503")
    after = views(db_session, runtime, citizen)
    assert after["name"].item == before["name"].item
    assert after["name"].fetched_at == now, "a kept value keeps its original fetch time"


def test_never_fetched_fields_of_a_failed_agency_are_unavailable(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    simulators.set_fault("tax", error_rate=1.0)
    result = refresh(db_session, runtime, citizen, now)
    assert result.failed["tax"].startswith("http_500")
    assert views(db_session, runtime, citizen, ["noa-basic"])["noa-basic"].unavailable


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated_json", "invalid_json"),
        ("wrong_types", "invalid_payload"),
        ("unknown_attribute", "invalid_payload"),
    ],
)
def test_bad_payloads_are_refused_whole_and_named(db_session, runtime, now, simulators, fault, reason):
    citizen = make_citizen(db_session, runtime.vault)
    refresh(db_session, runtime, citizen, now)
    before = views(db_session, runtime, citizen)
    simulators.set_fault("identity", fault=fault)
    result = refresh(db_session, runtime, citizen, now.replace(hour=13))
    assert result.failed["identity"].startswith(reason)
    after = views(db_session, runtime, citizen)
    assert {k: v.item for k, v in after.items()} == {k: v.item for k, v in before.items()}


def test_slow_agency_times_out_within_its_budget(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    simulators.set_fault("education", fault="hang")
    started = time.perf_counter()
    result = refresh(db_session, runtime, citizen, now)
    elapsed = time.perf_counter() - started
    timeout, tries = runtime.config.agency_timeout_s, runtime.config.agency_retries + 1
    assert result.failed["education"].startswith("timeout")
    assert not result.failed.keys() - {"education"}
    assert elapsed < timeout * tries + 1.5


def test_agencies_are_called_concurrently(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    for code in runtime.catalogue.source_agencies():
        simulators.set_fault(code, latency_ms=300)
    started = time.perf_counter()
    result = refresh(db_session, runtime, citizen, now)
    assert result.failed == {}
    # One after another would take at least 2.4 s; in parallel about 0.3 s plus overhead.
    assert time.perf_counter() - started < 8 * 0.3 * 0.75, "eight 300 ms agencies must overlap"


def test_transient_errors_are_retried_a_bounded_number_of_times(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    simulators.set_fault("family", error_rate=1.0)
    refresh(db_session, runtime, citizen, now, agencies=["family"])
    assert simulators.stats()["family"]["requests"] == runtime.config.agency_retries + 1


def test_circuit_opens_after_repeated_failures_and_stops_calling(db_session, runtime, now, simulators):
    citizen = make_citizen(db_session, runtime.vault)
    simulators.set_fault("pension", outage=True)
    for _ in range(runtime.config.breaker_threshold):
        refresh(db_session, runtime, citizen, now, agencies=["pension"])
    calls = simulators.stats()["pension"]["requests"]
    result = refresh(db_session, runtime, citizen, now, agencies=["pension"])
    assert result.failed["pension"].startswith("circuit_open")
    assert simulators.stats()["pension"]["requests"] == calls


def test_wrong_api_key_is_a_named_failure_and_not_retried(
    db_session, runtime, now, simulators, with_endpoint
):
    registry = with_endpoint("transport", api_key="wrong")
    citizen = make_citizen(db_session, runtime.vault)
    result = refresh(db_session, runtime, citizen, now, registry=registry, agencies=["transport"])
    assert result.failed["transport"].startswith("http_401")
    assert simulators.stats()["transport"]["requests"] == 1


def test_unreachable_agency_is_reported(db_session, runtime, now, with_endpoint):
    registry = with_endpoint("identity", url="http://127.0.0.1:9/identity")
    citizen = make_citizen(db_session, runtime.vault)
    result = refresh(db_session, runtime, citizen, now, registry=registry, agencies=["identity"])
    assert result.failed["identity"].startswith("unreachable")


def test_bulk_refresh_streams_every_citizen_in_batches(engine, runtime, now, simulators):
    # Real commits: bulk refresh reads and writes in separate sessions.
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        ids = [make_citizen(session, runtime.vault).id for _ in range(25)]
        session.commit()
    seen = []
    progress = refresh_all(
        sessions,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        clock=lambda: now,
        batch_size=10,
        concurrency=16,
        on_batch=lambda p: seen.append(p.citizens),
    )
    assert progress.citizens >= 25 and progress.failed_citizens == 0
    assert seen == sorted(seen) and len(seen) >= 3
    with sessions() as session:
        for cid in ids:
            fields = views(session, runtime, get_citizen(session, cid), ["name"])
            assert not fields["name"].unavailable


def test_bulk_refresh_records_a_failing_agency_and_keeps_the_others(engine, runtime, now, simulators):
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        ids = [make_citizen(session, runtime.vault).id for _ in range(12)]
        session.commit()
    simulators.set_fault("tax", error_rate=1.0)
    progress = refresh_all(
        sessions,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        clock=lambda: now,
        batch_size=5,
        concurrency=8,
    )
    assert progress.agency_failures.get("tax", 0) >= 12 and progress.failed_citizens >= 12
    assert set(progress.agency_failures) == {"tax"}
    with sessions() as session:
        for cid in ids:
            syncs = agency_status(session, cid)
            assert syncs["tax"].last_error.startswith(("http_500", "circuit_open"))
            assert syncs["tax"].succeeded_at is None
            assert syncs["identity"].last_error is None and syncs["identity"].succeeded_at == now
            citizen = get_citizen(session, cid)
            assert citizen.refreshed_at == now
            fields = views(session, runtime, citizen, ["name", "noa-basic"])
            assert not fields["name"].unavailable and fields["noa-basic"].unavailable
