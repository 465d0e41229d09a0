"""The simulated agencies: deterministic, catalogue-conformant data over real loopback HTTP, auth,
input checks, fault injection, counters and prompt shutdown."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agency_connectors.simulators import (
    AGENCIES,
    DEMO_CONTROL_KEY,
    UNKNOWN_ATTRIBUTE,
    RunningSimulators,
    SimulatorConfig,
    default_config,
    record_for,
    start_simulators,
)
from agency_connectors.simulators import server as server_module
from core.uinfin import demo_uinfin, is_valid_uinfin
from profile_store.catalogue import META_KEYS, default_catalogue, validate_item

ROOT = Path(__file__).resolve().parents[2]
CONTROL = {"X-Control-Key": DEMO_CONTROL_KEY}
CATALOGUE = default_catalogue()


@pytest.fixture(scope="module")
def sims() -> Iterator[RunningSimulators]:
    with start_simulators(default_config()) as running:
        yield running


@pytest.fixture(scope="module")
def http(sims: RunningSimulators) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sims.base_url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sims" in request.fixturenames:
        request.getfixturevalue("sims").reset()


@pytest.fixture(scope="module")
def population() -> dict[str, list[dict | None]]:
    """Every agency's record of demo citizens 0..999, computed directly (no HTTP)."""
    return {agency: [record_for(agency, demo_uinfin(n)) for n in range(1000)] for agency in AGENCIES}


def lookup(client: httpx.Client, agency: str, uinfin: str, key: str | None = None) -> httpx.Response:
    headers = {"X-API-Key": key if key is not None else f"demo-{agency}-key"}
    return client.post(f"/{agency}/v1/person-lookup", json={"uinfin": uinfin}, headers=headers)


def first_id(condition: Callable[[str], bool]) -> str:
    return next(u for u in map(demo_uinfin, range(10_000)) if condition(u))


def present(agency: str) -> str:
    return first_id(lambda u: record_for(agency, u) is not None)


def fingerprint(count: int) -> str:
    records = {a: [record_for(a, demo_uinfin(n)) for n in range(count)] for a in AGENCIES}
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


# --- data --------------------------------------------------------------------------------------------


def test_records_are_identical_across_calls_processes_and_servers(sims, http) -> None:
    uinfin = present("transport")
    assert record_for("transport", uinfin) == record_for("transport", uinfin)
    # Another interpreter with different string hashing must produce the very same data.
    code = "from tests.agency_connectors.test_simulators import fingerprint; print(fingerprint(40))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert other.stdout.strip() == fingerprint(40)
    with start_simulators(default_config()) as second, httpx.Client(base_url=second.base_url) as client2:
        for agency in AGENCIES:
            uinfin = present(agency)
            assert lookup(http, agency, uinfin).content == lookup(client2, agency, uinfin).content


def test_seed_changes_the_data() -> None:
    uinfin = demo_uinfin(7)
    assert record_for("identity", uinfin, seed="other") != record_for("identity", uinfin)


def test_every_item_fits_the_catalogue_and_only_the_agencys_own_attributes() -> None:
    for agency in AGENCIES:
        owned = {a.name for a in CATALOGUE.owned_by(agency)}
        seen = 0
        for n in range(500):
            record = record_for(agency, demo_uinfin(n))
            if record is None:
                continue
            seen += 1
            assert set(record) == owned, agency
            for name, item in record.items():
                assert validate_item(CATALOGUE[name], item) == [], (agency, name, item)
                _check_meta(CATALOGUE[name].shape, item)
        assert seen > 250, agency


def _check_meta(shape: str, item: object) -> None:
    if shape == "list":
        assert isinstance(item, list)
        assert all(not (META_KEYS & set(element)) for element in item)
        return
    assert isinstance(item, dict) and "classification" not in item
    assert "2019-01-01" <= item["lastupdated"] <= "2025-12-31"
    assert item.get("source", "3") == "3"


def test_absence_rates(population) -> None:
    share = {a: sum(r is None for r in records) / len(records) for a, records in population.items()}
    assert share["identity"] == 0 and share["family"] == 0
    assert 0.05 <= share["tax"] <= 0.16
    assert 0.02 <= share["pension"] <= 0.09
    assert 0.18 <= share["housing"] <= 0.32
    assert 0.32 <= share["transport"] <= 0.48
    assert 0.10 <= share["employment"] <= 0.21
    assert 0.02 <= share["education"] <= 0.09


