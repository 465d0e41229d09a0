"""The outbox worker: claim due notices, apply the citizen's preferences, send, record.

Claiming is atomic and leased. On PostgreSQL the due rows are selected `FOR UPDATE SKIP LOCKED`
and marked `sending` with `claimed_by` and `claimed_until` in one short transaction, so two
workers never claim one row; on SQLite the same transaction is a writer (BEGIN IMMEDIATE), which
serialises claims. The mail goes out after that commit, and the outcome is recorded only while
the claim is still the worker's. A worker that dies mid-send leaves its rows `sending`; once the
lease ends another worker claims them again. That is at-least-once at the SMTP boundary: a mail
the server accepted just before the crash is sent again (with the same Message-ID, so a mail
client may fold the two). The lease must outlast a send (it is several SMTP timeouts).

Failures (server down, slow past the timeout, 4xx or 5xx) retry with exponential back-off and
full jitter, up to `max_attempts` claims, then the notice is `failed` with its last reason code,
for operators (`consentry notifications failed`). Nothing is lost: a notice leaves the table's
pending states only as sent, skipped (the citizen chose so, or has no address) or failed.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from consent.models import Consent

from .delivery import Mailer, Notice, SendError, build_message
from .models import (
    DIGEST,
    FAILED,
    OFF,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    WEBHOOK,
    NotificationPreference,
    Outbox,
)
from .outbox import RELEASE
from .webhooks import Webhooks


@dataclass(frozen=True)
class Policy:
    lease: dt.timedelta = dt.timedelta(seconds=120)
    max_attempts: int = 8
    base_delay: dt.timedelta = dt.timedelta(seconds=30)
    max_delay: dt.timedelta = dt.timedelta(hours=6)
    # "Not for releases I made myself a moment ago": a release within this long of the consent
    # the citizen gave on the consent screen.
    own_recent: dt.timedelta = dt.timedelta(minutes=10)
    digest_hour_utc: int = 0  # 08:00 in Singapore
    jitter: Callable[[], float] = field(default=random.random)

    def backoff(self, attempts: int) -> dt.timedelta:
        """Full jitter (AWS architecture blog): uniform in [half, all] of base * 2^(n-1), capped."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempts - 1, 0)))
        return ceiling * (0.5 + 0.5 * self.jitter())

    def next_digest(self, after: dt.datetime) -> dt.datetime:
        """The first digest time strictly after `after`."""
        at = after.astimezone(dt.UTC).replace(hour=self.digest_hour_utc, minute=0, second=0, microsecond=0)
        return at if at > after else at + dt.timedelta(days=1)


@dataclass
class Report:
    sent: int = 0  # notices (a digest counts each of its notices)
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0  # held for the citizen's daily digest
    claimed: int = 0


def deliver_due(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    *,
    now: dt.datetime,
    worker: str,
    batch: int = 50,
    policy: Policy | None = None,
    webhooks: Webhooks | None = None,
) -> Report:
    """Deliver up to `batch` due notices: mails to citizens by `mailer`, apps' events by
    `webhooks` (without it, events wait and retry). `sessions` must open writer transactions on
    SQLite (Runtime.writer_sessions). Commits its own short transactions: claim, then one per
    outcome; never holds a transaction across an SMTP or HTTP call. Safe in several processes."""
    policy = policy or Policy()
    report = Report()
    claimed = claim(
        sessions, worker=worker, now=now, batch=batch, lease=policy.lease, max_attempts=policy.max_attempts
    )
    report.claimed = len(claimed)
    if not claimed:
        return report
    events = [n for n in claimed if n.kind == WEBHOOK]
    with sessions() as session:
        plans = _plan(session, mailer, [n for n in claimed if n.kind != WEBHOOK], now=now, policy=policy)
        for notice in events:
            url = webhooks.url_of(session, notice.params["client_id"]) if webhooks else None
            if webhooks is None:
                plans.calls.append((notice, None))
            elif url is None:
                plans.skipped["no_webhook"].append(notice.id)
            else:
                plans.calls.append((notice, url))
        session.rollback()
    for to, language, notices in plans.mails:
        _send(
            sessions,
            notices,
            partial(_mail, mailer, notices, to=to, now=now, language=language),
            worker=worker,
            now=now,
            policy=policy,
            report=report,
        )
    for notice, url in plans.calls:
        _send(
            sessions,
            [notice],
            partial(_call, webhooks, notice, url, now=now),
            worker=worker,
            now=now,
            policy=policy,
            report=report,
        )
    for reason, ids in plans.skipped.items():
        _finish(sessions, ids, worker=worker, state=SKIPPED, now=now, error=reason)
        report.skipped += len(ids)
    for due_at, ids in plans.deferred.items():
        _defer(sessions, ids, worker=worker, due_at=due_at)
        report.deferred += len(ids)
    return report


