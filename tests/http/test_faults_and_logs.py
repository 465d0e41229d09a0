"""Faults a person can hit on the operator pages, and what reaches the logs: clear errors, nothing
stored lost, no personal data in any log line."""

import pytest
from sqlalchemy import update

from profile_store.assembly import load_fields
from profile_store.citizens import reveal_uinfin
from profile_store.models import ProfileField
from tests.factories import make_citizen
from tests.http.test_operator_pages import operator_login, refresh_profile


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


def test_wrong_master_key_is_a_clear_error_not_a_crash(client, refreshed, base_config, engine, sessions):
    from app import create_app
    from core.crypto.keyring import b64e

    wrong = create_app(base_config.replace(master_keys=f"test-a:{b64e(b'z' * 32)}"), engine=engine)
    wrong.extensions["consentry"].use_sessions(sessions)
    other = wrong.test_client()
    assert operator_login(other).status_code == 303
    response = other.get(f"/operator/citizens/{refreshed.id}")
    assert response.status_code == 500 and "integrity check" in response.text
    wrong.extensions["consentry"].close()
