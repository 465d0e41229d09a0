"""The offline verifier with witness keys (`python -m audit.verifier ... --log-key --witness
--quorum`): a proof bundle's checkpoint must carry a quorum of cosignatures, and an export must
hold the tree of a cosigned note, so a log rolled back or rewritten below the witnessed size fails
even when its own checkpoint was re-signed."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint_signing import public_key_pem
from audit.checkpointer import CheckpointPolicy
from audit.export import export_lines
from audit.log import Event, append
from audit.proof_bundle import bundle_for, citizen_entry_proof
from audit.signer import AuditSigner
from audit.tree import create_checkpoint, latest_checkpoint
from audit.verifier import main
from audit.witness_client import WitnessSubmitter, httpx_post
from audit.witness_format import cosigner_vkey
from audit.witness_verify import WitnessPolicy
from core.db import transaction

from .test_witness_submission import T0, _served, clock, history, scratch, start_witness  # noqa: F401


def test_bundle_and_export_checked_against_witness_cosignatures(scratch, tmp_path, capsys):  # noqa: F811
    signer = AuditSigner("offline-log", Ed25519PrivateKey.generate(), "offline.example/disclosures")
    running, bystander = start_witness(tmp_path, signer), start_witness(tmp_path, signer)
    try:
        original = history(scratch(), signer, ["ok"] * 9)
        submitter = WitnessSubmitter(original, [running.target], httpx_post(), clock)
        assert [o.result for o in submitter.run_round()] == ["cosigned"]
        kept = tmp_path / "witnessed.note"
        kept.write_text(_served(original), encoding="utf-8")
    finally:
        running.stop()
        bystander.stop()
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(public_key_pem(signer.public_key))
    witness = ["--log-key", signer.note_verifier_key(), "--witness", running.witness.vkey]

    with original() as session:
        made = bundle_for(session, seq=4, public_key=signer.public_key, log_id=signer.log_id)
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(made), encoding="utf-8")
    assert main(["--bundle", str(proof), "--public-key", str(key_pem), *witness]) == 0
    assert "cosigned by " + running.witness.name in capsys.readouterr().out
    # A witness the bundle's checkpoint does not carry a cosignature of: no quorum.
    both = [*witness, "--witness", bystander.witness.vkey, "--quorum", "2"]
    assert main(["--bundle", str(proof), "--public-key", str(key_pem), *both]) == 1
    assert "only 1 of the 2" in capsys.readouterr().out

    def export(sessions, name: str) -> list[str]:
        out = tmp_path / f"{name}.jsonl"
        with sessions() as session:
            latest = latest_checkpoint(session)
            out.write_text("".join(export_lines(session, log_id=signer.log_id, upto=latest.tree_size)))
            checkpoint = tmp_path / f"{name}.checkpoint.json"
            checkpoint.write_text(f'{{"body":{latest.body},"signature":"{latest.signature}"}}\n')
        return [str(out), "--checkpoint", str(checkpoint), "--public-key", str(key_pem)]

    args = [*witness, "--witnessed", str(kept)]
    assert main([*export(original, "original"), *args]) == 0
    assert "holds the witnessed tree of size 9" in capsys.readouterr().out
    # Rebuilt shorter, re-signed with our own key: the export verifies on its own, not against
    # what the witness cosigned.
    shorter = export(history(scratch(), signer, ["ok"] * 5), "shorter")
    assert main(shorter) == 0
    assert main([*shorter, *args]) == 1
    assert "rolled back: witnesses cosigned 9 entries, the export has 5" in capsys.readouterr().out
    rewritten = export(history(scratch(), signer, ["ok"] * 3 + ["refused"] + ["ok"] * 6), "rewritten")
    assert main([*rewritten, *args]) == 1
    assert "rewritten" in capsys.readouterr().out


def test_the_citizens_proof_says_whether_witnesses_cosigned_its_checkpoint(scratch, tmp_path):  # noqa: F811
    signer = AuditSigner("portal-log", Ed25519PrivateKey.generate(), "portal.example/disclosures")
    mine = "c" * 64
    sessions = history(scratch(), signer, ["ok"] * 2)
    with transaction(sessions) as session:
        seq = append(session, Event(kind="disclosure", citizen_ref=mine, outcome="released"), now=T0).seq
        create_checkpoint(session, signer=signer, now=T0)
    running = start_witness(tmp_path, signer)
    try:
        submitter = WitnessSubmitter(sessions, [running.target], httpx_post(), clock)
        assert submitter.run_round()[0].result == "cosigned"
    finally:
        running.stop()
    other = Ed25519PrivateKey.generate()

    def proof(witness_vkeys: list[str]):
        policy = WitnessPolicy(signer.note_verifier_key(), witness_vkeys, 1)
        with sessions() as session:
            return citizen_entry_proof(
                session, seq=seq, citizen_ref=mine, public_key=signer.public_key, log_id=signer.log_id,
                policy=CheckpointPolicy(), now=T0, witnesses=policy,
            )  # fmt: skip

    ok, reason = proof([running.witness.vkey]).witnessed
    assert ok and running.witness.name in reason
    ok, reason = proof([cosigner_vkey("someone.else/w", other.public_key())]).witnessed
    assert not ok and "only 0 of the 1" in reason


def test_witnessed_means_a_quorum_of_the_configured_keys(scratch, tmp_path):  # noqa: F811
    """The bundle goes to the newest checkpoint a quorum of the configured witnesses validly
    cosigned; one cosignature when the quorum is 2, or one by a witness not configured, does not
    make a checkpoint witnessed: the bundle then leads to the latest checkpoint."""
    signer = AuditSigner("quorum-log", Ed25519PrivateKey.generate(), "quorum.example/disclosures")
    sessions = history(scratch(), signer, ["ok"] * 3)
    running = start_witness(tmp_path, signer)
    try:  # size 3 cosigned by one witness
        assert WitnessSubmitter(sessions, [running.target], httpx_post(), clock).run_round()[0].result == (
            "cosigned"
        )
    finally:
        running.stop()
    with transaction(sessions) as session:  # then size 5, not cosigned
        for _ in range(2):
            append(session, Event(kind="admin_action", outcome="ok"), now=T0)
        create_checkpoint(session, signer=signer, now=T0)
    other = cosigner_vkey("other.example/w", Ed25519PrivateKey.generate().public_key())

    def proven_at(witness_vkeys: list[str], quorum: int) -> int:
        policy = WitnessPolicy(signer.note_verifier_key(), witness_vkeys, quorum)
        with sessions() as session:
            made = bundle_for(
                session, seq=1, public_key=signer.public_key, log_id=signer.log_id, witnesses=policy
            )
        return made["proof"]["tree_size"]

    assert proven_at([running.witness.vkey], 1) == 3  # witnessed: the quorum of 1 cosigned size 3
    assert proven_at([running.witness.vkey, other], 2) == 5  # 1 of 2: not witnessed
    assert proven_at([other], 1) == 5  # cosigned, but not by a configured witness
