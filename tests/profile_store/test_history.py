"""Reading a citizen's earlier values (profile_store/history.py): decrypted, newest first, agency
changes and re-declarations alike, and bound to their citizen and attribute."""

import datetime as dt

import pytest
from sqlalchemy import update

from core.errors import CryptoError
from profile_store.fields import AGENCY, DECLARED, apply_agency_record, declare
from profile_store.history import earlier_values
from profile_store.models import FieldVersion
from tests.factories import make_citizen

NAME = {"value": "TAN HENG HUAT", "lastupdated": "2024-02-04"}


def store(session, runtime, citizen, items, now):
    apply_agency_record(
        session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        agency="identity",
        items=items,
        now=now,
    )


def test_earlier_values_newest_first_with_when_each_was_replaced(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, {"name": NAME}, now)
    second, third = now + dt.timedelta(days=3), now + dt.timedelta(days=9)
    store(db_session, runtime, citizen, {"name": {**NAME, "value": "TAN HUI MIN"}}, second)
    store(db_session, runtime, citizen, {"name": {**NAME, "value": "TAN HUI LING"}}, third)
    earlier = earlier_values(db_session, vault=runtime.vault, citizen=citizen)
    names = earlier["name"]
    assert [(e.value, e.superseded_at) for e in names] == [
        ({"value": "TAN HUI MIN"}, third),
        ({"value": "TAN HENG HUAT"}, second),
    ]
    assert names[-1].origin == AGENCY and names[-1].agency == "identity"
    assert names[-1].lastupdated == dt.date(2024, 2, 4)
    # Attributes that never changed have no history; sent-then-missing ones were held as nothing.
    assert "sex" not in earlier


def test_a_value_that_became_unavailable_and_a_redeclaration(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, {"name": NAME}, now)
    store(db_session, runtime, citizen, {}, now + dt.timedelta(days=1))  # name no longer sent
    for n, address in enumerate(("a@example.com", "b@example.com")):
        declare(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attribute="email",
            value={"value": address},
            now=now + dt.timedelta(days=2 + n),
        )
    earlier = earlier_values(db_session, vault=runtime.vault, citizen=citizen, attributes=["name", "email"])
    assert earlier["name"][0].value == {"value": "TAN HENG HUAT"}
    [email] = earlier["email"]  # one earlier declaration: the first address
    assert email.value == {"value": "a@example.com"} and email.origin == DECLARED


def test_at_most_n_per_attribute(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    for n in range(5):
        store(
            db_session, runtime, citizen, {"name": {**NAME, "value": f"NAME {n}"}}, now + dt.timedelta(days=n)
        )
    earlier = earlier_values(db_session, vault=runtime.vault, citizen=citizen, per_attribute=2)
    assert [e.value["value"] for e in earlier["name"]] == ["NAME 3", "NAME 2"]


def test_a_version_moved_to_another_attribute_does_not_decrypt(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, {"name": NAME}, now)
    store(
        db_session, runtime, citizen, {"name": {**NAME, "value": "TAN HUI MIN"}}, now + dt.timedelta(days=1)
    )
    db_session.execute(
        update(FieldVersion).where(FieldVersion.citizen_id == citizen.id).values(attribute="aliasname")
    )
    with pytest.raises(CryptoError):
        earlier_values(db_session, vault=runtime.vault, citizen=citizen)
