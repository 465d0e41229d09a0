"""The checkpoint signer: signs when due (interval or backlog), never when nothing is new, and
exactly one of several racing signers signs (on a scratch database with real connections, since
the race is between transactions)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from app.config import DEMO_AUDIT_SIGNING_KEY
from audit.checkpointer import CheckpointPolicy, LogProgress, log_progress, run_signer, sign_if_due
from audit.log import Event, append
from audit.models import AuditCheckpoint
from audit.signer import AuditSigner
from core import migrate
from core.db import make_engine, make_session_factory, transaction

SIGNER = AuditSigner.from_pem("test-log", DEMO_AUDIT_SIGNING_KEY)
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
POLICY = CheckpointPolicy(dt.timedelta(seconds=30), max_entries=5)


def _append(session, n: int, now: dt.datetime = T0) -> None:
    for _ in range(n):
        append(session, Event(kind="admin_action", outcome="ok"), now=now)


def test_nothing_is_due_on_an_empty_log_or_when_every_entry_is_signed():
    assert LogProgress(0, 0, None).next_due(POLICY, T0) is None
    assert LogProgress(7, 7, T0).next_due(POLICY, T0 + dt.timedelta(hours=1)) is None


def test_due_after_the_interval_or_at_once_with_a_backlog():
    recent = LogProgress(3, 1, T0)
    assert recent.next_due(POLICY, T0 + dt.timedelta(seconds=1)) == T0 + dt.timedelta(seconds=30)
    assert recent.next_due(POLICY, T0 + dt.timedelta(seconds=31)) == T0 + dt.timedelta(seconds=31)
    backlog = LogProgress(6, 1, T0)
    assert backlog.next_due(POLICY, T0 + dt.timedelta(seconds=1)) == T0 + dt.timedelta(seconds=1)
    assert LogProgress(1, 0, None).next_due(POLICY, T0) == T0


def test_sign_if_due_follows_the_policy(db_session):
    _append(db_session, 2)
    first = sign_if_due(db_session, signer=SIGNER, policy=POLICY, now=T0)
    assert first is not None and first.tree_size == log_progress(db_session).tree_size
    _append(db_session, 2)
    assert sign_if_due(db_session, signer=SIGNER, policy=POLICY, now=T0 + dt.timedelta(seconds=10)) is None
    later = sign_if_due(db_session, signer=SIGNER, policy=POLICY, now=T0 + dt.timedelta(seconds=31))
    assert later is not None and later.tree_size == first.tree_size + 2
    assert sign_if_due(db_session, signer=SIGNER, policy=POLICY, now=T0 + dt.timedelta(hours=1)) is None
    _append(db_session, 5)  # a backlog of max_entries is signed before the interval is up
    backlog = sign_if_due(db_session, signer=SIGNER, policy=POLICY, now=T0 + dt.timedelta(seconds=32))
    assert backlog is not None and backlog.tree_size == later.tree_size + 5


@pytest.fixture
def scratch_engine(tmp_path) -> Iterator[Engine]:
    """A database of its own, migrated: the race commits for real."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        engine = make_engine(f"sqlite:///{tmp_path / 'signers.db'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    name = f"consentry_signers_{uuid.uuid4().hex[:12]}"
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


def _checkpoint_sizes(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(AuditCheckpoint.tree_size).order_by(AuditCheckpoint.tree_size)))


def test_a_second_signer_does_not_sign_while_the_first_is_at_work(scratch_engine):
    writers = make_session_factory(scratch_engine, writer=True)
    with transaction(writers) as session:
        _append(session, 3)
    holder = writers()
    assert sign_if_due(holder, signer=SIGNER, policy=POLICY, now=T0) is not None
    outcome: list[AuditCheckpoint | None] = []

    def second() -> None:
        with transaction(writers) as session:
            outcome.append(sign_if_due(session, signer=SIGNER, policy=POLICY, now=T0))

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.3)  # PostgreSQL: skipped at once; SQLite: waits for the write lock
    holder.commit()
    holder.close()
    thread.join(10)
    assert outcome == [None]
    assert _checkpoint_sizes(scratch_engine) == [3]


def test_racing_signers_sign_each_size_once(scratch_engine):
    writers = make_session_factory(scratch_engine, writer=True)
    signed: list[int] = []
    errors: list[Exception] = []
    for round_ in range(8):
        with transaction(writers) as session:
            _append(session, 1 + round_ % 3)
        barrier = threading.Barrier(3)

        def race(barrier: threading.Barrier = barrier) -> None:
            barrier.wait(5)
            try:
                with transaction(writers) as session:
                    made = sign_if_due(session, signer=SIGNER, policy=POLICY, now=T0)
            except Exception as exc:  # a duplicate checkpoint would fail here, in the thread
                errors.append(exc)
                return
            if made is not None:
                signed.append(made.tree_size)

        threads = [threading.Thread(target=race) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    sizes = _checkpoint_sizes(scratch_engine)
    assert sorted(signed) == sizes
    assert len(sizes) == len(set(sizes))
    with scratch_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditCheckpoint)) == len(sizes) >= 1


def test_the_signer_loop_signs_new_entries_and_stops(scratch_engine):
    writers = make_session_factory(scratch_engine, writer=True)
    with transaction(writers) as session:
        _append(session, 2)
    stop, signed = threading.Event(), []
    policy = CheckpointPolicy(dt.timedelta(0), max_entries=1000)

    def on_signed(made: AuditCheckpoint) -> None:
        signed.append(made.tree_size)
        stop.set()

    loop = threading.Thread(
        target=run_signer,
        args=(writers,),
        kwargs={
            "signer": SIGNER,
            "policy": policy,
            "stop": stop,
            "clock": lambda: T0,
            "poll_s": 0.01,
            "on_signed": on_signed,
        },
    )
    loop.start()
    loop.join(10)
    assert not loop.is_alive()
    assert signed == [2] == _checkpoint_sizes(scratch_engine)


def test_the_signer_loop_reports_a_failed_round_and_keeps_going(scratch_engine):
    writers = make_session_factory(scratch_engine, writer=True)
    stop, errors, calls = threading.Event(), [], []

    def clock() -> dt.datetime:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("clock went away")
        stop.set()
        return T0

    run_signer(
        writers, signer=SIGNER, policy=POLICY, stop=stop, clock=clock, poll_s=0.01, on_error=errors.append
    )
    assert [type(e) for e in errors] == [RuntimeError] and len(calls) == 2


def test_the_cli_signs_once_and_says_when_nothing_is_new(app, db_session, now):
    runner = app.test_cli_runner()
    _append(db_session, 1, now)
    db_session.commit()
    first = runner.invoke(args=["audit", "checkpoint"])
    assert first.exit_code == 0 and "checkpoint at tree size" in first.output
    again = runner.invoke(args=["audit", "checkpoint"])
    assert again.exit_code == 0 and "nothing new to sign" in again.output


def test_the_cli_refuses_a_bad_interval(app):
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint", "--every", "soon"])
    assert result.exit_code == 2 and "not a duration" in result.output
