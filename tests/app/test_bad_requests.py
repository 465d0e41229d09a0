"""Requests that were answered 500 and are the caller's mistake, or a passing outage: a method a
route does not take, integers past 64 bits, a NUL, a body over the size limit, Redis unreachable.
Each was found by hand or by tests/app/test_route_inventory_fuzz.py; each is fixed at its class
(app/errors.py, app/request_guards.py), so these requests stand for every route like them."""

from __future__ import annotations

import io

import pytest

from app import create_app
from tests.http.test_operator_pages import csrf_token

HUGE = (2**63, 2**64, 10**30)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "TRACE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/operator/", "/citizen/sign-in", "/auditor/login"])
def test_a_method_no_page_takes_is_a_405_page_naming_the_allowed_ones(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "text/html" and "<h1" in response.text
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed


def test_a_method_no_api_takes_is_a_405_json_body(client):
    response = client.delete("/api/audit/checkpoints/latest")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("number", HUGE)
def test_path_integers_past_64_bits_match_no_route(client, number):
    assert client.get(f"/api/audit/checkpoints/{number}").status_code == 404
    assert client.get(f"/api/audit/checkpoints/{2**63 - 1}").status_code == 404  # in range, absent


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("name", ["seq", "tree_size"])
def test_query_integers_past_64_bits_are_400_naming_the_parameter(client, number, name):
    query = {"seq": 0, "tree_size": 1, name: number}
    response = client.get("/api/audit/proofs/inclusion", query_string=query)
    assert response.status_code == 400
    assert name in response.get_json()["errors"]


def test_consistency_proof_integers_are_bounded_too(client):
    response = client.get("/api/audit/proofs/consistency", query_string={"first": 1, "second": 2**64})
    assert response.status_code == 400 and "second" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "url", ["/api/audit/proofs/inclusion?seq=0%00&tree_size=1", "/operator/citizens/abc%00def", "/?x=%00"]
)
def test_a_nul_in_the_path_or_query_is_400(client, url):
    assert client.get(url).status_code == 400


def test_a_nul_in_a_form_field_is_400(client):
    form = {"csrf_token": csrf_token(client, "/citizen/sign-in"), "uinfin": "S1234567D\x00", "password": "x"}
    assert client.post("/citizen/sign-in", data=form).status_code == 400


OVERSIZED = b"uinfin=" + b"x" * (50 * 1024 * 1024 + 1)


def test_an_oversized_sign_in_is_a_413_page_or_json(client):
    page = client.post("/citizen/sign-in", data=OVERSIZED, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 413 and page.mimetype == "text/html" and "<h1" in page.text
    answer = client.post(
        "/citizen/sign-in",
        data=OVERSIZED,
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 413 and answer.get_json()["error"] == "invalid_request"


def test_an_oversized_body_without_a_length_is_a_413_too(client):
    """Chunked: the limit trips while the form is read, and hooks that read the form afterwards
    (the sign-in's Content-Security-Policy hook) must not trip it again."""
    response = client.post(
        "/citizen/sign-in",
        input_stream=io.BytesIO(OVERSIZED),
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


@pytest.fixture
def no_redis(base_config, engine, sessions):
    """The app with REDIS_URL pointing at a port nothing listens on."""
    app = create_app(base_config.replace(redis_url="redis://127.0.0.1:9/0"), engine=engine)
    app.extensions["consentry"].use_sessions(sessions)
    yield app.test_client()
    app.extensions["consentry"].close()


def test_redis_unreachable_is_a_503_page_with_retry_after(no_redis):
    form = {"csrf_token": csrf_token(no_redis, "/citizen/sign-in"), "uinfin": "S1234567D", "password": "x"}
    response = no_redis.post("/citizen/sign-in", data={**form, "code": "123456"})
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0


def test_redis_unreachable_is_a_503_json_body_with_retry_after_for_apis(no_redis):
    response = no_redis.post("/com/v4/token", data={"grant_type": "authorization_code"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0