def test_invalid_ids_are_absent_and_fins_are_known() -> None:
    for bad in ("S1234567A", "s9812381d", "", "S98123810"):
        assert all(record_for(agency, bad) is None for agency in AGENCIES)
    for fin in ("F1612347K", "G1612352N", "M1234567K"):
        identity = record_for("identity", fin)
        assert identity is not None and identity["residentialstatus"]["code"] == "A"
        assert record_for("pension", fin) is None  # foreigners have no pension account
    with pytest.raises(ValueError):
        record_for("citizen", demo_uinfin(0))


def test_agencies_agree_on_the_persona(population) -> None:
    employers = addresses = surnames = 0
    for n in range(1000):
        identity, job, cpf, housing, family, tax = (
            population[a][n] for a in ("identity", "employment", "pension", "housing", "family", "tax")
        )
        if job and cpf and cpf["cpfemployers"]["history"]:
            employers += 1
            employer = job["employment"]["value"]
            assert cpf["cpfemployers"]["history"][-1]["employer"]["value"] == employer
            assert cpf["cpfcontributions"]["history"][-1]["employer"]["value"] == employer
        if job and tax:
            assert tax["noa"]["employment"]["value"] > 0
        flats = housing["hdbownership"] if housing else []
        if flats and flats[0]["dateofownershiptransfer"]["value"] == "":
            addresses += 1
            assert flats[0]["address"] == {k: v for k, v in identity["regadd"].items() if k != "lastupdated"}
        if identity["race"]["code"] == "CN" and identity["sex"]["code"] == "M":
            for child in family["childrenbirthrecords"]:
                surnames += 1
                assert child["name"]["value"].split()[0] == identity["name"]["value"].split()[0]
                assert is_valid_uinfin(child["birthcertno"]["value"])
    assert employers > 500 and addresses > 200 and surnames > 50


def test_population_is_varied(population) -> None:
    identities = [r for r in population["identity"] if r]
    races = Counter(r["race"]["code"] for r in identities)
    assert set(races) == {"CN", "MY", "IN", "EU"} and races.most_common(1)[0][0] == "CN"
    assert Counter(r["sex"]["code"] for r in identities)["F"] > 350
    births = sorted(r["dob"]["value"] for r in identities)
    assert "1934-06-30" < births[0] < "1945-01-01" and "2003-01-01" < births[-1] <= "2007-06-30"
    assert len({r["name"]["value"] for r in identities}) > 600
    marital = Counter(r["marital"]["code"] for r in population["family"] if r)
    assert set(marital) == {"1", "2", "3", "5"}
    vehicles = [v for r in population["transport"] if r for v in r["vehicles"]]
    assert len(vehicles) > 200 and len({v["make"]["value"] for v in vehicles}) > 8
    assert sum(bool(r["childrenbirthrecords"]) for r in population["family"] if r) > 300
    assert len({r["hdbtype"]["code"] for r in population["housing"] if r}) >= 5
    incomes = [r["noa"]["amount"]["value"] for r in population["tax"] if r]
    assert min(incomes) < 30_000 and max(incomes) > 150_000


# --- HTTP API --------------------------------------------------------------------------------------


def test_lookup_answers_the_agencys_record(http, capfd) -> None:
    for agency in AGENCIES:
        uinfin = present(agency)
        response = lookup(http, agency, uinfin)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"agency": agency, "attributes": record_for(agency, uinfin)}
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing logged, least of all an id


def test_absent_citizen_is_404(http) -> None:
    uinfin = first_id(lambda u: record_for("transport", u) is None)
    response = lookup(http, "transport", uinfin)
    assert response.status_code == 404 and response.json() == {"error": "not_found"}


def test_wrong_or_missing_key_is_401(http) -> None:
    uinfin = present("tax")
    assert lookup(http, "tax", uinfin, key="demo-identity-key").status_code == 401
    assert lookup(http, "tax", uinfin, key="wrong").status_code == 401
    response = http.post("/tax/v1/person-lookup", json={"uinfin": uinfin})
    assert response.status_code == 401 and response.json() == {"error": "invalid_api_key"}


def test_custom_keys_replace_the_demo_keys() -> None:
    config = default_config()
    config.api_keys = {agency: f"secret-{agency}" for agency in AGENCIES}
    with start_simulators(config) as custom, httpx.Client(base_url=custom.base_url) as client:
        uinfin = demo_uinfin(0)
        assert lookup(client, "identity", uinfin).status_code == 401
        assert lookup(client, "identity", uinfin, key="secret-identity").status_code == 200


