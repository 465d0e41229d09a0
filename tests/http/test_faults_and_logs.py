"""Faults a person can hit on the operator pages, and what reaches the logs: clear errors, nothing
stored lost, no personal data in any log line."""

import pytest
from sqlalchemy import update

from profile_store.assembly import load_fields
from profile_store.citizens import reveal_uinfin
from profile_store.models import ProfileField
from tests.factories import make_citizen
from tests.http.test_operator_pages import look_up, operator_login, refresh_profile


@pytest.fixture
def refreshed(client, db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    db_session.commit()
    assert operator_login(client).status_code == 303
    assert refresh_profile(client, citizen).status_code == 303
    return citizen


def test_refresh_and_failures_log_no_national_id_or_values(
    client, refreshed, runtime, simulators, capsys, db_session
):
    simulators.set_fault("tax", outage=True)
    refresh_profile(client, refreshed)
    client.post(
        "/agency-notifications/identity", data=b"{}", headers={"X-Timestamp": "1", "X-Signature": "x"}
    )
    logs = capsys.readouterr().out
    uinfin = reveal_uinfin(runtime.vault, refreshed)
    name = load_fields(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=refreshed, attributes=["name"]
    )["name"].item["value"]
    assert "operator_refreshed" in logs, "the refresh is logged, by pseudonymous id"
    assert uinfin not in logs and name not in logs


def test_tampered_ciphertext_gives_a_clear_error_page_and_keeps_the_data(
    client, refreshed, db_session, runtime, capsys
):
    field = db_session.get(ProfileField, (refreshed.id, "dob"))
    original = field.ciphertext
    db_session.execute(
        update(ProfileField)
        .where(ProfileField.citizen_id == refreshed.id, ProfileField.attribute == "dob")
        .values(ciphertext=original[:-1] + bytes([original[-1] ^ 1]))
    )
    db_session.commit()
    response = client.get(f"/operator/citizens/{refreshed.id}")
    assert response.status_code == 500
    assert "integrity check" in response.text
    logs = capsys.readouterr().out
    assert "integrity_failure" in logs and reveal_uinfin(runtime.vault, refreshed) not in logs
    db_session.expire_all()
    assert db_session.get(ProfileField, (refreshed.id, "dob")).ciphertext == original[:-1] + bytes(
        [original[-1] ^ 1]
    ), "nothing was overwritten"


def test_wrong_master_key_is_a_clear_error_not_a_crash(
    client, refreshed, base_config, engine, sessions, runtime
):
    from app import create_app
    from core.crypto.keyring import b64e

    wrong = create_app(base_config.replace(master_keys=f"test-a:{b64e(b'z' * 32)}"), engine=engine)
    wrong.extensions["consentry"].use_sessions(sessions)
    other = wrong.test_client()
    assert operator_login(other).status_code == 303
    assert look_up(other, refreshed, uinfin=reveal_uinfin(runtime.vault, refreshed)).status_code == 303
    response = other.get(f"/operator/citizens/{refreshed.id}")
    assert response.status_code == 500 and "integrity check" in response.text
    wrong.extensions["consentry"].close()


# --- an agency answering bytes that are not UTF-8 (or not JSON at all) -------------------------
# Before: UnicodeDecodeError escaped the connector, so each of these answered 500 (and
# `refresh --all` stopped at the first citizen, with nothing recorded).

GARBLED = ("garbage_bytes", "html_page", "deep_json")


@pytest.mark.parametrize("fault", GARBLED)
def test_operator_refresh_names_an_agency_sending_garbage_and_keeps_its_values(
    client, refreshed, runtime, simulators, db_session, fault
):
    before = load_fields(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=refreshed)
    simulators.set_fault("identity", fault=fault)
    response = refresh_profile(client, refreshed)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "1 of 8 agencies did not answer" in page.text and "National Identity" in page.text
    db_session.expire_all()
    after = load_fields(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=refreshed)
    assert {k: v.item for k, v in after.items()} == {k: v.item for k, v in before.items()}


@pytest.mark.parametrize("fault", GARBLED)
def test_agency_notice_answered_with_garbage_is_a_named_502_not_a_500(
    client, refreshed, runtime, simulators, fault
):
    from tests.http.test_agency_notifications import notice, post

    simulators.set_fault("identity", fault=fault)
    response = post(client, "identity", notice(runtime, refreshed, f"garbage-{fault}"))
    assert response.status_code == 502, response.text
    body = response.get_json()
    assert body["error"] == "refresh_failed" and "identity" in body["error_description"]
    simulators.reset()
    assert post(client, "identity", notice(runtime, refreshed, f"garbage-{fault}")).status_code == 200


def test_person_call_still_releases_when_one_agency_sends_garbage(
    app, client, keys, citizen, dpop_key, simulators
):
    import secrets

    from tests.oauth.flow import get_code, get_person, get_token, open_person

    verifier = secrets.token_hex(32)
    token = get_token(client, keys, get_code(client, citizen.id, verifier), verifier, dpop_key)[
        "access_token"
    ]
    platform_jwks = client.get("/.well-known/keys.json").get_json()
    stored, _ = open_person(get_person(client, token, dpop_key, scope="name noa-basic"), keys, platform_jwks)
    runtime = app.extensions["consentry"]
    runtime.config = runtime.config.replace(person_refresh_max_age_s=0)
    simulators.set_fault("identity", fault="garbage_bytes")
    person, _ = open_person(get_person(client, token, dpop_key, scope="name noa-basic"), keys, platform_jwks)
    assert person["name"] == stored["name"], "the last good value, with its true lastupdated"
    assert person["noa-basic"] == stored["noa-basic"] and simulators.stats()["tax"]["requests"] >= 1


def test_cli_refresh_of_one_citizen_names_an_agency_sending_garbage(app, db_session, runtime, simulators):
    from tests.factories import fresh_uinfin

    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    db_session.commit()
    simulators.set_fault("tax", fault="garbage_bytes")
    result = app.test_cli_runner().invoke(args=["refresh", "--uinfin", uinfin])
    assert result.exit_code == 0, result.output
    assert "invalid_encoding" in result.output and "identity" in result.output


def test_cli_refresh_of_all_goes_on_past_an_agency_sending_garbage(base_config, engine, simulators):
    from app import create_app

    # Real commits: bulk refresh reads and writes in separate sessions.
    app = create_app(base_config, engine=engine)
    rt = app.extensions["consentry"]
    with rt.sessions() as session:
        for _ in range(3):
            make_citizen(session, rt.vault)
        session.commit()
    simulators.set_fault("tax", fault="garbage_bytes")
    result = app.test_cli_runner().invoke(args=["refresh", "--all", "--batch-size", "2"])
    rt.close()
    assert result.exit_code == 0, result.output
    assert "citizens refreshed" in result.output and "tax" in result.output
