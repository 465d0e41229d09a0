"""The citizen's proof page and download with witnesses configured (AUDIT_WITNESSES): the page says
in plain words how many witnesses confirmed the signed state the proof leads to, or that not
enough have yet; the download carries the cosigned note and the keys, and the offline verifier
checks the cosignatures with them. Real witnesses over HTTP on loopback."""

from __future__ import annotations

import json

import pytest

from app.config import Config
from audit.checkpoint_signing import public_key_pem
from audit.tree import create_checkpoint
from audit.verifier import main as verifier_main
from audit.witness_client import WitnessSubmitter, httpx_post
from core.errors import ConfigurationError
from tests.audit.test_witness_submission import clock, start_witness
from tests.oauth import flow

from .test_citizen_proofs import NOW, disclose, words

ZH = "zh_Hans_SG"


@pytest.fixture
def witnesses(tmp_path, runtime):
    pair = [start_witness(tmp_path, runtime.audit_signer) for _ in range(2)]
    yield pair
    for w in pair:
        w.stop()


@pytest.fixture
def signed(db_session, runtime, citizen, monkeypatch) -> int:
    """One of the citizen's entries under a signed checkpoint."""
    monkeypatch.setattr("app.citizen.proofs.utcnow", lambda: NOW)
    seq = disclose(db_session, citizen)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=NOW)
    db_session.commit()
    return seq


def configure(app, running: list, quorum: int) -> None:
    rt = app.extensions["consentry"]
    spec = ";".join(f"{w.url} {w.witness.vkey}" for w in running)
    rt.config = rt.config.replace(audit_witnesses=spec, audit_witness_quorum=quorum)


def cosign(sessions, running) -> None:
    submitter = WitnessSubmitter(sessions, [running.target], httpx_post(), clock)
    assert [o.result for o in submitter.run_round()] == ["cosigned"]


def test_confirmed_by_the_witnesses_and_checkable_offline(
    app, client, sessions, citizen, signed, witnesses, tmp_path, capsys
):
    first, second = witnesses
    cosign(sessions, first)
    cosign(sessions, second)
    configure(app, witnesses, quorum=2)
    flow.sign_in(client, citizen.id)
    page = words(client.get(f"/citizen/history/{signed}/proof").text)
    assert "Independently confirmed by 2 of 2 witnesses." in page
    assert first.witness.vkey in page and second.witness.vkey in page  # the command to check it

    response = client.get(f"/citizen/history/{signed}/proof.json")
    bundle = json.loads(response.data)
    assert bundle["witness_policy"]["quorum"] == 2
    assert bundle["witness_policy"]["witness_keys"] == [first.witness.vkey, second.witness.vkey]
    assert first.witness.name in bundle["checkpoint_note"]
    proof, key = tmp_path / "proof.json", tmp_path / "key.pem"
    proof.write_bytes(response.data)
    key.write_bytes(public_key_pem(app.extensions["consentry"].audit_signer.public_key))
    policy = bundle["witness_policy"]
    keys = [arg for vkey in policy["witness_keys"] for arg in ("--witness", vkey)]
    args = ["--bundle", str(proof), "--public-key", str(key), "--log-key", policy["log_key"], *keys]
    assert verifier_main([*args, "--quorum", "2"]) == 0, capsys.readouterr().out
    names = ", ".join(sorted([first.witness.name, second.witness.name]))
    assert f"OK: checkpoint cosigned by {names}" in capsys.readouterr().out


def test_not_yet_confirmed_when_fewer_than_the_quorum_cosigned(
    app, client, sessions, citizen, signed, witnesses, tmp_path, capsys
):
    first, _ = witnesses
    cosign(sessions, first)
    configure(app, witnesses, quorum=2)
    flow.sign_in(client, citizen.id)
    page = words(client.get(f"/citizen/history/{signed}/proof").text)
    assert (
        "Not yet independently confirmed: 1 of 2 witnesses have confirmed this signed state, and 2 must."
    ) in page
    assert "Independently confirmed by" not in page
    # The record itself is still checked against Consentry's own signature.
    assert "This record is in the public log" in page

    response = client.get(f"/citizen/history/{signed}/proof.json")
    proof, key = tmp_path / "proof.json", tmp_path / "key.pem"
    proof.write_bytes(response.data)
    key.write_bytes(public_key_pem(app.extensions["consentry"].audit_signer.public_key))
    policy = json.loads(response.data)["witness_policy"]
    keys = [arg for vkey in policy["witness_keys"] for arg in ("--witness", vkey)]
    args = ["--bundle", str(proof), "--public-key", str(key), "--log-key", policy["log_key"], *keys]
    assert verifier_main([*args, "--quorum", "2"]) == 1
    assert "only 1 of the 2" in capsys.readouterr().out


def test_no_witness_cosigned_yet_and_the_page_in_chinese(app, client, citizen, signed, witnesses):
    configure(app, witnesses[:1], quorum=1)
    flow.sign_in(client, citizen.id)
    page = words(client.get(f"/citizen/history/{signed}/proof").text)
    assert "Not yet independently confirmed: 0 of 1 witness has confirmed this signed state" in page
    client.get(f"/language/{ZH}")
    chinese = words(client.get(f"/citizen/history/{signed}/proof").text)
    assert "Not yet independently confirmed" not in chinese
    assert "见证" in chinese  # "witness"


def test_without_witnesses_the_page_and_download_say_nothing_of_them(client, citizen, signed):
    flow.sign_in(client, citizen.id)
    page = client.get(f"/citizen/history/{signed}/proof").text
    assert "witness" not in page.lower()
    bundle = json.loads(client.get(f"/citizen/history/{signed}/proof.json").data)
    assert "witness_policy" not in bundle


def test_witness_settings_are_checked_when_the_app_starts(witnesses):
    spec = f"{witnesses[0].url} {witnesses[0].witness.vkey}"
    assert Config.from_env({"AUDIT_WITNESSES": spec}).audit_witness_quorum == 1
    with pytest.raises(ConfigurationError, match="AUDIT_WITNESS_QUORUM must be between 1 and the 1"):
        Config.from_env({"AUDIT_WITNESSES": spec, "AUDIT_WITNESS_QUORUM": "2"})
    with pytest.raises(ConfigurationError, match="AUDIT_WITNESSES entries are"):
        Config.from_env({"AUDIT_WITNESSES": witnesses[0].witness.vkey})
