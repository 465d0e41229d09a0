"""The product's batched audit append (AUDIT_INTEGRATION=batched, audit/integrator.py) under the
same load as bench/audit_append.py's locked append: writers call `audit.log.append(...,
integration="batched")`, one transaction per release, while one integrator thread runs
`integrate_batch` in a loop, as `consentry audit integrate --every` does. At the end the queue is
drained and the whole log verified with `audit.verify.verify_log` (leaves, tree, chain, queue).

Run after the inline settings on the same database: the first batched entry sets
`audit_head.leaves_from` for good.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import create_engine, select

from app.config import DEMO_AUDIT_SIGNING_KEY
from audit.integrator import BATCH, integrate_batch
from audit.log import BATCHED, append
from audit.models import AuditEntry, AuditLeaf
from audit.signer import AuditSigner
from audit.tree import create_checkpoint, tree_size
from audit.verify import verify_log
from core.db import make_session_factory, transaction

from .audit_load import MAX_PER_SETTING, disclosure_event
from .audit_writers import run_writers
from .common import Row, log

PERIOD_S = 0.05  # the integrator's wait when it found less than a full batch


class _Integrator(threading.Thread):
    def __init__(self, sessions) -> None:
        super().__init__(daemon=True)
        self.sessions, self.stop = sessions, threading.Event()
        self.integrated, self.batches, self.busy_s = 0, 0, 0.0
        self.lags: list[float] = []  # per entry: integration commit minus recorded_at
        self.error: str | None = None

    def run(self) -> None:
        try:
            while True:
                began = time.perf_counter()
                with transaction(self.sessions) as session:
                    before = tree_size(session)
                    done = integrate_batch(session, limit=BATCH)
                    recorded = (
                        session.scalars(
                            select(AuditEntry.recorded_at)
                            .join(AuditLeaf, AuditLeaf.seq == AuditEntry.seq)
                            .where(AuditLeaf.leaf_index >= before)
                        ).all()
                        if done
                        else []
                    )
                committed = dt.datetime.now(dt.UTC)
                self.busy_s += time.perf_counter() - began
                self.lags.extend((committed - at).total_seconds() for at in recorded)
                self.integrated += done
                self.batches += 1 if done else 0
                if done < BATCH:
                    if self.stop.is_set() and done == 0:
                        return
                    time.sleep(PERIOD_S)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]


def run_product(url: str, writers: int, seconds: float) -> Row:
    engine = create_engine(url, pool_size=writers + 2, max_overflow=0, pool_timeout=60)
    sessions = make_session_factory(engine, writer=True)
    log(
        f"audit-scale: product batched append (AUDIT_INTEGRATION=batched), {writers} writers, {seconds:.0f} s"
    )

    def write(n: int) -> None:
        with sessions() as session, session.begin():
            now = dt.datetime.now(dt.UTC)
            append(session, disclosure_event(n), now=now, request_id=f"r{n}", integration=BATCHED)

    integrator = _Integrator(sessions)
    try:
        return run_writers(
            title=f"audit append, product batched (AUDIT_INTEGRATION=batched), {writers} writers (entry + "
            "attributes + queue row per release; one integrator thread)",
            writers=writers,
            seconds=seconds,
            write=write,
            first=10_000_000,
            cap=MAX_PER_SETTING,
            integrator=integrator,
            stop=integrator.stop,
            drain_timeout=300,
            check=lambda: _check(sessions),
            ok="log OK",
        )
    finally:
        engine.dispose()


def _check(sessions) -> str:
    """The whole log as `consentry audit verify` checks it (after a checkpoint of the drained log)."""
    signer = AuditSigner.from_pem("bench", DEMO_AUDIT_SIGNING_KEY)
    with transaction(sessions) as session:
        create_checkpoint(session, signer=signer, now=dt.datetime.now(dt.UTC))
        report = verify_log(session, public_key=signer.public_key)
    if not report.ok:
        return f"NOT OK: {report.first}"
    return f"log OK ({report.entries:,} leaves verified, queue empty)"
