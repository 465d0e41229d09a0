"""The citizen's proof pages over HTTP: each history row links to its proof; an entry under the
latest checkpoint is checked on the server and downloadable as a bundle the offline verifier
accepts; one beyond it says when the next checkpoint is due; another citizen's entry is a 404."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from app.config import Config
from app.display_time import citizen_time
from audit.checkpoint_signing import public_key_pem
from audit.log import Event, append
from audit.tree import create_checkpoint
from audit.verifier import main as verifier_main
from tests.factories import make_citizen
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, PURPOSE

NOW = dt.datetime(2026, 12, 3, 13, 5, 30, tzinfo=dt.UTC)  # 9:05:30pm in Singapore


def disclose(session, citizen, when: dt.datetime = NOW) -> int:
    event = Event(
        kind="disclosure", citizen_ref=citizen.uinfin_digest, app_id=CLIENT_ID, purpose=PURPOSE,
        outcome="released", attributes=("name",), details={"consent_id": "c-1"},
    )  # fmt: skip
    seq = append(session, event, now=when).seq
    session.commit()
    return seq


def local(moment: dt.datetime) -> str:
    return citizen_time(moment, ZoneInfo("Asia/Singapore"))


def words(html: str) -> str:
    return " ".join(html.split())


@pytest.fixture
def entries(db_session, runtime, citizen, monkeypatch) -> dict[str, int]:
    """Two of the citizen's entries under a checkpoint signed 2 s before "now", one after it."""
    monkeypatch.setattr("app.citizen.proofs.utcnow", lambda: NOW)
    covered = [disclose(db_session, citizen) for _ in range(2)]
    checkpoint = create_checkpoint(db_session, signer=runtime.audit_signer, now=NOW - dt.timedelta(seconds=2))
    db_session.commit()
    later = disclose(db_session, citizen)
    return {"covered": covered[0], "later": later, "tree_size": checkpoint.tree_size}


def test_each_history_row_links_to_its_proof(client, citizen, entries):
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/history").text
    for seq in (entries["covered"], entries["later"]):
        assert f'href="/citizen/history/{seq}/proof"' in page


def test_a_covered_entry_is_checked_on_the_server(client, citizen, entries):
    flow.sign_in(client, citizen.id)
    response = client.get(f"/citizen/history/{entries['covered']}/proof")
    assert response.status_code == 200, response.text
    signed_at = local(NOW - dt.timedelta(seconds=2))
    assert (
        "This record is in the public log: checked against the log's signed state of "
        f"{signed_at} ({entries['tree_size']} entries)."
    ) in words(response.text)
    assert "Times are Singapore time." in words(response.text)
    assert f'href="/citizen/history/{entries["covered"]}/proof.json"' in response.text
    assert "Download proof (JSON)" in response.text


def test_an_entry_beyond_the_checkpoint_says_when_the_next_is_due(client, citizen, entries):
    flow.sign_in(client, citizen.id)
    response = client.get(f"/citizen/history/{entries['later']}/proof")
    assert response.status_code == 200
    # Signed at 13:05:28 UTC, every 5 s: due at 13:05:33, said to the minute rounded up (9:06pm).
    due_by = local(dt.datetime(2026, 12, 3, 13, 6, tzinfo=dt.UTC))
    assert f"Not yet in a signed log state; the next is due by {due_by}." in words(response.text)
    assert "Download proof" not in response.text
    assert client.get(f"/citizen/history/{entries['later']}/proof.json").status_code == 409


def test_the_download_is_a_bundle_the_offline_verifier_accepts(
    client, runtime, citizen, entries, tmp_path, capsys
):
    flow.sign_in(client, citizen.id)
    response = client.get(f"/citizen/history/{entries['covered']}/proof.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = json.loads(response.data)
    assert bundle["entry"]["seq"] == entries["covered"]
    assert bundle["entry"]["body"]["citizen_ref"] == citizen.uinfin_digest
    (tmp_path / "proof.json").write_bytes(response.data)
    (tmp_path / "key.pem").write_bytes(public_key_pem(runtime.audit_signer.public_key))
    code = verifier_main(
        ["--bundle", str(tmp_path / "proof.json"), "--public-key", str(tmp_path / "key.pem")]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"OK: entry seq {entries['covered']} is in log")


def test_another_citizens_entry_is_404_and_shows_nothing_of_it(client, db_session, runtime, citizen, entries):
    other = make_citizen(db_session, runtime.vault)
    theirs = disclose(db_session, other)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=NOW)
    db_session.commit()
    flow.sign_in(client, citizen.id)
    for path in (f"/citizen/history/{theirs}/proof", f"/citizen/history/{theirs}/proof.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert other.uinfin_digest not in response.text and CLIENT_ID not in response.text
    for seq in ("999999999999999999999", "-1", "x"):
        assert client.get(f"/citizen/history/{seq}/proof").status_code == 404


def test_strangers_are_sent_to_sign_in(client, entries):
    response = client.get(f"/citizen/history/{entries['covered']}/proof")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/citizen/sign-in?next=")


def test_the_checkpoint_interval_comes_from_the_environment():
    assert Config.from_env({}).audit_checkpoint_interval_s == 5.0
    assert Config.from_env({"AUDIT_CHECKPOINT_INTERVAL_S": "30"}).audit_checkpoint_interval_s == 30.0