def _mail(
    mailer: Mailer, notices: Sequence[Notice], *, to: str, now: dt.datetime, language: str | None
) -> None:
    mailer.sender.send(build_message(mailer, notices, to=to, now=now, language=language))


def _call(webhooks: Webhooks | None, notice: Notice, url: str | None, *, now: dt.datetime) -> None:
    if webhooks is None or url is None:
        raise SendError("webhooks_off")  # this worker cannot sign: another (or a restart) will
    webhooks.deliver(notice, url, now=now)


def _send(
    sessions: sessionmaker[Session],
    notices: Sequence[Notice],
    send: Callable[[], None],
    *,
    worker: str,
    now: dt.datetime,
    policy: Policy,
    report: Report,
) -> None:
    """Send once; record sent, or back off (or fail, attempts used up) with the reason code."""
    try:
        send()
    except SendError as exc:
        retried, failed = _record_failure(sessions, notices, exc.code, worker=worker, now=now, policy=policy)
        report.retried += retried
        report.failed += failed
    else:
        _finish(sessions, [n.id for n in notices], worker=worker, state=SENT, now=now)
        report.sent += len(notices)


def claim(
    sessions: sessionmaker[Session],
    *,
    worker: str,
    now: dt.datetime,
    batch: int,
    lease: dt.timedelta,
    max_attempts: int | None = None,
) -> list[Notice]:
    """Atomically take up to `batch` due notices (pending and due, or sending with an ended
    lease) for `worker` until `now + lease`, counting the attempt. A notice whose lease ended
    with its attempts used up (its workers kept dying on it) becomes `failed` instead. Commits."""
    due = or_(
        and_(Outbox.state == PENDING, Outbox.due_at <= now),
        and_(Outbox.state == SENDING, Outbox.claimed_until < now),
    )
    query = select(Outbox).where(due).order_by(Outbox.due_at, Outbox.id).limit(batch)
    with sessions() as session:
        rows = []
        for row in session.scalars(query.with_for_update(skip_locked=True)):
            if row.state == SENDING and max_attempts is not None and row.attempts >= max_attempts:
                row.state, row.last_error, row.claimed_until = FAILED, "lease_expired", None
                continue
            row.state, row.claimed_by, row.claimed_until = SENDING, worker, now + lease
            row.attempts += 1
            rows.append(row)
        session.commit()
        return [
            Notice(r.id, r.citizen_id, r.template, dict(r.params), r.created_at, r.due_at, r.attempts, r.kind)
            for r in rows
        ]


@dataclass
class _Plans:
    mails: list[tuple[str, str | None, list[Notice]]] = field(default_factory=list)  # to, language
    calls: list[tuple[Notice, str | None]] = field(default_factory=list)  # apps' webhooks
    skipped: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    deferred: dict[dt.datetime, list[int]] = field(default_factory=lambda: defaultdict(list))


def _plan(
    session: Session, mailer: Mailer, notices: Sequence[Notice], *, now: dt.datetime, policy: Policy
) -> _Plans:
    """What to do with each claimed notice, by its citizen's preferences (read now, so a change
    applies to notices already waiting): send alone, group into a digest, hold for the digest,
    or skip; and the language each mail is written in."""
    citizens = {n.citizen_id for n in notices}
    prefs = {
        p.citizen_id: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.citizen_id.in_(citizens))
        )
    }
    granted = _consent_times(session, notices)
    plans, digests = _Plans(), defaultdict(list)
    for notice in notices:
        pref = prefs.get(notice.citizen_id)
        if pref is not None and pref.mode == OFF:
            plans.skipped["off"].append(notice.id)
        elif pref is not None and pref.skip_own_recent and _own_recent(notice, granted, policy):
            plans.skipped["own_recent"].append(notice.id)
        elif pref is not None and pref.mode == DIGEST:
            digest_at = policy.next_digest(notice.created_at)
            if notice.due_at < digest_at:
                plans.deferred[digest_at].append(notice.id)
            else:
                digests[notice.citizen_id].append(notice)
        else:
            digests[(notice.citizen_id, notice.id)].append(notice)  # alone
    for key, group in digests.items():
        citizen_id = key if isinstance(key, str) else key[0]
        address = mailer.address_of(session, citizen_id)
        if address is None:
            plans.skipped["no_address"].extend(n.id for n in group)
        else:
            pref = prefs.get(citizen_id)
            plans.mails.append((address, pref.language if pref is not None else None, group))
    return plans


