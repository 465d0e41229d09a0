# ruff: noqa: F811  (pytest fixtures imported from the lifecycle tests, then taken as parameters)
"""How standing consents end (consent.expiry): which are due a reminder and which have expired
unrecorded, each handed out once. Results are filtered to this test's citizen: other tests'
live servers commit consents into the same database."""

import datetime as dt

from consent.consents import revoke_consent
from consent.expiry import REMIND_AHEAD, due_reminders, mark_expiry_recorded, mark_reminded, newly_expired
from consent.lifecycle import pause

# The lifecycle tests' fixtures (a registered app, its purpose, a citizen), shared by import.
from tests.consent.test_lifecycle import app, citizen, give, purpose  # noqa: F401

DAY = dt.timedelta(days=1)


def mine(consents, citizen):
    return [c.id for c in consents if c.citizen_id == citizen.id]


def test_reminders_are_due_fourteen_days_before_the_end_once(db_session, citizen, app, purpose, now):
    soon = give(db_session, citizen, app, purpose, now, remember=20 * DAY)
    later = give(db_session, citizen, app, purpose, now, remember=40 * DAY)
    give(db_session, citizen, app, purpose, now, remember=None)  # this request only: no reminder
    paused = give(db_session, citizen, app, purpose, now, remember=20 * DAY)
    pause(db_session, paused, now=now)
    gone = give(db_session, citizen, app, purpose, now, remember=20 * DAY)
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=gone.id, now=now)

    assert REMIND_AHEAD == 14 * DAY
    assert mine(due_reminders(db_session, now=now), citizen) == []
    at = now + 6 * DAY + dt.timedelta(hours=1)  # 13 days 23 hours before `soon` ends
    due = due_reminders(db_session, now=at)
    assert mine(due, citizen) == [soon.id]
    mark_reminded(db_session, due, now=at)
    assert mine(due_reminders(db_session, now=at + DAY), citizen) == []
    assert mine(due_reminders(db_session, now=now + 27 * DAY), citizen) == [later.id]
    assert mine(due_reminders(db_session, now=now + 41 * DAY), citizen) == []  # ended: too late


def test_expired_standing_consents_are_recorded_once_paused_or_not(db_session, citizen, app, purpose, now):
    plain = give(db_session, citizen, app, purpose, now, remember=10 * DAY)
    paused = give(db_session, citizen, app, purpose, now, remember=10 * DAY)
    pause(db_session, paused, now=now)
    give(db_session, citizen, app, purpose, now, remember=None)
    withdrawn = give(db_session, citizen, app, purpose, now, remember=10 * DAY)
    revoke_consent(db_session, citizen_id=citizen.id, consent_id=withdrawn.id, now=now)
    give(db_session, citizen, app, purpose, now, remember=30 * DAY)

    assert mine(newly_expired(db_session, now=now + 9 * DAY), citizen) == []
    ended = newly_expired(db_session, now=now + 10 * DAY)
    assert sorted(mine(ended, citizen)) == sorted([plain.id, paused.id])
    mark_expiry_recorded(db_session, ended, now=now + 10 * DAY)
    assert mine(newly_expired(db_session, now=now + 11 * DAY), citizen) == []
