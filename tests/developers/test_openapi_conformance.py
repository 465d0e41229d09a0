"""Schemathesis against the live /openapi.json: every documented operation, on a real loopback
server, with a bounded number of generated requests each (valid ones, then invalid ones). No
answer may be a 5xx, and every answer must conform to the document: a documented status, its
content type, its headers and its body schema.

The server is this module's own, on the session's database, so its limits can be raised: junk
client assertions would otherwise spend the failed-authentication allowance (30 a minute per
address) and turn most answers into 429s. Its requests claim a documentation address (TEST-NET-2)
through one trusted proxy hop, so the failures they cost count against that address, never
against the loopback address other tests' servers see.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from app import create_app
from app.developers.openapi import operation_count
from tests.servers import serving

CLIENT_ADDRESS = "198.51.100.23"
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_url(base_config, engine) -> Iterator[str]:
    def build(url: str):
        config = base_config.replace(
            public_base_url=url,
            trusted_proxy_hops=1,
            client_auth_failure_limit=1_000_000,
            token_rate_limit=1_000_000,
        )
        return create_app(config, engine=engine)

    with serving(build) as (url, _app):
        yield url


def test_every_documented_operation_answers_as_documented(api_url):
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == operation_count(schema.raw_schema)
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    spent: Counter[str] = Counter()

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            started = time.monotonic()
            run = _runner(operation, mode, examples, cases=cases, statuses=statuses, failures=failures)
            try:
                run()
            except Unsatisfiable:
                # Nothing invalid to send: an operation without parameters or body (a key set).
                assert mode is GenerationMode.NEGATIVE, operation.label
            spent[operation.label] += time.monotonic() - started

    total = sum(cases.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} test cases, {len(failures)} failures")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print("slowest:", [(label, round(seconds, 1)) for label, seconds in spent.most_common(5)])
    print("\n".join(failures))
    assert all(cases[operation.label] > 0 for operation in operations)
    assert failures == []


def _runner(operation, mode, examples, *, cases, statuses, failures):
    """A Hypothesis test sending `examples` generated requests of `operation` in `mode`."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case) -> None:
        cases[operation.label] += 1
        response = case.call(headers={"X-Forwarded-For": CLIENT_ADDRESS}, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # the checks' failures: collected, so one run reports them all
            failures.append(f"{operation.label} [{mode.value}]: {response.status_code}: {str(exc)[:600]}")

    return exercise