def _consent_times(session: Session, notices: Sequence[Notice]) -> dict[str, dt.datetime]:
    ids = {n.params["consent_id"] for n in notices if n.template == RELEASE and n.params.get("consent_id")}
    if not ids:
        return {}
    rows = session.execute(select(Consent.id, Consent.granted_at).where(Consent.id.in_(ids)))
    return {consent_id: granted_at for consent_id, granted_at in rows}


def _own_recent(notice: Notice, granted: dict[str, dt.datetime], policy: Policy) -> bool:
    at = granted.get(notice.params.get("consent_id", "")) if notice.template == RELEASE else None
    return at is not None and notice.created_at - at <= policy.own_recent


def _mine(ids: Sequence[int], worker: str):
    return and_(Outbox.id.in_(ids), Outbox.claimed_by == worker, Outbox.state == SENDING)


def _finish(
    sessions: sessionmaker[Session],
    ids: Sequence[int],
    *,
    worker: str,
    state: str,
    now: dt.datetime,
    error: str | None = None,
) -> None:
    with sessions() as session:
        session.execute(
            update(Outbox)
            .where(_mine(ids, worker))
            .values(state=state, sent_at=now if state == SENT else None, last_error=error, claimed_until=None)
        )
        session.commit()


def _defer(sessions: sessionmaker[Session], ids: Sequence[int], *, worker: str, due_at: dt.datetime) -> None:
    """Hold for the digest: pending again at the digest time; the claim was not an attempt."""
    with sessions() as session:
        session.execute(
            update(Outbox)
            .where(_mine(ids, worker))
            .values(
                state=PENDING,
                due_at=due_at,
                claimed_by=None,
                claimed_until=None,
                attempts=Outbox.attempts - 1,
            )
        )
        session.commit()


def _record_failure(
    sessions: sessionmaker[Session],
    notices: Sequence[Notice],
    code: str,
    *,
    worker: str,
    now: dt.datetime,
    policy: Policy,
) -> tuple[int, int]:
    """Back off, or fail a notice whose attempts are used up. Returns (retried, failed)."""
    retried = failed = 0
    with sessions() as session:
        for notice in notices:
            values: dict = {"last_error": code[:200], "claimed_until": None}
            if notice.attempts >= policy.max_attempts:
                values["state"], failed = FAILED, failed + 1
            else:
                values.update(state=PENDING, claimed_by=None, due_at=now + policy.backoff(notice.attempts))
                retried += 1
            session.execute(update(Outbox).where(_mine([notice.id], worker)).values(**values))
        session.commit()
    return retried, failed


def failed_notices(session: Session, *, limit: int = 100) -> list[Outbox]:
    """The notices that used up their attempts, newest first (for operators). Reads only."""
    query = select(Outbox).where(Outbox.state == FAILED).order_by(Outbox.created_at.desc()).limit(limit)
    return list(session.scalars(query))


def retry_failed(session: Session, *, now: dt.datetime) -> int:
    """Put every failed notice back in the queue, due now, attempts reset (flushed). Returns how many."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.state == FAILED)
        .values(state=PENDING, due_at=now, attempts=0, claimed_by=None)
    )
    return result.rowcount


def run_worker(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    *,
    worker: str,
    every: dt.timedelta,
    stop: threading.Event,
    clock: Callable[[], dt.datetime],
    batch: int = 50,
    policy: Policy | None = None,
    on_report: Callable[[Report], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    webhooks: Webhooks | None = None,
    chores: Callable[[dt.datetime], None] | None = None,
) -> None:
    """Run `chores`, then deliver due notices, until `stop` is set: again at once while a batch
    came back full, else after `every`. An error (the database away) is reported and retried
    next round."""
    while not stop.is_set():
        try:
            if chores is not None:  # e.g. the expiry sweep, whose notices this round then sends
                chores(clock())
            report = deliver_due(
                sessions, mailer, now=clock(), worker=worker, batch=batch, policy=policy, webhooks=webhooks
            )
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
            stop.wait(every.total_seconds())
            continue
        if on_report is not None and report.claimed:
            on_report(report)
        if report.claimed < batch:
            stop.wait(every.total_seconds())
