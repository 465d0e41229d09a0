import json

from sqlalchemy import select

from audit.models import AuditEntry
from consent.apps import get_app
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
