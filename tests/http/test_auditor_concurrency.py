"""Auditor pages while releases are being written, over real HTTP on the test database (a file on
SQLite): every auditor page appends to the log before it shows anything, and a page whose
session had started as a reader could not take the write lock once a release had committed in
between ("database is locked", a 500). Now each opens its session as a writer."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import Counter

import httpx
import pytest
from argon2 import PasswordHasher, profiles

from audit.log import Event, append
from audit.tree import create_checkpoint
from tests.factories import fresh_uinfin, make_staff

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = (
    "/auditor/",
    "/auditor/?kind=disclosure",
    "/auditor/status",
    "/auditor/entries/1",
    "/auditor/export?format=csv&kind=disclosure&from=2999-01-01",
    "/auditor/export/checkpoint",
    "/auditor/export/public-key",
)


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    monkeypatch.setattr("identity.staff._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def auditor(live) -> httpx.Client:
    """An auditor (staff with the auditor role) committed for real and signed in to the live server."""
    rt = live.app.extensions["consentry"]
    now = dt.datetime.now(dt.UTC)
    with rt.writer_sessions() as session:
        staff = make_staff(session, rt.config.secret_key, roles=("auditor",), password=PASSWORD)
        append(session, Event(kind="disclosure", app_id="concurrency"), now=now)
        create_checkpoint(session, signer=rt.audit_signer, now=now)
        session.commit()
    client = httpx.Client(base_url=live.url, timeout=20)  # a stuck lock fails, not hangs
    token = CSRF.search(client.get("/staff/sign-in").text).group(1)
    form = {"csrf_token": token, "username": staff.username, "password": PASSWORD, "code": staff.next_code()}
    assert client.post("/staff/sign-in", data=form).status_code == 303
    yield client
    client.close()


def test_auditor_pages_work_while_releases_are_written(live, auditor):
    rt = live.app.extensions["consentry"]
    stop, written, errors = threading.Event(), Counter(), []

    def write_releases() -> None:
        # As the person endpoint does: each release's audit entry in a writer transaction.
        while not stop.is_set():
            try:
                with rt.writer_sessions() as session:
                    event = Event(
                        kind="disclosure",
                        citizen_ref=rt.vault.digest_uinfin(fresh_uinfin()),
                        app_id="concurrency",
                        outcome="released",
                        attributes=("name",),
                    )
                    append(session, event, now=dt.datetime.now(dt.UTC))
                    session.commit()
                written["releases"] += 1
            except Exception as exc:  # the writers must not be the ones failing
                errors.append(repr(exc))
            time.sleep(0.002)

    statuses: Counter[tuple[str, int]] = Counter()

    def load_pages(client: httpx.Client) -> None:
        for _ in range(6):
            for path in PAGES:
                statuses[path, client.get(path).status_code] += 1

    writers = [threading.Thread(target=write_releases) for _ in range(2)]
    for thread in writers:
        thread.start()
    try:
        readers = [threading.Thread(target=load_pages, args=(auditor,)) for _ in range(3)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join()
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert not errors, errors[:3]
    assert written["releases"] > 10, "releases were being written all along"
    failed = {key: n for key, n in statuses.items() if key[1] != 200}
    assert not failed, failed