def test_incomplete_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        start_simulators(SimulatorConfig(api_keys={"tax": "k"}, control_key="c"))


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"id": "S9812381D"}',
        b'{"uinfin": 9812381}',
        b'{"uinfin": "S9812381A"}',
        b'{"uinfin": "s9812381d"}',
    ],
)
def test_bad_lookup_body_is_400(http, body: bytes) -> None:
    response = http.post(
        "/identity/v1/person-lookup", content=body, headers={"X-API-Key": "demo-identity-key"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and response.json()["error_description"]
    assert b"9812381" not in response.content  # the id is never echoed


def test_routing(http) -> None:
    headers = {"X-API-Key": "demo-identity-key"}
    assert http.get("/healthz").status_code == 200
    assert (
        http.post("/citizen/v1/person-lookup", json={"uinfin": "S9812381D"}, headers=headers).status_code
        == 404
    )
    assert (
        http.post("/identity/v2/person-lookup", json={"uinfin": "S9812381D"}, headers=headers).status_code
        == 404
    )
    assert http.get("/nowhere").status_code == 404
    response = http.get("/identity/v1/person-lookup", headers=headers)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert http.put("/tax/v1/person-lookup", json={}, headers=headers).status_code == 405


def test_url_for(sims) -> None:
    assert sims.url_for("tax") == sims.base_url + "/tax"
    with pytest.raises(ValueError):
        sims.url_for("citizen")


# --- faults ----------------------------------------------------------------------------------------


def control(http: httpx.Client, agency: str, **changes: object) -> httpx.Response:
    return http.post(f"/_control/{agency}", json=changes, headers=CONTROL)


def test_latency(http) -> None:
    uinfin = present("tax")
    assert control(http, "tax", latency_ms=250).status_code == 200
    started = time.monotonic()
    assert lookup(http, "tax", uinfin).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_error_rate_and_stats(http) -> None:
    control(http, "pension", error_rate=1.0)
    uinfin = present("pension")
    assert [lookup(http, "pension", uinfin).status_code for _ in range(3)] == [500, 500, 500]
    lookup(http, "tax", present("tax"))
    stats = http.get("/_control/stats", headers=CONTROL).json()
    assert stats["pension"] == {"requests": 3, "errors": 3}
    assert stats["tax"] == {"requests": 1, "errors": 0}
    assert stats["identity"] == {"requests": 0, "errors": 0}
    control(http, "pension", error_rate=0.5)
    statuses = Counter(lookup(http, "pension", uinfin).status_code for _ in range(100))
    assert set(statuses) == {200, 500}


def test_outage_answers_503_at_once(http) -> None:
    control(http, "housing", outage=True, latency_ms=5000)
    started = time.monotonic()
    response = lookup(http, "housing", present("housing"))
    assert response.status_code == 503 and time.monotonic() - started < 2


def test_truncated_json(http) -> None:
    uinfin = present("family")
    whole = lookup(http, "family", uinfin).content
    control(http, "family", fault="truncated_json")
    response = lookup(http, "family", uinfin)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) < len(whole)
    assert whole.startswith(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_wrong_types(http) -> None:
    control(http, "identity", fault="wrong_types")
    attributes = lookup(http, "identity", demo_uinfin(3)).json()["attributes"]
    assert set(attributes) == {a.name for a in CATALOGUE.owned_by("identity")}
    assert all(validate_item(CATALOGUE[name], item) for name, item in attributes.items())
    assert attributes["sex"] == 42  # a number where a coded value belongs


def test_unknown_attribute(http) -> None:
    control(http, "education", fault="unknown_attribute")
    uinfin = present("education")
    attributes = lookup(http, "education", uinfin).json()["attributes"]
    assert UNKNOWN_ATTRIBUTE in attributes and UNKNOWN_ATTRIBUTE not in CATALOGUE
    assert {k: v for k, v in attributes.items() if k != UNKNOWN_ATTRIBUTE} == record_for("education", uinfin)


def test_garbled_answers(sims, http) -> None:
    uinfin = present("pension")
    whole = lookup(http, "pension", uinfin).content
    control(http, "pension", fault="garbage_bytes")
    garbage = lookup(http, "pension", uinfin)
    assert garbage.status_code == 200 and garbage.headers["content-type"] == "application/json"
    with pytest.raises(UnicodeDecodeError):
        garbage.content.decode("utf-8")
    control(http, "pension", fault="html_page")
    page = lookup(http, "pension", uinfin)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    control(http, "pension", fault="json_array")
    assert lookup(http, "pension", uinfin).json() == [json.loads(whole)]
    control(http, "pension", fault="deep_json")
    with pytest.raises(RecursionError):
        json.loads(lookup(http, "pension", uinfin).content)
    sims.reset()
    assert lookup(http, "pension", uinfin).content == whole


def test_hang_delays_the_answer(sims, http, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "HANG_SECONDS", 0.3)
    sims.set_fault("employment", fault="hang")
    started = time.monotonic()
    response = lookup(http, "employment", present("employment"))
    assert response.status_code == 200 and time.monotonic() - started >= 0.3


def test_hang_blocks_neither_other_requests_nor_stop() -> None:
    running = start_simulators(default_config())
    running.set_fault("tax", fault="hang")
    outcome: list[object] = []

    def hung_request() -> None:
        try:
            with httpx.Client(base_url=running.base_url, timeout=20) as client:
                outcome.append(lookup(client, "tax", present("tax")).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=hung_request)
    caller.start()
    deadline = time.monotonic() + 5
    while running.stats()["tax"]["requests"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with httpx.Client(base_url=running.base_url, timeout=2) as client:
        assert lookup(client, "identity", demo_uinfin(1)).status_code == 200
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 3
    caller.join(timeout=3)
    assert not caller.is_alive() and isinstance(outcome[0], httpx.HTTPError)


def test_control_validation(http) -> None:
    for changes in (
        {"latency_ms": -1},
        {"latency_ms": "100"},
        {"error_rate": 2},
        {"outage": "yes"},
        {"fault": "explode"},
        {"colour": "red"},
    ):
        assert control(http, "tax", **changes).status_code == 400, changes
    assert http.post("/_control/tax", content=b"{nope", headers=CONTROL).status_code == 400
    assert http.post("/_control/tax", json=[1], headers=CONTROL).status_code == 400
    assert control(http, "citizen", outage=True).status_code == 404
    current = http.get("/_control/tax", headers=CONTROL).json()["faults"]
    assert current == {"latency_ms": 0, "error_rate": 0.0, "outage": False, "fault": None}


def test_control_needs_the_control_key(sims, http) -> None:
    for headers in ({}, {"X-Control-Key": "wrong"}, {"X-Control-Key": "demo-tax-key"}):
        assert http.post("/_control/tax", json={"outage": True}, headers=headers).status_code == 401
        assert http.post("/_control/reset", headers=headers).status_code == 401
        assert http.get("/_control/stats", headers=headers).status_code == 401
    assert sims.state.faults("tax").outage is False


def test_reset_clears_faults_and_counters(sims, http) -> None:
    control(http, "tax", outage=True)
    sims.set_fault("transport", latency_ms=100, fault="wrong_types")
    lookup(http, "tax", present("tax"))
    assert http.post("/_control/reset", headers=CONTROL).status_code == 200
    assert all(
        s == {"requests": 0, "errors": 0}
        for s in http.get("/_control/stats", headers=CONTROL).json().values()
    )
    assert lookup(http, "tax", present("tax")).status_code == 200
    uinfin = present("transport")
    assert lookup(http, "transport", uinfin).json()["attributes"] == record_for("transport", uinfin)


def test_in_process_faults(sims, http) -> None:
    uinfin = present("tax")
    sims.set_fault("tax", error_rate=1.0)
    assert lookup(http, "tax", uinfin).status_code == 500
    sims.set_fault("tax", error_rate=0.0, fault="unknown_attribute")
    assert UNKNOWN_ATTRIBUTE in lookup(http, "tax", uinfin).json()["attributes"]
    sims.set_fault("tax", fault=None)
    assert lookup(http, "tax", uinfin).json()["attributes"] == record_for("tax", uinfin)
    with pytest.raises(ValueError):
        sims.set_fault("tax", error_rate=1.5)
    with pytest.raises(ValueError):
        sims.set_fault("citizen", outage=True)


def test_command_line_runs_until_interrupted() -> None:
    command = [sys.executable, "-m", "agency_connectors.simulators", "--port", "0"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, cwd=ROOT, **pipes) as process:
        try:
            base_url = process.stdout.readline().split()[-1]
            assert base_url.startswith("http://127.0.0.1:")
            assert httpx.get(base_url + "/healthz", timeout=5).status_code == 200
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=5)
        finally:
            process.kill()
    assert process.returncode == 0 and err == ""
    assert "stopped" in out
