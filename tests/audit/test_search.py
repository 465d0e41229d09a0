import datetime as dt

import pytest

from audit.log import Event, append
from audit.search import Filters, citizen_history, search
from core.errors import ValidationFailed


@pytest.fixture
def entries(db_session, now):
    made = []
    for n in range(30):
        event = Event(
            kind="disclosure" if n % 5 else "consent_granted",
            citizen_ref=("a" if n % 2 else "b") * 64,
            app_id=f"app-{n % 3}",
            purpose="loan",
            outcome="released",
            attributes=("name", "cpfbalances") if n % 4 == 0 else ("name",),
        )
        made.append(append(db_session, event, now=now + dt.timedelta(minutes=n)))
    return made


def collect(db_session, filters, limit):
    seen, cursor = [], None
    while True:
        page = search(db_session, filters, cursor=cursor, limit=limit)
        seen += [e.seq for e in page.entries]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_keyset_pages_cover_every_match_once_newest_first(db_session, entries):
    mine = {e.seq for e in entries if e.app_id == "app-1"}
    seqs = collect(db_session, Filters(app_id="app-1", since=entries[0].recorded_at), limit=3)
    assert set(seqs) == mine and len(seqs) == len(mine)
    assert seqs == sorted(seqs, reverse=True)


def test_filters_combine(db_session, entries):
    window = Filters(attribute="cpfbalances", since=entries[8].recorded_at, until=entries[20].recorded_at)
    expected = {e.seq for e in entries[8:20] if (e.seq - entries[0].seq) % 4 == 0}
    assert set(collect(db_session, window, limit=50)) == expected


def test_citizen_history_shows_only_their_own_entries(db_session, entries):
    page = citizen_history(db_session, citizen_ref="a" * 64, limit=100)
    assert page.entries and all(e.citizen_ref == "a" * 64 for e in page.entries)
    assert {b["kind"] for b in page.bodies()} <= {"disclosure", "consent_granted"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"cursor": "garbage!"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": 10_000}, "limit")],
)
def test_malformed_paging_is_a_validation_error_naming_the_field(db_session, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        search(db_session, Filters(), **kwargs)
    assert field in caught.value.errors
