"""AUDIT_INTEGRATION: inline by default, batched on request, anything else refused at start; and
`consentry demo` integrates queued entries in a thread when batched."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from app.auditing import record
from app.config import Config
from app.demo import _start_integrator
from audit.log import Event
from audit.models import AuditEntry, AuditQueued
from core.errors import ConfigurationError


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
