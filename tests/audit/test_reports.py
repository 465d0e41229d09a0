"""Auditor reports over known entries (audit.reports), on SQLite and PostgreSQL alike."""

import datetime as dt
import uuid

import pytest

from audit import reports
from audit.log import Event, append

START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def apps():
    return f"app-{uuid.uuid4().hex[:8]}", f"app-{uuid.uuid4().hex[:8]}"


def release(db_session, app_id, at, attributes, asked=None, kind="disclosure", actor=None, citizen="a"):
    details = {}
    if asked is not None:
        details["asked"] = sorted(asked)
    if actor is not None:
        details["actor"] = actor
    event = Event(
        kind=kind,
        citizen_ref=citizen * 64,
        app_id=app_id,
        purpose="loan",
        outcome="released",
        attributes=tuple(attributes),
        details=details or None,
    )
    return append(db_session, event, now=at)


def test_releases_count_each_attribute_per_app_within_the_period(db_session, apps):
    one, two = apps
    release(db_session, one, START + dt.timedelta(hours=1), ["name", "sex"])
    release(db_session, one, START + dt.timedelta(hours=2), ["name"])
    release(db_session, two, START + dt.timedelta(hours=3), ["cpfbalances"])
    release(db_session, one, START + dt.timedelta(days=1), ["name"])  # the end is excluded
    release(db_session, one, START - dt.timedelta(seconds=1), ["name"])  # before the start
    release(db_session, one, START + dt.timedelta(hours=4), ["name"], kind="consent_granted")
    rows = reports.releases(db_session, since=START, until=START + dt.timedelta(days=1))
    mine = [(r.app_id, r.attribute, r.releases) for r in rows if r.app_id in apps]
    assert mine == sorted([(one, "name", 2), (one, "sex", 1), (two, "cpfbalances", 1)])


def test_over_asking_names_what_was_asked_and_never_released(db_session, apps):
    one, two = apps
    at = START + dt.timedelta(hours=1)
    release(db_session, one, at, ["name"], asked=["openid", "name", "sex", "cpfbalances.oa"])
    release(db_session, one, at, ["name", "sex"], asked=["name", "sex"])
    release(db_session, two, at, ["name"], asked=["name"])  # used everything it asked for
    release(db_session, two, at, ["name"])  # an older entry without `asked`
    rows = {
        r.app_id: r for r in reports.over_asking(db_session, since=START, until=START + dt.timedelta(days=1))
    }
    assert two not in rows
    assert rows[one].unused == ("cpfbalances",)
    assert rows[one].asked == ("cpfbalances", "name", "sex") and rows[one].disclosures == 2


def test_an_hour_far_above_the_apps_own_week_is_unusual(db_session, apps):
    one, two = apps
    burst = START + dt.timedelta(days=8, hours=10)
    for day in range(1, 8):  # one release an hour at 10:00 on each of the previous 7 days
        release(db_session, one, burst - dt.timedelta(days=day), ["name"])
    for minute in range(12):
        release(db_session, one, burst + dt.timedelta(minutes=minute), ["name"])
    for minute in range(4):  # below the minimum: not news
        release(db_session, two, burst + dt.timedelta(minutes=minute), ["name"])
    found = reports.unusual_volumes(
        db_session, since=burst - dt.timedelta(days=1), until=burst + dt.timedelta(days=1)
    )
    mine = [u for u in found if u.app_id in apps]
    assert [(u.app_id, u.hour, u.releases) for u in mine] == [(one, burst, 12)]
    assert mine[0].mean == pytest.approx(7 / 168, abs=0.01) and mine[0].threshold < 12


def test_a_steady_app_is_not_unusual(db_session, apps):
    one, _ = apps
    for hour in range(24 * 9):
        for _n in range(6):
            release(db_session, one, START + dt.timedelta(hours=hour, minutes=_n), ["name"])
    since = START + dt.timedelta(days=8)
    found = reports.unusual_volumes(db_session, since=since, until=since + dt.timedelta(days=1))
    assert [u for u in found if u.app_id == one] == []


def test_staff_lookups_are_grouped_by_the_member_of_staff(db_session):
    alice, bob = f"staff:{uuid.uuid4()}", f"staff:{uuid.uuid4()}"
    at = START + dt.timedelta(hours=1)
    for citizen in "abca":
        release(db_session, None, at, [], kind="staff_lookup", actor=alice, citizen=citizen)
    release(db_session, None, at, [], kind="staff_lookup", actor=bob, citizen="d")
    release(db_session, None, at, ["name"], kind="staff_reveal", actor=bob, citizen="d")
    rows = {
        r.actor: r for r in reports.staff_lookups(db_session, since=START, until=START + dt.timedelta(days=1))
    }
    assert (rows[alice].lookups, rows[alice].citizens) == (4, 3)
    assert (rows[bob].lookups, rows[bob].citizens) == (1, 1)
