"""Reports over the audit log for auditors: releases per app and attribute, apps that asked for
more than they used, unusual hourly volumes per app, and staff lookups per member of staff.

Each report covers a period `[since, until)` (UTC instants; the caller turns the auditor's dates
in the display time zone into them) and reads only: it runs inside the caller's transaction and
never writes. Grouping is done by the database where the columns allow it (releases, hourly
volumes, lookups); what lives only in an entry's canonical body (`asked`, the staff actor) is read
from the body of the period's entries of one kind, found through `ix_audit_entries_kind_time`.
Results name apps by `app_id`, attributes by name and staff by actor (`staff:<id>`): turning those
into names people read is the caller's business.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from .models import AuditEntry, AuditEntryAttribute

HOUR = dt.timedelta(hours=1)
BASELINE = dt.timedelta(days=7)  # an app's own history that an hour is compared with
SIGMAS = 3  # an hour is unusual above the baseline's mean + 3 standard deviations ...
MIN_UNUSUAL = 5  # ... and only with at least this many releases (3 after a quiet week is not news)
MAX_PERIOD = dt.timedelta(days=366)
_BODY_BATCH = 1000


@dataclass(frozen=True)
class Released:
    app_id: str
    attribute: str
    releases: int  # disclosure entries naming the attribute


def releases(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[Released]:
    """How many disclosures released each attribute to each app in the period, by app then
    attribute. One aggregate: disclosures by kind and time (ix_audit_entries_kind_time), joined on
    their attributes, which are first bounded to the seq range of those disclosures so the join
    reads a range of their primary key, not the whole table."""
    disclosures = (_window(since, until), AuditEntry.kind == "disclosure", AuditEntry.app_id.is_not(None))
    seqs = AuditEntry.seq + 0  # read from the kind/time index, not by walking the primary key
    low, high = session.execute(select(func.min(seqs), func.max(seqs)).where(*disclosures)).one()
    if low is None:
        return []
    count = func.count()
    query = (
        select(AuditEntry.app_id, AuditEntryAttribute.attribute, count)
        .join(AuditEntryAttribute, AuditEntryAttribute.seq == AuditEntry.seq)
        .where(*disclosures, AuditEntryAttribute.seq.between(low, high))
        .group_by(AuditEntry.app_id, AuditEntryAttribute.attribute)
        .order_by(AuditEntry.app_id, AuditEntryAttribute.attribute)
    )
    return [Released(app_id, attribute, n) for app_id, attribute, n in session.execute(query)]


@dataclass(frozen=True)
class OverAsked:
    app_id: str
    disclosures: int
    asked: tuple[str, ...]  # every attribute the app asked for in the period
    unused: tuple[str, ...]  # asked for, and never released to it in the period


def over_asking(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[OverAsked]:
    """Apps that asked for more than they used: of the attributes an app's calls asked for (the
    disclosure's `details.asked`, the scope values requested), those never released to it in the
    period (declined by the citizen or not held). A dotted scope (`cpfbalances.oa`) counts as its
    attribute. Only apps with at least one unused attribute, by app; disclosures recorded before
    `asked` was recorded count for nothing."""
    asked: dict[str, set[str]] = defaultdict(set)
    used: dict[str, set[str]] = defaultdict(set)
    calls: dict[str, int] = defaultdict(int)
    for app_id, body in _bodies(session, "disclosure", since, until):
        if app_id is None:
            continue
        calls[app_id] += 1
        details = body.get("details") or {}
        asked[app_id].update(str(s).split(".", 1)[0] for s in details.get("asked") or () if s != "openid")
        used[app_id].update(body.get("attributes") or ())
    report = []
    for app_id in sorted(asked):
        if unused := asked[app_id] - used[app_id]:
            report.append(
                OverAsked(app_id, calls[app_id], tuple(sorted(asked[app_id])), tuple(sorted(unused)))
            )
    return report


@dataclass(frozen=True)
class UnusualHour:
    app_id: str
    hour: dt.datetime  # the hour's start, UTC
    releases: int
    mean: float  # the app's hourly mean over the 7 days before that hour (quiet hours count as 0)
    threshold: float  # mean + 3 standard deviations


def unusual_volumes(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[UnusualHour]:
    """Hours of the period in which an app's disclosures exceeded its own history: more than the
    mean + 3 standard deviations of its hourly counts over the 7 days (168 hours, quiet ones
    counting 0) before that hour, and at least MIN_UNUSUAL releases. Newest first; every hour
    that overlaps the period counts. The database counts per
    app and hour; the baselines are computed here from those counts."""
    first = _hour_floor(since)
    start, end = first - BASELINE, _hour_floor(until - dt.timedelta(microseconds=1)) + HOUR
    hour = _hour_bucket(session)
    query = (
        select(AuditEntry.app_id, hour, func.count())
        .where(_window(start, end), AuditEntry.kind == "disclosure", AuditEntry.app_id.is_not(None))
        .group_by(AuditEntry.app_id, hour)
    )
    counts: dict[str, dict[dt.datetime, int]] = defaultdict(dict)
    for app_id, bucket, n in session.execute(query):
        counts[app_id][_as_hour(bucket)] = n
    hours = int(BASELINE / HOUR)
    found = []
    for app_id, per_hour in counts.items():
        for moment, n in per_hour.items():
            if not first <= moment < until or n < MIN_UNUSUAL:
                continue
            history = [per_hour.get(moment - HOUR * k, 0) for k in range(1, hours + 1)]
            mean = sum(history) / hours
            spread = math.sqrt(sum((x - mean) ** 2 for x in history) / hours)
            threshold = mean + SIGMAS * spread
            if n > threshold:
                found.append(UnusualHour(app_id, moment, n, round(mean, 2), round(threshold, 2)))
    return sorted(found, key=lambda u: (u.hour, u.app_id), reverse=True)


@dataclass(frozen=True)
class StaffLookups:
    actor: str  # `staff:<id>` (or whatever the entry recorded as its actor)
    lookups: int
    citizens: int  # distinct citizens looked up


def staff_lookups(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[StaffLookups]:
    """Citizen look-ups (`staff_lookup` entries) per member of staff in the period: how many, and
    of how many different citizens; most look-ups first."""
    lookups: dict[str, int] = defaultdict(int)
    citizens: dict[str, set[str]] = defaultdict(set)
    for citizen_ref, body in _bodies(session, "staff_lookup", since, until, column=AuditEntry.citizen_ref):
        actor = str((body.get("details") or {}).get("actor") or "unknown")
        lookups[actor] += 1
        if citizen_ref:
            citizens[actor].add(citizen_ref)
    rows = [StaffLookups(actor, n, len(citizens[actor])) for actor, n in lookups.items()]
    return sorted(rows, key=lambda r: (-r.lookups, r.actor))


def _window(since: dt.datetime, until: dt.datetime) -> ColumnElement[bool]:
    return (AuditEntry.recorded_at >= since) & (AuditEntry.recorded_at < until)


def _bodies(
    session: Session, kind: str, since: dt.datetime, until: dt.datetime, *, column=AuditEntry.app_id
) -> Iterator[tuple[str | None, dict]]:
    """(column, parsed body) of the period's entries of `kind`, streamed in batches."""
    query = (
        select(column, AuditEntry.body)
        .where(AuditEntry.kind == kind, _window(since, until))
        .execution_options(yield_per=_BODY_BATCH)
    )
    for value, body in session.execute(query):
        yield value, json.loads(body)


def _hour_bucket(session: Session) -> ColumnElement:
    """The start of an entry's UTC hour, computed by the database (so it can group by it)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", AuditEntry.recorded_at))
    return func.strftime("%Y-%m-%d %H:00:00", AuditEntry.recorded_at)  # SQLite stores UTC text


def _as_hour(bucket: dt.datetime | str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(bucket) if isinstance(bucket, str) else bucket
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
