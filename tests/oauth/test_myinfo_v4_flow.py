"""The MyInfo v4 flow over HTTP (Flask test client): authorize, consent, token, person, and every
rule each step enforces. Each refusal is checked for its RFC error body and that no data left."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from urllib.parse import urlencode

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

import app.oauth.release as release
from app import create_app
from audit.models import AuditEntry
from consent.apps import set_disabled
from consent.consents import revoke_consent
from consent.grant_models import AuthorizationCode, IssuedToken
from consent.models import Consent
from examples.myinfo_v4_client import dpop_proof
from tests.oauth import flow
from tests.oauth.flow import (
    CLIENT_ID,
    PERSON_URL,
    REDIRECT_URI,
    REQUIRED,
    TOKEN_URL,
    AgencyKeys,
    authorize,
    consent_path,
    decide,
    get_code,
    get_person,
    get_token,
    open_person,
    post_token,
    redirect_params,
    sign_in,
    token_form,
)


def disclosures(db_session) -> int:
    return db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "disclosure")
    )


def oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error, body
    assert body["error_description"] and body["code"] == status
    return body


# --- the whole flow -------------------------------------------------------------------------


def test_partial_consent_releases_only_the_approved_fields_signed_encrypted_and_audited(
    client, db_session, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier, attributes=["regadd"])
    token = get_token(client, keys, code, verifier, dpop_key)
    assert token["token_type"] == "DPoP" and token["expires_in"] == 1800
    assert set(token["scope"].split()) == {"uinfin", "name", "regadd"}
    before = disclosures(db_session)

    response = get_person(client, token["access_token"], dpop_key, scope="uinfin name regadd")

    assert response.mimetype == "application/jose"
    assert response.headers["Cache-Control"] == "no-store"
    jwks = client.get("/.well-known/keys.json").get_json()
    person, header = open_person(response, keys, jwks)
    assert header["alg"] == "ECDH-ES+A256KW" and header["enc"] == "A256GCM"
    assert header["kid"] == keys.encryption.kid and header["cty"] == "JWT"
    assert set(person) == {"uinfin", "name", "regadd"}
    assert person["name"]["source"] == "1" and person["name"]["classification"] == "C"
    assert "noa-basic" not in person and "cpfbalances" not in person
    assert disclosures(db_session) == before + 1
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert entry.kind == "disclosure" and entry.app_id == CLIENT_ID
    assert entry.citizen_ref == citizen.uinfin_digest


def test_person_may_ask_for_fewer_attributes_or_declined_ones_but_nothing_never_requested(
    client, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier, attributes=[])
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    jwks = client.get("/.well-known/keys.json").get_json()
    person, _ = open_person(get_person(client, token, dpop_key, scope="name"), keys, jwks)
    assert set(person) == {"name"}
    person, _ = open_person(get_person(client, token, dpop_key, scope="name regadd"), keys, jwks)
    assert set(person) == {"name"}, "regadd was requested and declined: absent, not refused"
    oauth_error(get_person(client, token, dpop_key, scope="name vehicles"), 403, "insufficient_scope")


# --- authorize ------------------------------------------------------------------------------


def test_unknown_client_and_unregistered_redirect_uri_get_a_page_not_a_redirect(client, agency_app, verifier):
    unknown = authorize(client, verifier, client_id="nobody-app")
    assert unknown.status_code == 404 and "Location" not in unknown.headers
    wrong = authorize(client, verifier, redirect_uri=REDIRECT_URI + "/x")
    assert wrong.status_code == 400 and "Location" not in wrong.headers
    assert "unknown return address" in wrong.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"purpose_id": "marketing"}, "invalid_request"),
        ({"scope": "uinfin name vehicles"}, "invalid_scope"),
        ({"scope": "uinfin name passportnumber"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
    ],
)
def test_bad_authorisation_requests_go_back_to_the_app_with_the_error_state_and_iss(
    client, agency_app, verifier, overrides, error
):
    params = redirect_params(authorize(client, verifier, state="s-123", **overrides))
    assert params["error"] == error
    assert params["state"] == "s-123"
    assert params["iss"] == "http://localhost/com/v4"
    assert "code" not in params


def test_a_registered_query_is_kept_and_response_type_and_state_are_optional(client, citizen, keys, verifier):
    sign_in(client, citizen.id)
    uri = "http://localhost:3001/callback?tenant=a"
    path = consent_path(authorize(client, verifier, redirect_uri=uri, state=None))
    response = decide(client, path)
    assert response.headers["Location"].startswith(uri + "&code=")
    assert "state" not in redirect_params(response)


def test_duplicate_parameters_are_refused(client, agency_app, verifier):
    query = urlencode(flow.authorize_params(verifier)) + "&scope=name"
    assert client.get("/com/v4/authorize?" + query).status_code == 400


# --- consent screen -------------------------------------------------------------------------


def test_consent_screen_needs_sign_in_and_shows_app_purpose_fields_and_sources(client, citizen, verifier):
    path = consent_path(authorize(client, verifier))
    anonymous = client.get(path)
    assert anonymous.status_code in (302, 303) and "sign-in" in anonymous.headers["Location"]
    sign_in(client, citizen.id)
    page = client.get(path)
    assert page.status_code == 200
    assert (
        "Housing grant application" in page.text and "To assess your housing grant application." in page.text
    )
    assert page.text.count("Required") >= len(REQUIRED)
    assert "Identity" in page.text or "identity" in page.text  # a source agency is named
    assert page.headers["X-Frame-Options"] == "DENY" or "frame-ancestors 'none'" in page.headers.get(
        "Content-Security-Policy", ""
    )


def test_decline_returns_access_denied_and_is_audited(client, db_session, citizen, verifier):
    sign_in(client, citizen.id)
    path = consent_path(authorize(client, verifier, state="abc"))
    params = redirect_params(decide(client, path, decision="decline"))
    assert params == {
        "error": "access_denied",
        "error_description": params["error_description"],
        "state": "abc",
        "iss": "http://localhost/com/v4",
    }
    kinds = db_session.scalars(select(AuditEntry.kind).order_by(AuditEntry.seq.desc()).limit(1)).all()
    assert kinds == ["consent_declined"]
    assert client.get(path).status_code == 404, "an answered request cannot be answered again"


def test_consent_form_without_csrf_token_is_refused(client, citizen, verifier):
    sign_in(client, citizen.id)
    path = consent_path(authorize(client, verifier))
    response = decide(client, path, csrf=False)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_request_for_an_attribute_not_asked_is_shown_as_an_error(client, citizen, verifier):
    sign_in(client, citizen.id)
    path = consent_path(authorize(client, verifier, scope="uinfin name regadd"))
    response = decide(client, path, attributes=["regadd", "cpfbalances"])
    assert response.status_code == 400
    assert "There is a problem" in response.text


def test_remembered_consent_skips_the_screen_until_revoked(client, db_session, citizen, verifier, now):
    sign_in(client, citizen.id)
    path = consent_path(authorize(client, verifier))
    assert "code" in redirect_params(decide(client, path, remember="3m"))
    again = authorize(client, verifier)
    skipped = client.get(consent_path(again))
    assert "code" in redirect_params(skipped), "remembered: straight back to the app"
    remembered = db_session.scalars(select(Consent).where(Consent.remembered.is_(True))).one()
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=remembered.id, now=flow._now())
    db_session.commit()
    shown = client.get(consent_path(authorize(client, verifier)))
    assert shown.status_code == 200, "revoked: asked again"


# --- token ----------------------------------------------------------------------------------


def token_call(client, keys, code, verifier, dpop_key, /, *, dpop=None, **overrides):
    proof = dpop if dpop is not None else dpop_proof(dpop_key, method="POST", url=TOKEN_URL)
    return post_token(client, token_form(keys, code, verifier, dpop_key, **overrides), dpop=proof or None)


def test_token_response_is_not_cacheable(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    response = token_call(client, keys, code, verifier, dpop_key)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"code_verifier": secrets.token_hex(32)}, 400, "invalid_grant"),
        ({"code_verifier": None}, 400, "invalid_grant"),
        ({"redirect_uri": "http://localhost:3001/callback?tenant=a"}, 400, "invalid_grant"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"client_id": "nobody-app"}, 401, "invalid_client"),
        ({"client_assertion": None}, 401, "invalid_client"),
        ({"client_assertion": "a.b.c"}, 401, "invalid_client"),
        ({"client_assertion_type": "urn:other"}, 401, "invalid_client"),
    ],
)
def test_token_refusals(client, keys, citizen, verifier, dpop_key, overrides, status, error):
    code = get_code(client, citizen.id, verifier)
    oauth_error(token_call(client, keys, code, verifier, dpop_key, **overrides), status, error)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "http://localhost/com/v4/person"},
        {"exp": 1},
        {"iss": "someone-else"},
        {"sub": None},
    ],
)
def test_bad_client_assertions_are_invalid_client(client, keys, citizen, verifier, dpop_key, claims):
    code = get_code(client, citizen.id, verifier)
    assertion = flow.client_assertion(keys, dpop_key=dpop_key, **claims)
    oauth_error(
        token_call(client, keys, code, verifier, dpop_key, client_assertion=assertion), 401, "invalid_client"
    )


def test_assertion_signed_by_an_unregistered_key_or_replayed_is_refused(
    client, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier)
    stranger = AgencyKeys()
    stranger.signing = ECKey.generate_key("P-256", {"kid": keys.signing.kid}, auto_kid=False)
    forged = flow.client_assertion(stranger, dpop_key=dpop_key)
    oauth_error(
        token_call(client, keys, code, verifier, dpop_key, client_assertion=forged), 401, "invalid_client"
    )
    assertion = flow.client_assertion(keys, dpop_key=dpop_key)
    first = token_call(client, keys, code, verifier, dpop_key, client_assertion=assertion)
    assert first.status_code == 200
    code2 = get_code(client, citizen.id, verifier)
    oauth_error(
        token_call(client, keys, code2, verifier, dpop_key, client_assertion=assertion), 401, "invalid_client"
    )


def test_dpop_proof_is_required_and_checked_at_the_token_endpoint(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    oauth_error(token_call(client, keys, code, verifier, dpop_key, dpop=""), 400, "invalid_dpop_proof")
    wrong_url = dpop_proof(dpop_key, method="POST", url="http://localhost/com/v4/other")
    oauth_error(token_call(client, keys, code, verifier, dpop_key, dpop=wrong_url), 400, "invalid_dpop_proof")
    wrong_method = dpop_proof(dpop_key, method="GET", url=TOKEN_URL)
    oauth_error(
        token_call(client, keys, code, verifier, dpop_key, dpop=wrong_method), 400, "invalid_dpop_proof"
    )
    other_key = dpop_proof(ECKey.generate_key("P-256"), method="POST", url=TOKEN_URL)
    oauth_error(token_call(client, keys, code, verifier, dpop_key, dpop=other_key), 401, "invalid_client")
    proof = dpop_proof(dpop_key, method="POST", url=TOKEN_URL)
    assert token_call(client, keys, code, verifier, dpop_key, dpop=proof).status_code == 200
    code2 = get_code(client, citizen.id, verifier)
    oauth_error(token_call(client, keys, code2, verifier, dpop_key, dpop=proof), 400, "invalid_dpop_proof")


@pytest.mark.parametrize("refusal", ["unknown code", "assertion bound to another key"])
def test_a_token_calls_proof_stays_spent_when_the_call_is_refused(
    client, keys, citizen, verifier, dpop_key, refusal
):
    code = get_code(client, citizen.id, verifier)
    signer = dpop_key if refusal == "unknown code" else ECKey.generate_key("P-256")
    proof = dpop_proof(signer, method="POST", url=TOKEN_URL)
    if refusal == "unknown code":
        refused = token_call(client, keys, "not-a-code", verifier, dpop_key, dpop=proof)
        oauth_error(refused, 400, "invalid_grant")
    else:
        oauth_error(token_call(client, keys, code, verifier, dpop_key, dpop=proof), 401, "invalid_client")
    # Everything right this time but the proof, presented before: refused, and the code untouched.
    oauth_error(token_call(client, keys, code, verifier, signer, dpop=proof), 400, "invalid_dpop_proof")
    assert token_call(client, keys, code, verifier, signer).status_code == 200


def test_a_replayed_code_is_refused_and_revokes_the_token_it_issued(
    client, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier)
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    assert get_person(client, token, dpop_key, scope="name").status_code == 200
    oauth_error(token_call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")
    oauth_error(get_person(client, token, dpop_key, scope="name"), 401, "invalid_token")


def test_an_expired_code_is_refused(client, db_session, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    db_session.execute(update(AuthorizationCode).values(expires_at=flow._now() - dt.timedelta(seconds=1)))
    db_session.commit()
    oauth_error(token_call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")


@pytest.mark.parametrize("ended", ["revoked_at", "expires_at"])
def test_a_code_whose_consent_ended_is_refused_and_spent(
    client, db_session, keys, citizen, verifier, dpop_key, ended
):
    code = get_code(client, citizen.id, verifier)
    db_session.execute(update(Consent).values({ended: flow._now() - dt.timedelta(seconds=1)}))
    db_session.commit()
    body = oauth_error(token_call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")
    assert "consent" in body["error_description"]
    db_session.execute(update(Consent).values(revoked_at=None, expires_at=flow._now() + dt.timedelta(days=1)))
    db_session.commit()  # the consent back: the code stays used all the same
    body = oauth_error(token_call(client, keys, code, verifier, dpop_key), 400, "invalid_grant")
    assert "already used" in body["error_description"]
    issued = select(func.count()).select_from(IssuedToken).where(IssuedToken.citizen_id == citizen.id)
    assert db_session.scalar(issued) == 0  # (other tests on this worker may have committed tokens)


# --- person ---------------------------------------------------------------------------------


@pytest.fixture
def issued(client, keys, citizen, verifier, dpop_key):
    code = get_code(client, citizen.id, verifier)
    return get_token(client, keys, code, verifier, dpop_key)["access_token"]


def test_person_requires_a_dpop_bound_token_and_a_matching_proof(client, db_session, issued, dpop_key):
    before = disclosures(db_session)
    sub = flow.token_sub(issued)
    url = f"{PERSON_URL}/{sub}"
    no_token = client.get(f"/com/v4/person/{sub}?scope=name")
    body = oauth_error(no_token, 401, "invalid_token")
    assert no_token.headers["WWW-Authenticate"].startswith("DPoP ")
    assert body
    bearer = client.get(f"/com/v4/person/{sub}?scope=name", headers={"Authorization": f"Bearer {issued}"})
    oauth_error(bearer, 401, "invalid_token")
    cases = {
        "missing": "",
        "wrong method": dpop_proof(dpop_key, method="POST", url=url, access_token=issued),
        "wrong url": dpop_proof(dpop_key, method="GET", url=url + "x", access_token=issued),
        "no ath": dpop_proof(dpop_key, method="GET", url=url),
        "wrong ath": dpop_proof(dpop_key, method="GET", url=url, access_token=issued + "x"),
        "other key": dpop_proof(ECKey.generate_key("P-256"), method="GET", url=url, access_token=issued),
    }
    for case, proof in cases.items():
        response = get_person(client, issued, dpop_key, scope="name", proof=proof)
        assert response.status_code == 401, case
        assert response.get_json()["error"] == "invalid_dpop_proof", case
        assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"], case
    good = dpop_proof(dpop_key, method="GET", url=url, access_token=issued)
    assert get_person(client, issued, dpop_key, scope="name", proof=good).status_code == 200
    replay = get_person(client, issued, dpop_key, scope="name", proof=good)
    oauth_error(replay, 401, "invalid_dpop_proof")
    assert disclosures(db_session) == before + 1


def test_tampered_or_foreign_tokens_are_invalid(client, issued, dpop_key):
    head, payload, sig = issued.split(".")
    tampered = f"{head}.{payload}.{sig[:-4]}AAAA"
    oauth_error(
        get_person(client, tampered, dpop_key, scope="name", sub=flow.token_sub(issued)), 401, "invalid_token"
    )
    oauth_error(get_person(client, issued, dpop_key, scope="name", sub="someone-else"), 401, "invalid_token")


def test_revoking_the_consent_stops_its_tokens_at_once(client, db_session, citizen, issued, dpop_key):
    assert get_person(client, issued, dpop_key, scope="name").status_code == 200
    token = db_session.get(IssuedToken, flow.token_claims(issued)["jti"])
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=token.consent_id, now=flow._now())
    db_session.commit()
    oauth_error(get_person(client, issued, dpop_key, scope="name"), 401, "invalid_token")


def test_an_expired_token_is_refused(client, db_session, issued, dpop_key):
    db_session.execute(update(IssuedToken).values(expires_at=flow._now() - dt.timedelta(seconds=1)))
    db_session.commit()
    oauth_error(get_person(client, issued, dpop_key, scope="name"), 401, "invalid_token")


def test_a_disabled_app_gets_nothing(client, db_session, issued, dpop_key):
    set_disabled(db_session, client_id=CLIENT_ID, disabled=True, now=flow._now())
    db_session.commit()
    oauth_error(get_person(client, issued, dpop_key, scope="name"), 401, "invalid_token")


def test_a_failed_audit_write_releases_nothing_and_spends_the_proof(
    client, db_session, issued, dpop_key, monkeypatch
):
    def broken(*_args, **_kwargs):
        raise RuntimeError("audit store unavailable")

    proof = dpop_proof(
        dpop_key, method="GET", url=f"{PERSON_URL}/{flow.token_sub(issued)}", access_token=issued
    )
    with monkeypatch.context() as patched:
        patched.setattr(release, "record", broken)
        before = disclosures(db_session)
        response = get_person(client, issued, dpop_key, scope="name", proof=proof)
    assert response.status_code == 500
    assert response.mimetype == "application/json" and b"eyJ" not in response.get_data()
    assert disclosures(db_session) == before
    # The proof's jti was recorded with the disclosure, which rolled back; it is spent all the same.
    oauth_error(get_person(client, issued, dpop_key, scope="name", proof=proof), 401, "invalid_dpop_proof")
    assert get_person(client, issued, dpop_key, scope="name").status_code == 200


def test_a_proof_sent_with_a_refused_call_cannot_be_used_again(client, db_session, issued, dpop_key):
    proof = dpop_proof(
        dpop_key, method="GET", url=f"{PERSON_URL}/{flow.token_sub(issued)}", access_token=issued
    )
    before = disclosures(db_session)
    oauth_error(
        get_person(client, issued, dpop_key, scope="name edulevel", proof=proof), 403, "insufficient_scope"
    )
    oauth_error(get_person(client, issued, dpop_key, scope="name", proof=proof), 401, "invalid_dpop_proof")
    assert disclosures(db_session) == before


# --- concurrency ----------------------------------------------------------------------------


@pytest.fixture
def committed(base_config, engine, keys):
    """An app on real sessions (no test transaction), so two requests can truly race; what it
    commits is deleted afterwards (audit entries stay: the log is append-only)."""
    application = create_app(base_config, engine=engine)
    rt = application.extensions["consentry"]
    with rt.sessions() as session:
        kids = flow.platform_kids(session)
        flow.setup_app(session, rt, keys)
        citizen = flow.setup_citizen(session, rt)
    yield application, citizen
    with rt.sessions() as session:
        flow.forget_committed(session, citizen_id=citizen.id, kids=kids)
    rt.close()


def test_two_concurrent_redemptions_of_one_code_exactly_one_succeeds(committed, keys, verifier):
    application, citizen = committed
    code = get_code(application.test_client(), citizen.id, verifier)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def redeem() -> None:
        key = ECKey.generate_key("P-256")
        form = token_form(keys, code, verifier, key)
        proof = dpop_proof(key, method="POST", url=TOKEN_URL)
        barrier.wait()
        results.append(post_token(application.test_client(), form, dpop=proof).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [200, 400]


def test_one_proof_sent_twice_at_once_releases_once(committed, keys, verifier, dpop_key):
    application, citizen = committed
    rt = application.extensions["consentry"]
    token = get_token(
        application.test_client(),
        keys,
        get_code(application.test_client(), citizen.id, verifier),
        verifier,
        dpop_key,
    )
    access_token = token["access_token"]
    proof = dpop_proof(
        dpop_key, method="GET", url=f"{PERSON_URL}/{flow.token_sub(access_token)}", access_token=access_token
    )
    with rt.sessions() as session:
        before = disclosures(session)
    results: list[tuple[int, str | None]] = []
    barrier = threading.Barrier(2)

    def call() -> None:
        barrier.wait()
        response = get_person(application.test_client(), access_token, dpop_key, scope="name", proof=proof)
        results.append(
            (response.status_code, None if response.status_code == 200 else response.get_json()["error"])
        )

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results, key=lambda r: r[0]) == [(200, None), (401, "invalid_dpop_proof")]
    with rt.sessions() as session:
        assert disclosures(session) == before + 1


def test_discovery_and_jwks(client):
    metadata = client.get("/.well-known/oauth-authorization-server/com/v4").get_json()
    assert metadata["issuer"] == "http://localhost/com/v4"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256"]
    assert metadata["person_endpoint"] == "http://localhost/com/v4/person"
    assert not [name for name in metadata if name.startswith("id_token")], "v4 issues no ID tokens"
    assert client.get("/com/v4/.well-known/openid-configuration").get_json() == metadata
    jwks = client.get("/.well-known/keys.json").get_json()
    assert {key["use"] for key in jwks["keys"]} >= {"sig"}
    assert all("d" not in key and key["kid"] for key in jwks["keys"])


def test_token_requests_are_rate_limited_per_client(
    app, client, keys, citizen, verifier, dpop_key, monkeypatch
):
    runtime = app.extensions["consentry"]
    runtime.config = runtime.config.replace(token_rate_limit=2)
    # All three calls in one fixed window, however long the test takes to get there.
    moment = dt.datetime.now(dt.UTC).replace(second=1, microsecond=0)
    monkeypatch.setattr(runtime.rate_limiter, "_clock", lambda: moment)
    for _ in range(2):
        code = get_code(client, citizen.id, verifier)
        assert token_call(client, keys, code, verifier, dpop_key).status_code == 200
    code = get_code(client, citizen.id, verifier)
    limited = token_call(client, keys, code, verifier, dpop_key)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["error"] == "slow_down"
