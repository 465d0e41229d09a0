"""Batched integration (AUDIT_INTEGRATION=batched): a release queues its entry, the integrator
puts it in the tree; proofs wait ("pending") until then; a failed batch leaves its entries queued;
verification covers the leaves and the queue. Tests that commit for real (threads, two
integrators) use a scratch database: the first batched entry changes the log for good
(`audit_head.leaves_from`), which the shared test database must not see."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.config import DEMO_AUDIT_SIGNING_KEY
from audit.export import export_lines
from audit.integrator import Pending, integrate_batch, leaf_index, oldest_queued, queued_count, run_integrator
from audit.log import BATCHED, Event, append
from audit.merkle import root, verify_inclusion
from audit.models import AuditEntry, AuditEntryAttribute, AuditHead, AuditLeaf, AuditQueued
from audit.proof_bundle import NotYetSigned, bundle_for, check_bundle
from audit.signer import AuditSigner
from audit.tiles import Tile, read_tile
from audit.tree import DbNodeStore, create_checkpoint, prove_inclusion, tree_size
from audit.verifier import verify_export
from audit.verify import verify_log
from core import migrate
from core.clock import utcnow
from core.db import make_engine, make_session_factory, transaction
from profile_store.models import Declaration
from tests.factories import make_citizen

SIGNER = AuditSigner.from_pem("test-log", DEMO_AUDIT_SIGNING_KEY)


def release(n: int = 0) -> Event:
    return Event(
        kind="disclosure",
        citizen_ref=f"{n:064x}",
        app_id="app-1",
        purpose="housing-loan",
        outcome="released",
        attributes=("name", "email", "regadd")[: 1 + n % 3],
        details={"n": n},
    )


def verify(session, **kwargs):
    return verify_log(session, public_key=SIGNER.public_key, batch_size=4, **kwargs)


def queued(session) -> list[int]:
    return list(session.scalars(select(AuditQueued.seq).order_by(AuditQueued.seq)))


def test_a_release_is_queued_then_integrated_and_its_proof_verifies(db_session, now):
    append(db_session, release(), now=now)  # an inline entry first: the log as it was
    size = tree_size(db_session)
    entries = [append(db_session, release(n), now=now, integration=BATCHED) for n in range(5)]
    assert tree_size(db_session) == size  # not in the tree yet
    assert queued(db_session) == [e.seq for e in entries]
    assert all(e.seq >= size and '"id":' in e.body and '"seq":' not in e.body for e in entries)
    with pytest.raises(Pending):
        prove_inclusion(db_session, seq=entries[0].seq, size=size)
    assert verify(db_session).ok  # queued entries are checked, and are not late

    assert integrate_batch(db_session) == 5
    assert queued(db_session) == [] and tree_size(db_session) == size + 5
    store = DbNodeStore(db_session)
    for position, entry in enumerate(entries):
        proof = prove_inclusion(db_session, seq=entry.seq, size=size + 5)
        assert proof["leaf_index"] == size + position
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert verify_inclusion(entry.leaf_hash, size + position, size + 5, path, root(store, size + 5))
    assert create_checkpoint(db_session, signer=SIGNER, now=now) is not None
    report = verify(db_session)
    assert report.ok, str(report.first)
    assert report.entries == size + 5


def test_inline_appends_after_batched_ones_are_named_by_id_and_placed_at_once(db_session, now):
    """A server still on inline while others batch: its entry may not reuse a queued id, and
    takes the next leaf at once, ahead of the queued entries."""
    waiting = append(db_session, release(1), now=now, integration=BATCHED)
    size = tree_size(db_session)
    inline = append(db_session, release(2), now=now)
    assert inline.seq > waiting.seq and '"id":' in inline.body
    assert leaf_index(db_session, inline.seq) == size and tree_size(db_session) == size + 1
    assert integrate_batch(db_session) == 1
    assert leaf_index(db_session, waiting.seq) == size + 1
    assert verify(db_session).ok


def test_a_failed_batch_leaves_its_entries_queued_for_the_next_run(db_session, now):
    entries = [append(db_session, release(n), now=now, integration=BATCHED) for n in range(3)]
    size = tree_size(db_session)

    def crash(_session) -> None:
        raise RuntimeError("integrator killed mid-batch")

    savepoint = db_session.begin_nested()
    with pytest.raises(RuntimeError):
        integrate_batch(db_session, after=crash)
    savepoint.rollback()
    assert queued(db_session) == [e.seq for e in entries] and tree_size(db_session) == size
    assert db_session.scalar(select(func.count()).select_from(AuditLeaf)) == 0
    assert integrate_batch(db_session, limit=2) == 2  # the next run takes them, oldest first
    assert queued(db_session) == [entries[2].seq]
    assert integrate_batch(db_session) == 1 and verify(db_session).ok


def test_no_audit_row_no_data_a_rolled_back_release_leaves_no_entry_and_no_queue_row(
    db_session, runtime, now
):
    citizen = make_citizen(db_session, runtime.vault)
    before = db_session.scalar(select(func.max(AuditEntry.seq)))
    savepoint = db_session.begin_nested()
    db_session.add(
        Declaration(citizen_id=citizen.id, attribute="email", ciphertext=b"x", version=1, declared_at=now)
    )
    entry = append(db_session, release(), now=now, integration=BATCHED)
    savepoint.rollback()
    assert db_session.get(Declaration, (citizen.id, "email")) is None
    assert db_session.get(AuditEntry, entry.seq) is None
    assert queued(db_session) == [] and db_session.scalar(select(func.max(AuditEntry.seq))) == before


def test_an_entry_queued_longer_than_the_maximum_merge_delay_fails_verification(db_session, now):
    late = append(db_session, release(), now=now - dt.timedelta(minutes=5), integration=BATCHED)
    assert oldest_queued(db_session) == now - dt.timedelta(minutes=5) and queued_count(db_session) == 1
    assert verify(db_session, max_merge_delay=dt.timedelta(minutes=10), now=now).ok
    report = verify(db_session, max_merge_delay=dt.timedelta(minutes=1), now=now)
    assert report.first.seq == late.seq and "maximum merge delay" in report.first.problem


def test_the_queue_lets_an_entry_go_only_into_the_tree_and_leaves_stay(db_session, now):
    """The database, as the app's own role, refuses to delete or change a queue row of an entry
    with no leaf (losing it would lose the entry from the tree), and any change to a leaf."""
    entry = append(db_session, release(), now=now, integration=BATCHED)
    for statement in (
        delete(AuditQueued).where(AuditQueued.seq == entry.seq),
        update(AuditQueued).where(AuditQueued.seq == entry.seq).values(seq=entry.seq + 1000),
    ):
        savepoint = db_session.begin_nested()
        with pytest.raises(DBAPIError):
            db_session.execute(statement)
        savepoint.rollback()
    assert queued(db_session) == [entry.seq]
    integrate_batch(db_session)
    for statement in (
        delete(AuditLeaf).where(AuditLeaf.seq == entry.seq),
        update(AuditLeaf).where(AuditLeaf.seq == entry.seq).values(chain_hash=bytes(32)),
    ):
        savepoint = db_session.begin_nested()
        with pytest.raises(DBAPIError):
            db_session.execute(statement)
        savepoint.rollback()
    assert leaf_index(db_session, entry.seq) == tree_size(db_session) - 1


def test_proof_api_answers_pending_with_retry_after_never_404(app, client, db_session, now):
    entry = append(db_session, release(), now=now, integration=BATCHED)
    size = tree_size(db_session)
    response = client.get(f"/api/audit/proofs/inclusion?seq={entry.seq}&tree_size={max(size, 1)}")
    assert response.status_code == 202 and response.headers["Retry-After"] == "1"
    assert response.json["status"] == "pending"
    missing = client.get(f"/api/audit/proofs/inclusion?seq={entry.seq + 99}&tree_size={max(size, 1)}")
    assert missing.status_code == 404
    integrate_batch(db_session)
    done = client.get(f"/api/audit/proofs/inclusion?seq={entry.seq}&tree_size={size + 1}")
    assert done.status_code == 200 and done.json["leaf_index"] == size


def test_the_integrate_command_empties_the_queue(app, db_session, now):
    for n in range(3):
        append(db_session, release(n), now=now, integration=BATCHED)
    result = app.test_cli_runner().invoke(args=["audit", "integrate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "integrated 3 entries" in result.output
    assert queued(db_session) == []


# --- real transactions, on a database of their own ---------------------------------------------


@pytest.fixture
def scratch_engine(tmp_path) -> Iterator[Engine]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        engine = make_engine(f"sqlite:///{tmp_path / 'integrator.db'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    name = f"consentry_integrator_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_concurrent_writers_and_the_integrator_make_a_tree_that_verifies(scratch_engine, now):
    writers = make_session_factory(scratch_engine, writer=True)
    with transaction(writers) as session:
        for n in range(3):
            append(session, release(n), now=now)  # inline entries first
    per_writer, errors, stop = 12, [], threading.Event()

    def work(w: int) -> None:
        try:
            for n in range(per_writer):
                with transaction(writers) as session:
                    append(session, release(w * 100 + n), now=now, integration=BATCHED)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    integrator = threading.Thread(
        target=run_integrator, args=(writers,), kwargs={"stop": stop, "every_s": 0.01, "limit": 7}
    )
    integrator.start()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    integrator.join(timeout=30)
    while True:  # what the integrator had not taken yet (a batch per transaction)
        with transaction(writers) as session:
            if not integrate_batch(session):
                break
    assert errors == []
    with transaction(writers) as session:
        assert tree_size(session) == 3 + 8 * per_writer and queued_count(session) == 0
        assert session.scalar(select(func.count()).select_from(AuditLeaf)) == 8 * per_writer
        assert session.scalar(select(AuditHead.leaves_from)) == 3
        create_checkpoint(session, signer=SIGNER, now=now)
        report = verify(session)
        assert report.ok, str(report.first)
        assert report.entries == 3 + 8 * per_writer
        attributes = session.scalar(select(func.count()).select_from(AuditEntryAttribute))
        assert attributes == sum(1 + n % 3 for n in range(3)) + sum(
            1 + (w * 100 + n) % 3 for w in range(8) for n in range(per_writer)
        )


def test_two_integrators_never_integrate_the_same_entry(scratch_engine, now):
    writers = make_session_factory(scratch_engine, writer=True)
    with transaction(writers) as session:
        for n in range(4):
            append(session, release(n), now=now, integration=BATCHED)
    first = writers()
    assert integrate_batch(first) == 4  # holds its transaction open
    outcome: list[int] = []

    def second() -> None:
        with transaction(writers) as session:
            outcome.append(integrate_batch(session))

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # PostgreSQL: the advisory lock is taken, skipped at once; SQLite: waits
    if scratch_engine.dialect.name == "postgresql":
        assert outcome == [0]
    first.commit()
    first.close()
    thread.join(10)
    assert outcome == [0]
    with transaction(writers) as session:
        assert session.scalar(select(func.count()).select_from(AuditLeaf)) == 4
        assert tree_size(session) == 4 and verify(session).ok


def test_audit_verify_fails_on_an_entry_queued_longer_than_the_maximum_merge_delay(app, db_session):
    late = append(db_session, release(), now=utcnow() - dt.timedelta(minutes=5), integration=BATCHED)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"FAILED seq {late.seq}: queued for integration longer than the maximum merge delay" in " ".join(
        result.output.split()
    )
    integrate_batch(db_session)
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_a_batched_entrys_proof_bundle_verifies_at_its_leaf_index_not_its_id(db_session, now):
    first = append(db_session, release(1), now=now, integration=BATCHED)
    second = append(db_session, release(2), now=now, integration=BATCHED)
    with pytest.raises(NotYetSigned, match="being added"):
        bundle_for(db_session, seq=first.seq, public_key=SIGNER.public_key, log_id="test-log")
    size = tree_size(db_session)
    append(db_session, release(3), now=now)  # inline: placed at once, ahead of the queue
    integrate_batch(db_session)
    create_checkpoint(db_session, signer=SIGNER, now=now)
    for entry, index in ((first, size + 1), (second, size + 2)):
        bundle = bundle_for(db_session, seq=entry.seq, public_key=SIGNER.public_key, log_id="test-log")
        assert bundle["entry"]["seq"] == entry.seq and bundle["proof"]["leaf_index"] == index
        assert check_bundle(bundle, trusted_key=SIGNER.public_key).ok
    # The body is bound to its id: the same proof under another id fails.
    bundle["entry"]["seq"] = first.seq
    verdict = check_bundle(bundle, trusted_key=SIGNER.public_key)
    assert not verdict.ok and "names id" in verdict.reason


def test_an_export_of_a_batched_log_verifies_offline_in_leaf_order(db_session, now):
    for n in range(3):
        append(db_session, release(n), now=now)
    first = append(db_session, release(10), now=now, integration=BATCHED)
    append(db_session, release(11), now=now, integration=BATCHED)
    append(db_session, release(12), now=now)  # inline after batched: placed before the queue
    integrate_batch(db_session)
    append(db_session, release(13), now=now, integration=BATCHED)  # queued: not exported
    checkpoint = create_checkpoint(db_session, signer=SIGNER, now=now)
    signed = {"body": json.loads(checkpoint.body), "signature": checkpoint.signature}
    lines = list(export_lines(db_session, log_id="test-log", upto=checkpoint.tree_size))
    assert json.loads(lines[0])["count"] == checkpoint.tree_size
    placed = [json.loads(line) for line in lines[1:]]
    assert [line["seq"] for line in placed] == list(range(checkpoint.tree_size))
    at = next(line for line in placed if line["body"].get("id") == first.seq)
    assert at["seq"] == leaf_index(db_session, first.seq) != first.seq
    report = verify_export(lines, signed, SIGNER.public_key)
    assert report.ok, report.first_error
    # A batched entry's body altered in the export: found at its leaf position.
    at["body"]["outcome"] = "denied"
    forged = [lines[0], *(json.dumps(line, separators=(",", ":")) + "\n" for line in placed)]
    report = verify_export(forged, signed, SIGNER.public_key)
    error = report.first_error
    assert not report.ok and error["seq"] == at["seq"] and "body altered" in error["problem"]


def test_a_batched_logs_entry_tile_holds_the_bodies_in_leaf_order(db_session, now):
    while tree_size(db_session) % 256 > 250:  # keep the entries below in one tile
        append(db_session, release(), now=now)
    first = append(db_session, release(1), now=now, integration=BATCHED)
    second = append(db_session, release(2), now=now, integration=BATCHED)
    inline = append(db_session, release(3), now=now)
    integrate_batch(db_session)
    size = tree_size(db_session)
    index = (size - 1) // 256
    data = read_tile(db_session, Tile(None, index, size - 256 * index), size)
    bodies, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 2], "big")
        bodies.append(data[at + 2 : at + 2 + length].decode())
        at += 2 + length
    assert bodies[-3:] == [inline.body, first.body, second.body]


def test_the_running_integrator_survives_a_failed_batch_and_integrates_it_next_round(scratch_engine, now):
    """A real transaction rolled back mid-batch (after the leaves, nodes, head and queue deletes
    were written): nothing of it stays, the error is reported, and the next round takes the batch."""
    writers = make_session_factory(scratch_engine, writer=True)
    with transaction(writers) as session:
        seqs = [append(session, release(n), now=now, integration=BATCHED).seq for n in range(5)]
    failures, stop = [], threading.Event()

    def after(session) -> None:
        if not failures:
            raise RuntimeError("killed mid-batch")
        stop.set()

    run_integrator(writers, stop=stop, every_s=0.01, after=after, on_error=failures.append)
    assert [str(f) for f in failures] == ["killed mid-batch"]
    with transaction(writers) as session:
        assert queued_count(session) == 0 and tree_size(session) == 5
        assert [leaf_index(session, seq) for seq in seqs] == [0, 1, 2, 3, 4]
        assert verify(session).ok
