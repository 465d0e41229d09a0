"""`consentry demo`'s additions for every role: the demo staff (tests/app/test_staff_cli.py signs
them in) and the checkpoint signer thread, so the auditor's proofs work on the first visit."""

from __future__ import annotations

import threading
import time

from app.auditing import record
from app.demo import _start_checkpoint_signer
from audit.log import Event
from audit.tree import latest_checkpoint, tree_size


def test_the_demo_signs_a_checkpoint_in_the_background_and_stops(app, db_session):
    with app.test_request_context():
        record(db_session, Event(kind="admin_action", outcome="demo_check"))
        db_session.commit()
        size = tree_size(db_session)
        stop = _start_checkpoint_signer()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                db_session.expire_all()
                made = latest_checkpoint(db_session)
                if made is not None and made.tree_size >= size:
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threading.enumerate():
                if thread.name == "demo-checkpoint-signer":
                    thread.join(timeout=5)
    assert made is not None and made.tree_size >= size
