import json

import pytest
from sqlalchemy import inspect, select

from app import create_app
from core.db import make_engine
from core.uinfin import demo_uinfin
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.models import Citizen
from tests.factories import fresh_uinfin, make_citizen


def test_db_upgrade_builds_a_fresh_database(tmp_path, base_config):
    url = f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    app = create_app(base_config.replace(database_url=url))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"citizens", "profile_fields", "declarations", "field_versions", "agency_syncs"} <= tables


def test_seed_creates_demo_citizens_once(app, db_session, runtime):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed", "--citizens", "3", "--no-refresh"])
        assert result.exit_code == 0, result.output
    for n in range(3):
        assert find_citizen_by_uinfin(db_session, vault=runtime.vault, uinfin=demo_uinfin(n)) is not None


def test_refresh_one_prints_a_table_naming_failed_agencies(app, db_session, runtime, simulators):
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    db_session.commit()
    simulators.set_fault("tax", outage=True)
    result = app.test_cli_runner().invoke(args=["refresh", "--uinfin", uinfin])
    assert result.exit_code == 0, result.output
    assert "http_503" in result.output and "identity" in result.output
    assert uinfin not in result.output


def test_refresh_needs_exactly_one_target(app):
    result = app.test_cli_runner().invoke(args=["refresh"])
    assert result.exit_code == 2


def test_refresh_all_reports_progress_and_summary(base_config, engine, simulators):
    # Real commits: bulk refresh reads and writes in separate sessions.
    app = create_app(base_config, engine=engine)
    with app.extensions["consentry"].sessions() as session:
        make_citizen(session, app.extensions["consentry"].vault)
        session.commit()
    result = app.test_cli_runner().invoke(args=["refresh", "--all", "--batch-size", "50"])
    assert result.exit_code == 0, result.output
    assert "citizens refreshed" in result.output


def test_rotate_keys_re_encrypts_under_the_active_key(base_config, engine, connection, sessions):
    app = create_app(base_config.replace(active_master_kid="test-b"), engine=engine)
    app.extensions["consentry"].use_sessions(sessions)
    vault = app.extensions["consentry"].vault
    with sessions() as session:
        make_citizen(session, vault)
        session.commit()
    result = app.test_cli_runner().invoke(args=["rotate-keys", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    with sessions() as session:
        assert set(session.scalars(select(Citizen.dek_kid))) == {"test-b"}


def test_import_reports_bad_lines_and_exits_non_zero(app, tmp_path, db_session, runtime):
    good, path = fresh_uinfin(), tmp_path / "tax.jsonl"
    path.write_text(
        json.dumps({"uinfin": good, "attributes": {"ownerprivate": {"value": True}}}) + "\n{oops\n"
    )
    result = app.test_cli_runner().invoke(args=["import", "tax", str(path)])
    assert result.exit_code == 1
    assert "line 2" in result.output
    assert find_citizen_by_uinfin(db_session, vault=runtime.vault, uinfin=good) is None
    path.write_text(json.dumps({"uinfin": good, "attributes": {"ownerprivate": {"value": True}}}) + "\n")
    result = app.test_cli_runner().invoke(args=["import", "tax", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    assert find_citizen_by_uinfin(db_session, vault=runtime.vault, uinfin=good) is not None


@pytest.mark.parametrize("args", [["import", "tax", "/no/such/file.jsonl"], ["import", "nosuch", __file__]])
def test_import_bad_arguments(app, args):
    assert app.test_cli_runner().invoke(args=args).exit_code != 0
