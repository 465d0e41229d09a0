"""The outbox worker against a real SMTP sink on loopback (aiosmtpd): delivery, faults (server
down, slow, 4xx, 5xx) with no loss and no duplicate, two workers at once, back-off by injected
time, failure after the last attempt, digests and preferences."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, select

from core.db import make_session_factory
from notifications.delivery import Mailer, SmtpSender, SmtpSettings
from notifications.models import FAILED, PENDING, SENT, SKIPPED, Outbox
from notifications.outbox import CONSENT_REMEMBERED, RELEASE, enqueue, set_preferences
from notifications.sink import SinkHandler, free_port, start_sink
from notifications.worker import Policy, claim, deliver_due
from profile_store.fields import declare
from tests.factories import make_citizen

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
FAST = Policy(lease=dt.timedelta(seconds=60), max_attempts=3, jitter=lambda: 1.0)


@pytest.fixture
def sink():
    controller = start_sink(SinkHandler())
    yield controller
    controller.stop()


def mailer_for(runtime, port: int, *, timeout_s: float = 2.0) -> Mailer:
    def address_of(session, citizen_id):
        from app.notices.wiring import citizen_address

        return citizen_address(runtime, session, citizen_id)

    return Mailer(
        sender=SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", timeout_s=timeout_s)),
        mail_from="Consentry <no-reply@consentry.test>",
        address_of=address_of,
        label_of=lambda name: runtime.catalogue[name].label,
        show_time=lambda moment: moment.isoformat(),
        withdraw_link=lambda consent_id, now: f"http://localhost/citizen/withdraw-link/T-{consent_id}",
        settings_url="http://localhost/citizen/settings/notifications",
    )


def citizen_with_email(session, runtime, address="tan.ah.kow@example.com"):
    citizen = make_citizen(session, runtime.vault, now=NOW)
    declare(
        session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": address},
        now=NOW,
    )
    return citizen


def notice(session, citizen_id: str, *, template=RELEASE, at=NOW, consent_id="c-1") -> Outbox:
    row = enqueue(
        session,
        citizen_id=citizen_id,
        template=template,
        params={
            "app_name": "Housing grant application",
            "agency": "Housing Board",
            "attributes": ["name", "regadd"],
            "consent_id": consent_id,
            "at": at.isoformat(),
            "expires_at": (at + dt.timedelta(days=90)).isoformat(),
        },
        now=at,
    )
    session.flush()
    return row


def ids_in(received) -> list[int]:
    return [int(i) for mail in received for i in mail.message["X-Consentry-Notices"].split(",")]


def test_a_due_notice_is_sent_once_with_text_html_and_the_link(db_session, runtime, sessions, sink):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()

    report = deliver_due(sessions, mailer_for(runtime, sink.port), now=NOW, worker="w1", policy=FAST)

    assert report.sent == 1
    [mail] = sink.handler.received()
    assert mail.rcpt_tos == ["tan.ah.kow@example.com"]
    assert mail.message["Subject"] == "Housing grant application received your details"
    assert "Principal name" in mail.text() and "withdraw-link/T-c-1" in mail.text()
    assert "<li>Registered address</li>" in mail.html()
    db_session.refresh(row)
    assert row.state == SENT and row.sent_at == NOW and row.attempts == 1
    assert deliver_due(sessions, mailer_for(runtime, sink.port), now=NOW, worker="w1").claimed == 0
    assert len(sink.handler.received()) == 1


def test_the_expiry_reminder_says_when_it_ends_and_how_to_stop_sooner(db_session, runtime, sessions, sink):
    citizen = citizen_with_email(db_session, runtime)
    notice(db_session, citizen.id, template="consent_expiring", consent_id="c-9")
    db_session.commit()

    assert deliver_due(sessions, mailer_for(runtime, sink.port), now=NOW, worker="w1", policy=FAST).sent == 1

    [mail] = sink.handler.received()
    assert mail.message["Subject"] == "Your consent for Housing grant application ends soon"
    ends = (NOW + dt.timedelta(days=90)).isoformat()
    assert f"without asking ends on {ends}" in mail.text() and "withdraw-link/T-c-9" in mail.text()
    assert "To stop sharing before then" in mail.text() and "Did not expect this" not in mail.text()
    assert f"ends on {ends}" in mail.html()


def test_the_outbox_holds_no_address_and_no_value(db_session, runtime):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    stored = repr(row.params) + repr(row.__dict__)
    assert "example.com" not in stored


@pytest.mark.parametrize("reply", ["451 4.3.0 try again later", "554 5.7.1 refused"])
def test_a_refusing_server_loses_nothing_backs_off_then_delivers(db_session, runtime, sessions, reply):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()
    handler = SinkHandler(reply=reply)
    controller = start_sink(handler)
    try:
        mailer = mailer_for(runtime, controller.port)
        report = deliver_due(sessions, mailer, now=NOW, worker="w1", policy=FAST)
        assert report.retried == 1 and report.sent == 0
        db_session.refresh(row)
        assert row.state == PENDING and row.last_error == f"smtp_{reply[:3]}"
        assert row.due_at == NOW + FAST.base_delay  # jitter 1.0: the full first delay
        # Not yet due: nothing is tried before the back-off ends.
        assert deliver_due(sessions, mailer, now=NOW + dt.timedelta(seconds=29), worker="w1").claimed == 0
        handler.reply = None
        report = deliver_due(sessions, mailer, now=row.due_at, worker="w1", policy=FAST)
        assert report.sent == 1
    finally:
        controller.stop()
    assert ids_in(handler.received()) == [row.id]
    db_session.refresh(row)
    assert row.state == SENT and row.attempts == 2


def test_a_server_that_is_down_is_retried_then_failed_for_operators(db_session, runtime, sessions):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()
    mailer = mailer_for(runtime, free_port())  # nothing listens: connection refused
    now = NOW
    for attempt in range(1, FAST.max_attempts + 1):
        report = deliver_due(sessions, mailer, now=now, worker="w1", policy=FAST)
        db_session.refresh(row)
        assert row.attempts == attempt and row.last_error == "smtp_down"
        if attempt < FAST.max_attempts:
            assert report.retried == 1 and row.state == PENDING
            assert row.due_at == now + FAST.base_delay * 2 ** (attempt - 1)  # exponential
            now = row.due_at
    assert report.failed == 1 and row.state == FAILED
    assert deliver_due(sessions, mailer, now=now + dt.timedelta(days=1), worker="w1").claimed == 0


def test_back_off_has_jitter_and_a_cap():
    policy = Policy(base_delay=dt.timedelta(seconds=30), max_delay=dt.timedelta(hours=1), jitter=lambda: 0.0)
    assert policy.backoff(1) == dt.timedelta(seconds=15)
    assert policy.backoff(3) == dt.timedelta(seconds=60)
    assert policy.backoff(30) == dt.timedelta(minutes=30)  # half of the cap


def test_a_slow_server_within_the_timeout_delivers_once(db_session, runtime, sessions):
    citizen = citizen_with_email(db_session, runtime)
    rows = [notice(db_session, citizen.id) for _ in range(2)]
    db_session.commit()
    handler = SinkHandler(delay_s=0.5)
    controller = start_sink(handler)
    try:
        report = deliver_due(
            sessions, mailer_for(runtime, controller.port), now=NOW, worker="w1", policy=FAST
        )
    finally:
        controller.stop()
    assert report.sent == 2
    assert sorted(ids_in(handler.received())) == [r.id for r in rows]


def test_a_server_slower_than_the_timeout_is_retried(db_session, runtime, sessions):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()
    controller = start_sink(SinkHandler(delay_s=1.5))
    try:
        report = deliver_due(
            sessions, mailer_for(runtime, controller.port, timeout_s=0.3), now=NOW, worker="w1", policy=FAST
        )
    finally:
        controller.stop()
    assert report.retried == 1
    db_session.refresh(row)
    assert row.state == PENDING and row.last_error == "smtp_timeout"


def test_a_claim_is_leased_and_a_crashed_worker_s_notice_is_retried_after_the_lease(
    db_session, runtime, sessions, sink
):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()
    [claimed] = claim(sessions, worker="crashed", now=NOW, batch=10, lease=FAST.lease)  # then it dies
    assert claimed.id == row.id
    mailer = mailer_for(runtime, sink.port)
    assert (
        deliver_due(sessions, mailer, now=NOW + dt.timedelta(seconds=59), worker="w2", policy=FAST).claimed
        == 0
    )
    report = deliver_due(sessions, mailer, now=NOW + dt.timedelta(seconds=61), worker="w2", policy=FAST)
    assert report.sent == 1 and ids_in(sink.handler.received()) == [row.id]


def test_digest_mode_holds_notices_and_sends_one_mail_per_citizen(db_session, runtime, sessions, sink):
    first = citizen_with_email(db_session, runtime, "first@example.com")
    second = citizen_with_email(db_session, runtime, "second@example.com")
    for citizen in (first, second):
        set_preferences(db_session, citizen_id=citizen.id, mode="digest", skip_own_recent=False, now=NOW)
    rows = [notice(db_session, first.id), notice(db_session, first.id, template=CONSENT_REMEMBERED)]
    rows.append(notice(db_session, second.id))
    db_session.commit()
    mailer = mailer_for(runtime, sink.port)

    report = deliver_due(sessions, mailer, now=NOW, worker="w1", policy=FAST)
    assert report.deferred == 3 and sink.handler.received() == []
    digest_at = dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)
    for row in rows:
        db_session.refresh(row)
        assert row.state == PENDING and row.due_at == digest_at and row.attempts == 0

    report = deliver_due(sessions, mailer, now=digest_at, worker="w1", policy=FAST)
    assert report.sent == 3
    mails = {tuple(m.rcpt_tos): m for m in sink.handler.received()}
    assert set(mails) == {("first@example.com",), ("second@example.com",)}
    assert mails[("first@example.com",)].message["Subject"] == "Your Consentry notices: 2 today"
    assert sorted(ids_in([mails[("first@example.com",)]])) == [rows[0].id, rows[1].id]


def test_off_and_no_address_are_skipped_not_sent(db_session, runtime, sessions, sink):
    quiet = citizen_with_email(db_session, runtime)
    set_preferences(db_session, citizen_id=quiet.id, mode="off", skip_own_recent=False, now=NOW)
    nobody = make_citizen(db_session, runtime.vault, now=NOW)  # no email on file
    rows = [notice(db_session, quiet.id), notice(db_session, nobody.id)]
    db_session.commit()
    report = deliver_due(sessions, mailer_for(runtime, sink.port), now=NOW, worker="w1", policy=FAST)
    assert report.skipped == 2 and sink.handler.received() == []
    errors = []
    for row in rows:
        db_session.refresh(row)
        errors.append((row.state, row.last_error))
    assert errors == [(SKIPPED, "off"), (SKIPPED, "no_address")]


def test_skip_own_recent_skips_a_release_just_after_the_citizen_shared(db_session, runtime, sessions, sink):
    from consent.models import Consent

    citizen = citizen_with_email(db_session, runtime)
    set_preferences(db_session, citizen_id=citizen.id, mode="immediate", skip_own_recent=True, now=NOW)
    from tests.oauth.flow import AgencyKeys, setup_app

    setup_app(db_session, runtime, AgencyKeys(), client_id="notice-app")
    fresh = Consent(
        citizen_id=citizen.id,
        client_id="notice-app",
        purpose_id="grant",
        approved=["name"],
        declined=[],
        remembered=True,
        granted_at=NOW - dt.timedelta(minutes=2),
        expires_at=NOW + dt.timedelta(days=1),
    )
    old = Consent(
        citizen_id=citizen.id,
        client_id="notice-app",
        purpose_id="grant",
        approved=["name"],
        declined=[],
        remembered=True,
        granted_at=NOW - dt.timedelta(days=20),
        expires_at=NOW + dt.timedelta(days=1),
    )
    db_session.add_all([fresh, old])
    db_session.flush()
    own = notice(db_session, citizen.id, consent_id=fresh.id)
    later = notice(db_session, citizen.id, consent_id=old.id)  # a remembered consent used later
    db_session.commit()
    report = deliver_due(sessions, mailer_for(runtime, sink.port), now=NOW, worker="w1", policy=FAST)
    assert report.skipped == 1 and report.sent == 1
    assert ids_in(sink.handler.received()) == [later.id]
    db_session.refresh(own)
    assert own.state == SKIPPED and own.last_error == "own_recent"


def test_two_workers_at_once_under_faults_lose_nothing_and_send_nothing_twice(engine, runtime):
    """Real commits on separate connections (the worker's own transactions): two threads deliver
    the same backlog against a server that first refuses (451), then is slow, while the clock
    moves past each back-off. Every notice arrives exactly once."""
    sessions = make_session_factory(engine, writer=True)
    with sessions() as session:
        citizen = citizen_with_email(session, runtime)
        mine = [notice(session, citizen.id).id for _ in range(20)]
        session.commit()
    handler = SinkHandler(reply="451 4.3.0 busy")
    controller = start_sink(handler)
    mailer = mailer_for(runtime, controller.port)
    policy = Policy(
        lease=dt.timedelta(minutes=5), max_attempts=50, base_delay=dt.timedelta(seconds=1), jitter=lambda: 1.0
    )
    try:

        def run(name: str, now: dt.datetime) -> None:
            deliver_due(sessions, mailer, now=now, worker=name, batch=4, policy=policy)

        now = NOW
        for round_ in range(12):
            if round_ == 2:
                handler.reply, handler.delay_s = None, 0.05
            threads = [threading.Thread(target=run, args=(f"w{i}", now)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            now += dt.timedelta(minutes=1)
    finally:
        controller.stop()
        with sessions() as session:
            states = dict(session.execute(select(Outbox.id, Outbox.state).where(Outbox.id.in_(mine))).all())
            session.execute(delete(Outbox).where(Outbox.citizen_id == citizen.id))
            session.commit()
    delivered = [i for i in ids_in(handler.received()) if i in set(mine)]
    assert sorted(delivered) == sorted(mine), "a notice was lost or sent twice"
    assert set(states.values()) == {SENT}


def test_a_notice_its_workers_keep_dying_on_ends_failed_not_retried_forever(
    db_session, runtime, sessions, sink
):
    citizen = citizen_with_email(db_session, runtime)
    row = notice(db_session, citizen.id)
    db_session.commit()
    now = NOW
    for _ in range(FAST.max_attempts):  # each claim's worker dies before recording anything
        assert len(claim(sessions, worker="dies", now=now, batch=10, lease=FAST.lease, max_attempts=3)) == 1
        now += FAST.lease + dt.timedelta(seconds=1)
    report = deliver_due(sessions, mailer_for(runtime, sink.port), now=now, worker="w2", policy=FAST)
    assert report.claimed == 0 and sink.handler.received() == []
    db_session.refresh(row)
    assert row.state == FAILED and row.last_error == "lease_expired"
