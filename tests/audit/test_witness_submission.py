"""Witnessing end to end: our checkpointer's submitter offers checkpoints over real HTTP on loopback
to the built-in witness (`consentry witness serve`'s WSGI app), keeps the cosignatures, serves them
on /log/checkpoint, raises an alarm when the witness refuses a forked view, and `audit verify`'s
witnessed-size check catches a rollback or rewrite below the witnessed size even when every
checkpoint of ours was replaced."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app import create_app
from app.auditor.verify_views import _verify_in_background
from app.witness_cli import start_demo_witness, witness_app
from audit import note
from audit.cosigned import cosigned_note
from audit.log import Event, append
from audit.signer import AuditSigner
from audit.tiles import published_checkpoint
from audit.tree import create_checkpoint, tree_size
from audit.verification_runs import get_run, last_verification, start_run
from audit.witness import Witness, WitnessState
from audit.witness_check import check_against_log, newest_witnessed, refusal_count, witness_status
from audit.witness_client import (
    WitnessSubmitter,
    WitnessTarget,
    httpx_post,
    parse_witnesses,
)
from audit.witness_format import add_checkpoint_body, check_quorum, parse_cosigner_vkey
from audit.witness_models import AuditCosignature, AuditWitnessRefusal
from core import migrate
from core.db import make_engine, make_session_factory, transaction
from tests.audit.test_tiles_client import _sign_in_as_auditor

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return T0


class RunningWitness:
    def __init__(self, witness: Witness, state: WitnessState) -> None:
        self.witness, self.state, self.alarms = witness, state, []
        app = witness_app(witness, state, on_alarm=self.alarms.append)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def target(self) -> WitnessTarget:
        return WitnessTarget(self.url, parse_cosigner_vkey(self.witness.vkey))

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def start_witness(tmp_path, signer: AuditSigner) -> RunningWitness:
    name = f"witness-{uuid.uuid4().hex[:8]}.example/w1"
    witness = Witness.trusting(name, Ed25519PrivateKey.generate(), [signer.note_verifier_key()])
    return RunningWitness(witness, WitnessState(tmp_path / name.replace("/", "_")))


@pytest.fixture
def running(tmp_path, runtime) -> Iterator[RunningWitness]:
    w = start_witness(tmp_path, runtime.audit_signer)
    yield w
    w.stop()


def grow_and_sign(session, signer: AuditSigner, n: int) -> int:
    for _ in range(n):
        append(session, Event(kind="admin_action", outcome="ok"), now=T0)
    create_checkpoint(session, signer=signer, now=T0)
    session.commit()
    return tree_size(session)


def test_checkpoints_are_cosigned_over_http_and_served_with_the_note(runtime, sessions, running, app):
    signer = runtime.audit_signer
    submitter = WitnessSubmitter(sessions, [running.target], httpx_post(), clock)
    with sessions() as session:
        first = grow_and_sign(session, signer, 3)
    assert [o.result for o in submitter.run_round()] == ["cosigned"]
    assert submitter.run_round()[0].result == "up_to_date"
    with sessions() as session:
        second = grow_and_sign(session, signer, 4)
    assert [o.result for o in submitter.run_round()] == ["cosigned"]  # with a proof from `first`
    assert running.state.latest(signer.note_origin).size == second
    with sessions() as session:
        stored = session.scalars(
            select(AuditCosignature.tree_size).where(AuditCosignature.witness == running.witness.name)
        ).all()
    assert sorted(stored) == [first, second]

    served = app.test_client().get("/log/checkpoint")
    assert served.status_code == 200
    witnessed = check_quorum(
        served.get_data(as_text=True),
        log_vkey=signer.note_verifier_key(),
        witness_vkeys=[running.witness.vkey],
        quorum=1,
    )
    assert witnessed.checkpoint.tree_size == second
    with sessions() as session:
        found = newest_witnessed(
            session, log_vkey=signer.note_verifier_key(), witness_vkeys=[running.witness.vkey], quorum=1
        )
        assert found is not None and found.checkpoint.tree_size == second
        assert check_against_log(session, found).problem is None
        [status] = witness_status(session, [running.target])
    assert (status.cosigned_size, status.refusals) == (second, 0)


def test_a_witness_shown_a_fork_refuses_and_the_platform_raises_an_alarm(
    runtime, sessions, running, app, db_session
):
    signer = runtime.audit_signer
    submitter = WitnessSubmitter(sessions, [running.target], httpx_post(), clock)
    with sessions() as session:
        size = grow_and_sign(session, signer, 2)
        before = refusal_count(session)
    # A split view: the witness is first shown another history at a larger size, signed by our key.
    forged_body = note.checkpoint_body(signer.note_origin, size + 1, os.urandom(32))
    forged = note.note_text(forged_body, signer.note_origin, signer.sign_note(forged_body))
    assert (
        running.witness.add_checkpoint(running.state, add_checkpoint_body(0, [], forged), now=1).status == 200
    )
    with sessions() as session:
        grow_and_sign(session, signer, 3)
    [outcome] = submitter.run_round()
    assert outcome.result == "refused"
    assert running.alarms and running.alarms[0]["reason"] == "consistency proof failed"
    with sessions() as session:
        assert refusal_count(session) == before + 1
        refusal = session.scalar(
            select(AuditWitnessRefusal).where(AuditWitnessRefusal.witness == running.witness.name)
        )
        assert (refusal.status, refusal.witness_size) == (422, size + 1)
        [status] = witness_status(session, [running.target])
    assert status.refusals == 1 and "inconsistent" in status.last_refusal
    # Operators and auditors see it: the /metrics gauge, and /log/witnesses (auditors only).
    client = app.test_client()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f"consentry_audit_witness_refusals {float(before + 1)}" in metrics
    rt = app.extensions["consentry"]
    rt.config = rt.config.replace(audit_witnesses=f"{running.url} {running.witness.vkey}")
    assert client.get("/log/witnesses").status_code in (302, 401, 403)
    _sign_in_as_auditor(client, db_session, runtime)
    listed = client.get("/log/witnesses").get_json()
    [shown] = listed["witnesses"]
    assert (shown["name"], shown["refusals"], shown["cosigned_size"]) == (running.witness.name, 1, 0)
    assert listed["refusals"] == before + 1


def test_an_unreachable_witness_is_retried_later_and_signing_is_unaffected(runtime, sessions):
    key = Ed25519PrivateKey.generate()
    vkey = Witness.trusting("gone.example/w", key, [runtime.audit_signer.note_verifier_key()]).vkey
    [target] = parse_witnesses(f"http://127.0.0.1:9 {vkey}")  # the discard port: nobody answers
    submitter = WitnessSubmitter(sessions, [target], httpx_post(timeout_s=1), clock)
    with sessions() as session:
        grow_and_sign(session, runtime.audit_signer, 1)
    assert [o.result for o in submitter.run_round()] == ["unavailable"]
    assert submitter.run_round() == []  # backing off: not tried again at once


# --- a rewrite or rollback below the witnessed size, on databases of their own -----------------


@pytest.fixture
def scratch(tmp_path) -> Iterator:
    """Make fresh migrated databases (real commits: the witness sees committed checkpoints)."""
    made: list[tuple[Engine, str | None]] = []
    base = os.environ.get("TEST_DATABASE_URL")
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT") if base else None

    def make() -> Engine:
        if admin is None:
            engine = make_engine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")
            made.append((engine, None))
        else:
            name = f"consentry_witness_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine = make_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
            made.append((engine, name))
        migrate.upgrade(engine)
        return engine

    yield make
    for engine, name in made:
        engine.dispose()
        if admin is not None and name:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    if admin is not None:
        admin.dispose()


def history(engine: Engine, signer: AuditSigner, kinds: list[str]):
    sessions = make_session_factory(engine, writer=True)
    with transaction(sessions) as session:
        for outcome in kinds:
            append(session, Event(kind="admin_action", outcome=outcome), now=T0)
        create_checkpoint(session, signer=signer, now=T0)
    return sessions


def test_rollback_or_rewrite_below_the_witnessed_size_is_detected(scratch, tmp_path):
    signer = AuditSigner("scratch-log", Ed25519PrivateKey.generate(), "scratch.example/disclosures")
    running = start_witness(tmp_path, signer)
    try:
        original = history(scratch(), signer, ["ok"] * 10)
        submitter = WitnessSubmitter(original, [running.target], httpx_post(), clock)
        assert [o.result for o in submitter.run_round()] == ["cosigned"]
        kept = _served(original)  # the cosigned note, as an auditor (or the witness) keeps it
        vkeys = [running.witness.vkey]
        assert check_quorum(kept, log_vkey=signer.note_verifier_key(), witness_vkeys=vkeys, quorum=1)
    finally:
        running.stop()

    def check(sessions) -> str | None:
        with sessions() as session:
            witnessed = newest_witnessed(
                session,
                log_vkey=signer.note_verifier_key(),
                witness_vkeys=[running.witness.vkey],
                quorum=1,
                extra_notes=[kept],
            )
            assert witnessed is not None and witnessed.checkpoint.tree_size == 10
            return check_against_log(session, witnessed).problem

    assert check(original) is None
    # Every checkpoint replaced: a log rebuilt shorter, re-signed with our own key.
    assert "rolled back" in check(history(scratch(), signer, ["ok"] * 6))
    # The same length, entry 4 changed, re-signed: the root at the witnessed size differs.
    assert "rewritten" in check(history(scratch(), signer, ["ok"] * 4 + ["refused"] + ["ok"] * 7))
    # An honest extension of the original passes.
    with transaction(original) as session:
        append(session, Event(kind="admin_action", outcome="ok"), now=T0)
    assert check(original) is None


def _served(sessions) -> str:
    with sessions() as session:
        return cosigned_note(session, published_checkpoint(session))


def audit_verify(config, engine: Engine, *args: str):
    app = create_app(config, engine=engine)
    try:
        return app.test_cli_runner().invoke(args=["audit", "verify", *args])
    finally:
        app.extensions["consentry"].close()


def test_audit_verify_fails_on_a_changed_cosignature(scratch, tmp_path, base_config):
    """docs/audit.md, "What verification covers": every stored cosignature by a configured
    witness is checked against its key; a changed one is named by tree size and witness."""
    engine = scratch()
    probe = create_app(base_config, engine=engine)
    signer = probe.extensions["consentry"].audit_signer
    probe.extensions["consentry"].close()
    running = start_witness(tmp_path, signer)
    try:
        sessions = history(engine, signer, ["ok"] * 3)
        assert WitnessSubmitter(sessions, [running.target], httpx_post(), clock).run_round()[0].result == (
            "cosigned"
        )
    finally:
        running.stop()
    config = replace(base_config, audit_witnesses=f"{running.url} {running.witness.vkey}")
    result = audit_verify(config, engine)
    assert result.exit_code == 0 and "cosignatures: 1 verified" in result.output, result.output
    with engine.begin() as conn:  # the tables' owner, switching the guard off as an attacker would
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_cosignatures DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_cosignatures_no_update"))
        conn.execute(update(AuditCosignature).values(cosigned_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)))
    result = audit_verify(config, engine)
    assert result.exit_code == 1
    expected = (
        f"FAILED cosignature tree size 3 witness {running.witness.name}: cosigned_at is not the signed time"
    )
    assert expected in " ".join(result.output.split())
    # The run is recorded as failed (the auditor console's status shows the last run), and the
    # console's own "Verify now" checks the cosignatures as the command does.
    where = f"cosignature tree size 3 witness {running.witness.name}"
    with Session(engine) as session:
        recorded = last_verification(session)
    assert (recorded.ok, recorded.position) == (False, where)
    app = create_app(config, engine=engine)
    try:
        rt = app.extensions["consentry"]
        with rt.writer_sessions() as session:
            run = start_run(session, started_by="an auditor", total=3, now=clock())
            session.commit()
        _verify_in_background(rt, run.id)
        with rt.sessions() as session:
            finished = get_run(session, run.id)
            assert (finished.ok, finished.position) == (False, where), finished.finding
    finally:
        rt.close()


def test_audit_verify_reports_the_newest_witnessed_size_and_fails_below_it(scratch, tmp_path, base_config):
    original_engine = scratch()
    probe = create_app(base_config, engine=original_engine)
    signer = probe.extensions["consentry"].audit_signer
    probe.extensions["consentry"].close()
    running = start_witness(tmp_path, signer)
    try:
        original = history(original_engine, signer, ["ok"] * 6)
        assert (
            WitnessSubmitter(original, [running.target], httpx_post(), clock).run_round()[0].result
            == "cosigned"
        )
        kept = tmp_path / "kept.note"
        kept.write_text(_served(original), encoding="utf-8")
    finally:
        running.stop()
    config = replace(base_config, audit_witnesses=f"{running.url} {running.witness.vkey}")

    def verify(engine: Engine, *args: str):
        return audit_verify(config, engine, *args)

    result = verify(original_engine)
    assert result.exit_code == 0, result.output
    assert "newest witnessed size: 6" in result.output
    # Every row of ours replaced by a shorter history, re-signed: only the kept note tells.
    rolled_back = scratch()
    history(rolled_back, signer, ["ok"] * 4)
    result = verify(rolled_back)
    assert result.exit_code == 0 and "no checkpoint cosigned" in result.output
    result = verify(rolled_back, "--witnessed", str(kept))
    assert result.exit_code == 1 and "rolled back" in result.output


def test_the_demo_witness_cosigns_what_the_checkpointer_signs(scratch, base_config):
    engine = scratch()
    app = create_app(base_config, engine=engine)
    rt, stop = app.extensions["consentry"], threading.Event()
    try:
        history(engine, rt.audit_signer, ["ok"] * 3)
        vkey = start_demo_witness(rt, stop)
        assert rt.config.audit_witnesses.endswith(vkey)
        text, deadline = "", time.monotonic() + 60
        while text.count("\u2014") < 2 and time.monotonic() < deadline:  # the submitter's first round
            time.sleep(0.1)
            text = app.test_client().get("/log/checkpoint").get_data(as_text=True)
        witnessed = check_quorum(
            text, log_vkey=rt.audit_signer.note_verifier_key(), witness_vkeys=[vkey], quorum=1
        )
        assert witnessed.checkpoint.tree_size == 3
    finally:
        stop.set()
        rt.close()
