"""Several app servers, one truth: two servers (each its own app, engine and caches) behind one
public URL share the database and, when configured, Redis. A code, a client assertion or a DPoP
proof used at one server is refused at the other; a code replayed at the other server revokes
what the first one issued."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis
import requests
from joserfc.jwk import ECKey

from app import create_app
from consent.apps import register_app
from core.clock import utcnow
from core.db import make_engine
from examples.myinfo_v4_client import dpop_proof
from tests.oauth import flow
from tests.servers import serving

PUBLIC = "http://consentry.test"  # what the load balancer presents; clients sign for this URL
TOKEN_URL = f"{PUBLIC}/com/v4/token"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def servers(request, base_config, database_url, engine) -> Iterator[tuple[str, str]]:
    if request.param == "redis" and not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    config = base_config.replace(
        public_base_url=PUBLIC, redis_url=REDIS_URL if request.param == "redis" else None
    )
    with ExitStack() as stack:
        urls = []
        for _ in range(2):
            engine = make_engine(database_url)  # each server its own pool, as on two machines
            stack.callback(engine.dispose)
            url, _app = stack.enter_context(serving(lambda _url, e=engine: create_app(config, engine=e)))
            urls.append(url)
        yield urls[0], urls[1]


@pytest.fixture
def shared(base_config, engine):
    """An app registration and a citizen committed for real; removed afterwards."""
    keys = flow.AgencyKeys()
    application = create_app(base_config.replace(public_base_url=PUBLIC), engine=engine)
    rt = application.extensions["consentry"]
    with rt.sessions() as session:
        kids = flow.platform_kids(session)
        register_app(session, document=flow.registration(keys), catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = flow.setup_citizen(session, rt)
    yield application, keys, citizen
    with rt.sessions() as session:
        flow.forget_committed(session, citizen_id=citizen.id, kids=kids)
    rt.close()


def new_code(application, citizen, verifier: str) -> str:
    client = application.test_client()
    return flow.get_code(client, citizen.id, verifier)


def token(server: str, form: dict, proof: str) -> requests.Response:
    return requests.post(f"{server}/com/v4/token", data=form, headers={"DPoP": proof}, timeout=10)


def test_codes_assertions_and_proofs_are_single_use_across_servers(servers, shared):
    a, b = servers
    application, keys, citizen = shared
    verifier = secrets.token_hex(32)
    dpop_key = ECKey.generate_key("P-256")

    code = new_code(application, citizen, verifier)
    assertion = flow.client_assertion(keys, dpop_key=dpop_key, aud=TOKEN_URL)
    proof = dpop_proof(dpop_key, method="POST", url=TOKEN_URL)
    form = flow.token_form(keys, code, verifier, dpop_key, client_assertion=assertion)
    first = token(a, form, proof)
    assert first.status_code == 200, first.text
    access_token = first.json()["access_token"]

    code2 = new_code(application, citizen, verifier)
    replayed_assertion = token(b, {**form, "code": code2}, dpop_proof(dpop_key, method="POST", url=TOKEN_URL))
    assert replayed_assertion.status_code == 401 and replayed_assertion.json()["error"] == "invalid_client"

    fresh = flow.client_assertion(keys, dpop_key=dpop_key, aud=TOKEN_URL)
    replayed_proof = token(b, {**form, "code": code2, "client_assertion": fresh}, proof)
    assert replayed_proof.status_code == 400 and replayed_proof.json()["error"] == "invalid_dpop_proof"

    sub = flow.token_sub(access_token)
    person_url = f"{PUBLIC}/com/v4/person/{sub}"
    person_proof = dpop_proof(dpop_key, method="GET", url=person_url, access_token=access_token)
    headers = {"Authorization": f"DPoP {access_token}", "DPoP": person_proof}
    assert requests.get(f"{a}/com/v4/person/{sub}?scope=name", headers=headers, timeout=10).status_code == 200
    again = requests.get(f"{b}/com/v4/person/{sub}?scope=name", headers=headers, timeout=10)
    assert again.status_code == 401 and again.json()["error"] == "invalid_dpop_proof"

    # The first code, replayed at the other server: refused, and the token it issued is revoked.
    replay = flow.token_form(
        keys,
        code,
        verifier,
        dpop_key,
        client_assertion=flow.client_assertion(keys, dpop_key=dpop_key, aud=TOKEN_URL),
    )
    replayed_code = token(b, replay, dpop_proof(dpop_key, method="POST", url=TOKEN_URL))
    assert replayed_code.status_code == 400 and replayed_code.json()["error"] == "invalid_grant"
    headers["DPoP"] = dpop_proof(dpop_key, method="GET", url=person_url, access_token=access_token)
    revoked = requests.get(f"{a}/com/v4/person/{sub}?scope=name", headers=headers, timeout=10)
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_token"
