"""The witness commands for real: `consentry audit integrate --every` offers the checkpoints it signs
to the witnesses (a batched deployment may run no other signer), and `consentry witness keygen` /
`consentry witness serve` run as an operator runs them: keygen writes the key, serve (a subprocess
on a free loopback port) cosigns a consistent checkpoint and refuses a forked one with a
structured alarm line in its output."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit_cli, create_app
from audit import note
from audit.checkpoint_signing import load_private_key_pem
from audit.cosigned import cosigned_note
from audit.log import BATCHED, Event, append
from audit.signer import AuditSigner
from audit.tiles import published_checkpoint
from audit.witness_format import add_checkpoint_body, check_quorum, cosigner_vkey
from audit.witness_models import AuditCosignature
from core.db import make_session_factory, transaction

from .test_witness_submission import T0, scratch, start_witness  # noqa: F401

CONSENTRY = str(Path(sys.executable).parent / "consentry")
WAIT_S = 30  # every wait below is bounded by this


def test_checkpoints_the_integrator_signs_are_cosigned_by_a_witness(
    scratch,  # noqa: F811
    tmp_path,
    base_config,
    monkeypatch,
):
    engine = scratch()
    config = replace(
        base_config, audit_integration="batched", audit_checkpoint_every=1, audit_checkpoint_interval_s=0.0
    )
    probe = create_app(config, engine=engine)
    signer = probe.extensions["consentry"].audit_signer
    probe.extensions["consentry"].close()
    running = start_witness(tmp_path, signer)
    app = create_app(replace(config, audit_witnesses=f"{running.url} {running.witness.vkey}"), engine=engine)
    stop = threading.Event()
    # The command stops on SIGTERM/SIGINT; here the test stops it, once the witness has cosigned.
    monkeypatch.setattr(audit_cli, "stop_on_signals", lambda: stop)

    def stop_once_cosigned() -> None:
        deadline = time.monotonic() + WAIT_S
        while not stop.is_set() and time.monotonic() < deadline:
            with Session(engine) as session:
                if session.scalar(select(func.count()).select_from(AuditCosignature)):
                    break
            time.sleep(0.05)
        stop.set()

    watcher = threading.Thread(target=stop_once_cosigned, daemon=True)
    try:
        with transaction(make_session_factory(engine, writer=True)) as session:
            for n in range(3):
                append(
                    session, Event(kind="admin_action", outcome=f"queued {n}"), now=T0, integration=BATCHED
                )
        watcher.start()
        result = app.test_cli_runner().invoke(args=["audit", "integrate", "--every", "50ms"])
    finally:
        stop.set()
        watcher.join(timeout=WAIT_S)
        running.stop()
        app.extensions["consentry"].close()
    assert result.exit_code == 0, result.output
    assert "offering checkpoints to 1 witnesses" in result.output
    with Session(engine) as session:
        served = cosigned_note(session, published_checkpoint(session))
    witnessed = check_quorum(
        served, log_vkey=signer.note_verifier_key(), witness_vkeys=[running.witness.vkey], quorum=1
    )
    assert witnessed.checkpoint.tree_size == 3 and running.witness.name in witnessed.cosigners


# --- consentry witness keygen / serve, as subprocesses ------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    """A witness operator's environment: none of ours (no database of ours, no keys of ours)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",  # log lines reach the output file as they are written
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_keygen_writes_the_key_file_and_prints_its_verifier_key(tmp_path):
    key_file = tmp_path / "w1.pem"
    made = subprocess.run(
        [CONSENTRY, "witness", "keygen", "--name", "witness.example.org/w1", "--key-file", str(key_file)],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=WAIT_S, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = load_private_key_pem(key_file.read_bytes())
    assert made.stdout.strip() == cosigner_vkey("witness.example.org/w1", key.public_key())
    again = subprocess.run(
        [CONSENTRY, "witness", "keygen", "--name", "witness.example.org/w1", "--key-file", str(key_file)],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=WAIT_S, check=False,
    )  # fmt: skip
    assert again.returncode != 0 and "not overwriting" in again.stderr
    assert load_private_key_pem(key_file.read_bytes()).public_key() == key.public_key()


def _checkpoint(log: AuditSigner, size: int, root: bytes) -> str:
    body = note.checkpoint_body(log.note_origin, size, root)
    return note.note_text(body, log.note_origin, log.sign_note(body))


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.fixture
def served_witness(tmp_path):
    """`consentry witness serve` on a free loopback port, trusting a log of the test's; always
    terminated. Yields (url, witness vkey, log signer, state dir, output file)."""
    log = AuditSigner("cli-log", Ed25519PrivateKey.generate(), "cli.example/disclosures")
    key_file, state, output = tmp_path / "w.pem", tmp_path / "state", tmp_path / "witness.out"
    made = subprocess.run(
        [CONSENTRY, "witness", "keygen", "--name", "w.example/w1", "--key-file", str(key_file)],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=WAIT_S, check=True,
    )  # fmt: skip
    vkey, port = made.stdout.strip(), _free_port()
    command = [
        CONSENTRY, "witness", "serve", "--name", "w.example/w1", "--key-file", str(key_file),
        "--state", str(state), "--log-key", log.note_verifier_key(), "--port", str(port),
    ]  # fmt: skip
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=_env(tmp_path), stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert process.poll() is None, output.read_text()
            try:
                if httpx.get(url + "/", timeout=1).text.strip() == vkey:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the witness did not start: " + output.read_text()
            time.sleep(0.1)
        yield url, vkey, log, state, output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_cosigns_a_consistent_checkpoint_and_alarms_on_a_fork(served_witness):
    url, vkey, log, state, output = served_witness
    a, b = _h(b"\x00a"), _h(b"\x00b")  # two leaf hashes: the tree of size 2 extends the one of size 1
    first = httpx.post(url + "/add-checkpoint", content=add_checkpoint_body(0, [], _checkpoint(log, 1, a)))
    assert first.status_code == 200, first.text
    two = _checkpoint(log, 2, _h(b"\x01" + a + b))
    second = httpx.post(url + "/add-checkpoint", content=add_checkpoint_body(1, [b], two))
    assert second.status_code == 200, second.text
    cosigned = check_quorum(
        two + second.text, log_vkey=log.note_verifier_key(), witness_vkeys=[vkey], quorum=1
    )
    assert cosigned.checkpoint.tree_size == 2
    # A fork: size 3 signed by the log's key, but not an extension of the tree of size 2.
    forked = _checkpoint(log, 3, os.urandom(32))
    refused = httpx.post(url + "/add-checkpoint", content=add_checkpoint_body(2, [os.urandom(32)], forked))
    assert refused.status_code == 422
    deadline, alarm = time.monotonic() + WAIT_S, None
    while alarm is None and time.monotonic() < deadline:
        for line in output.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{") and '"witness_alarm"' in line:
                alarm = json.loads(line)
        time.sleep(0.05)
    assert alarm is not None, output.read_text()
    assert alarm["level"] == "warning"
    assert (alarm["origin"], alarm["old_size"], alarm["new_size"]) == ("cli.example/disclosures", 2, 3)
    evidence = Path(alarm["evidence"])
    assert evidence.parent == state / "evidence" and evidence.is_file()
    # Names, sizes and a file name only: a checkpoint says nothing about people, and no more is logged.
    assert set(alarm) == {
        "event",
        "level",
        "timestamp",
        "origin",
        "reason",
        "old_size",
        "new_size",
        "evidence",
    }
    assert forked in evidence.read_text(encoding="utf-8")
    # The witness still holds the size it cosigned.
    held = json.loads(next(state.glob("log-*.json")).read_text(encoding="utf-8"))
    assert held["size"] == 2
