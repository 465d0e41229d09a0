"""Public proof endpoints and the auditor's CLI, over the Flask test client and CLI runner."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.checkpoint_signing import load_public_key_pem, verify_checkpoint
from audit.log import Event, append
from audit.merkle import verify_inclusion
from audit.tree import create_checkpoint
from audit.verifier import verify_export

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logged(db_session, runtime, now):
    for n in range(7):
        append(db_session, Event(kind="disclosure", app_id=f"app-{n}", attributes=("name",)), now=now)
    checkpoint = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()
    return checkpoint


def test_latest_checkpoint_is_signed_by_the_published_key(client, logged):
    key = load_public_key_pem(client.get("/api/audit/public-key").data)
    signed = client.get("/api/audit/checkpoints/latest").get_json()
    assert signed["body"]["tree_size"] == logged.tree_size
    assert verify_checkpoint(key, signed)
    assert client.get(f"/api/audit/checkpoints/{logged.tree_size}").get_json() == signed


def test_inclusion_proof_over_http_verifies(client, logged):
    seq = logged.tree_size - 3
    proof = client.get(f"/api/audit/proofs/inclusion?seq={seq}&tree_size={logged.tree_size}").get_json()
    root = bytes.fromhex(json.loads(logged.body)["root_hash"])
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        seq,
        logged.tree_size,
        [bytes.fromhex(h) for h in proof["audit_path"]],
        root,
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("seq=x&tree_size=3", "seq"),
        ("tree_size=3", "seq"),
        ("seq=0&tree_size=0", "tree_size"),
        ("seq=0&tree_size=3&evil=1", "evil"),
    ],
)
def test_malformed_proof_queries_are_400_naming_the_field(client, logged, query, field):
    response = client.get(f"/api/audit/proofs/inclusion?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_out_of_range_proofs_are_4xx(client, logged):
    assert (
        client.get(f"/api/audit/proofs/inclusion?seq=0&tree_size={logged.tree_size + 50}").status_code == 400
    )
    assert client.get("/api/audit/proofs/consistency?first=5&second=2").status_code == 400
    assert client.get("/api/audit/checkpoints/999999999").status_code == 404


def test_export_then_standalone_verify_round_trip(app, logged, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "log.jsonl"
    result = runner.invoke(args=["audit", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    checkpoint = json.loads(out.with_suffix(".checkpoint.json").read_text())
    key = load_public_key_pem(out.with_suffix(".pub.pem").read_bytes())
    with out.open() as lines:
        assert verify_export(lines, checkpoint, key).ok
    cli = [
        sys.executable,
        "-m",
        "audit.verifier",
        str(out),
        "--checkpoint",
        str(out.with_suffix(".checkpoint.json")),
        "--public-key",
        str(out.with_suffix(".pub.pem")),
    ]
    assert subprocess.run(cli, cwd=ROOT, capture_output=True, check=False).returncode == 0
    lines = out.read_text().splitlines()
    victim = len(lines) - 3
    seq = json.loads(lines[victim])["seq"]
    lines[victim] = lines[victim].replace('"disclosure"', '"consent_granted"', 1)
    out.write_text("\n".join(lines) + "\n")
    failed = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert f"seq {seq}:" in failed.stdout


def test_audit_verify_cli_passes_on_a_clean_log(app, logged):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
