"""AUDIT_INTEGRATION: inline by default, batched on request, anything else refused at start; and
`consentry demo` integrates queued entries in a thread when batched."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select

from app import metrics
from app.auditing import record
from app.config import Config
from app.demo import _start_integrator
from audit.integrator import integrate_batch
from audit.log import BATCHED, Event, append
from audit.models import AuditEntry, AuditQueued
from core.clock import utcnow
from core.errors import ConfigurationError
from tests.app.test_metrics import samples, value


def test_inline_is_the_default_and_batched_is_read_from_the_environment():
    assert Config.from_env({}).audit_integration == "inline"
    batched = Config.from_env({"AUDIT_INTEGRATION": " Batched ", "AUDIT_MAX_MERGE_DELAY_S": "30"})
    assert (batched.audit_integration, batched.audit_max_merge_delay_s) == ("batched", 30.0)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"AUDIT_INTEGRATION": "async"}, "AUDIT_INTEGRATION"),
        ({"AUDIT_INTEGRATE_EVERY_S": "0"}, "AUDIT_INTEGRATE_EVERY_S"),
        ({"AUDIT_INTEGRATE_EVERY_S": "5", "AUDIT_MAX_MERGE_DELAY_S": "2"}, "AUDIT_MAX_MERGE_DELAY_S"),
    ],
)
def test_a_wrong_integration_setting_is_refused_naming_it(environ, named):
    with pytest.raises(ConfigurationError, match=named):
        Config.from_env(environ)


def test_the_demo_integrates_queued_entries_in_the_background(app, db_session):
    rt = app.extensions["consentry"]
    rt.config = rt.config.replace(audit_integration="batched", audit_integrate_every_s=0.05)
    with app.test_request_context():
        entry = record(db_session, Event(kind="admin_action", outcome="demo_check"))
        db_session.commit()
        assert db_session.get(AuditQueued, entry.seq) is not None
        stop = threading.Event()
        _start_integrator(stop)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                db_session.expire_all()
                if db_session.scalar(select(func.count()).select_from(AuditQueued)) == 0:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for thread in threading.enumerate():
                if thread.name == "demo-audit-integrator":
                    thread.join(timeout=5)
    assert db_session.scalar(select(func.count()).select_from(AuditQueued)) == 0
    assert db_session.get(AuditEntry, entry.seq) is not None


def test_metrics_show_the_queue_and_how_long_its_oldest_entry_has_waited(app, db_session):
    rt = app.extensions["consentry"]
    before = samples(metrics.render(rt).decode())
    assert value(before, "consentry_audit_queue_oldest_age_seconds") == 0.0
    append(
        db_session,
        Event(kind="admin_action", outcome="x"),
        now=utcnow() - dt.timedelta(seconds=90),
        integration=BATCHED,
    )
    after = samples(metrics.render(rt).decode())
    assert (
        value(after, "consentry_audit_queued_entries") == value(before, "consentry_audit_queued_entries") + 1
    )
    assert value(after, "consentry_audit_queue_oldest_age_seconds") >= 90
    integrate_batch(db_session)
    assert value(samples(metrics.render(rt).decode()), "consentry_audit_queue_oldest_age_seconds") == 0.0
