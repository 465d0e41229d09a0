import json

from sqlalchemy import select

from audit.models import AuditEntry
from consent.apps import get_app
from consent.models import AgencyApp
from tests.consent.test_apps_and_consents import document


def test_register_disable_and_list_through_the_cli_each_audited(app, tmp_path, db_session):
    path = tmp_path / "app.json"
    path.write_text(json.dumps(document(client_id="cli-registered-app")))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["apps", "register", str(path)]).exit_code == 0
    assert runner.invoke(args=["apps", "disable", "cli-registered-app"]).exit_code == 0
    listed = runner.invoke(args=["apps", "list"])
    assert "cli-registered-app" in listed.output and "disabled" in listed.output
    assert get_app(db_session, "cli-registered-app").disabled
    outcomes = list(
        db_session.scalars(
            select(AuditEntry.outcome)
            .where(AuditEntry.app_id == "cli-registered-app")
            .order_by(AuditEntry.seq)
        )
    )
    assert outcomes == ["registered", "disabled"]


def test_bad_documents_exit_non_zero_and_name_the_problem(app, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document(redirect_uris=["http://evil.example/cb"])))
    result = app.test_cli_runner().invoke(args=["apps", "register", str(path)])
    assert result.exit_code == 1 and "redirect_uris" in result.output
    path.write_text("{not json")
    assert app.test_cli_runner().invoke(args=["apps", "register", str(path)]).exit_code == 1


def test_the_documented_example_registers(app):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
    result = app.test_cli_runner().invoke(args=["apps", "register", str(example)])
    assert result.exit_code == 0, result.output


def test_register_and_update_refuse_an_app_that_cannot_work_listing_every_problem(app, tmp_path, db_session):
    """Issue 12, item 11: an empty key set and no profiles, each problem on its own line."""
    path = tmp_path / "unusable.json"
    unusable = document(client_id="cli-unusable-app", jwks={"keys": []}, profiles=[], redirect_uris=[])
    path.write_text(json.dumps(unusable))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["apps", "register", str(path)])
    assert result.exit_code == 1
    assert "  profiles: give at least one of myinfo-v4, myinfo-v5" in result.output
    assert "  redirect_uris: give 1 to 10 redirect URIs" in result.output
    assert db_session.get(AgencyApp, "cli-unusable-app") is None

    path.write_text(json.dumps(document(client_id="cli-unusable-app")))
    assert runner.invoke(args=["apps", "register", str(path)]).exit_code == 0
    path.write_text(json.dumps(document(client_id="cli-unusable-app", jwks={"keys": []})))
    result = runner.invoke(args=["apps", "update", str(path)])
    assert result.exit_code == 1
    assert "  jwks: myinfo-v4 needs a signing key for client assertions" in result.output
    assert "  jwks: myinfo-v4 needs an encryption key" in result.output
    db_session.expire_all()
    assert len(get_app(db_session, "cli-unusable-app").jwks["keys"]) == 2
