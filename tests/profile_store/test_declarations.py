"""Declarations as a domain service: forms from the catalogue, checking answers (codes per field,
nothing written), adding, changing and removing with the old value kept, double submits."""

import datetime as dt

import pytest
from sqlalchemy import select

from core.errors import Conflict, NotFound, ValidationFailed
from profile_store import declarations as service
from profile_store.assembly import assemble_person, load_fields
from profile_store.fields import apply_agency_record
from profile_store.history import earlier_values
from profile_store.models import Declaration, FieldVersion
from tests.factories import make_citizen

ADDRESS = {"block": "9", "street": "LEEDON HEIGHTS", "floor": "26", "unit": "368", "postal": "260944"}


def act(function, db_session, runtime, citizen, attribute, now, **kwargs):
    if function is not service.remove_declaration:
        kwargs["vault"] = runtime.vault
    return function(
        db_session, catalogue=runtime.catalogue, citizen=citizen, attribute=attribute, now=now, **kwargs
    )


def test_every_declarable_attribute_has_a_form_and_the_five_areas_are_covered(runtime):
    names = {a.name for a in service.declarable(runtime.catalogue)}
    assert names == {a.name for a in runtime.catalogue.attributes.values() if a.declarable}
    for area in ("householdincome", "edulevel", "occupation", "employment", "marital", "email", "mailadd"):
        assert area in names
    for name in names:
        form = service.declaration_form(runtime.catalogue, name)
        assert form.inputs and all(i.kind in service.KINDS for i in form.inputs)


@pytest.mark.parametrize("name", ["name", "uinfin", "nosuch", "../email"])
def test_a_form_of_anything_else_is_not_found(runtime, name):
    with pytest.raises(NotFound):
        service.declaration_form(runtime.catalogue, name)


@pytest.mark.parametrize(
    ("attribute", "answers", "errors"),
    [
        ("email", {"value": ""}, {"value": ["required"]}),
        ("email", {"value": "not an email"}, {"value": ["not_email"]}),
        ("email", {"value": "a@b.co" + "x" * 300}, {"value": ["too_long"]}),
        ("gradyear", {"value": "1800"}, {"value": ["out_of_range"]}),
        ("gradyear", {"value": "20.5"}, {"value": ["not_a_number"]}),
        ("gradyear", {"value": "NaN"}, {"value": ["not_a_number"]}),
        ("edulevel", {"code": "42"}, {"code": ["unknown_option"]}),
        ("mailadd", {**ADDRESS, "postal": "12"}, {"postal": ["bad_pattern"]}),
        ("mailadd", {**ADDRESS, "street": ""}, {"street": ["required"]}),
        (
            "householdincome",
            {"low": "5000", "high": "4000", "currency": "SGD"},
            {"high": ["below_low"]},
        ),
        ("householdincome", {"low": "-1", "high": "10.123", "currency": "XXX"}, {
            "low": ["out_of_range"], "high": ["not_a_number"], "currency": ["unknown_option"]
        }),
    ],
)  # fmt: skip
def test_bad_answers_are_codes_by_field_and_write_nothing(
    db_session, runtime, now, attribute, answers, errors
):
    citizen = make_citizen(db_session, runtime.vault)
    with pytest.raises(ValidationFailed) as caught:
        act(service.declare, db_session, runtime, citizen, attribute, now, answers=answers)
    assert caught.value.errors == errors
    assert db_session.scalar(select(Declaration).where(Declaration.citizen_id == citizen.id)) is None


def test_a_date_in_the_future_or_unreal_is_refused(runtime, now):
    form = service.declaration_form(runtime.catalogue, "dependants")
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    with pytest.raises(ValidationFailed) as caught:
        service.parse_answers(
            form,
            {
                "0-name": "TAN AH MEI",
                "0-relationship": "CHILD",
                "0-dob": tomorrow,
                "1-name": "X",
                "1-dob": "2020-02-30",
            },
            now=now,
        )
    assert caught.value.errors == {
        "0-dob": ["in_future"],
        "1-relationship": ["required"],
        "1-dob": ["not_a_date"],
    }


def test_declare_change_remove_keeps_every_value_and_answers_round_trip(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    saved, changed = act(service.declare, db_session, runtime, citizen, "mailadd", now, answers=ADDRESS)
    assert changed and saved.version == 1
    form = service.declaration_form(runtime.catalogue, "mailadd")
    mine = service.declarations_of(db_session, vault=runtime.vault, citizen=citizen)
    assert service.answers_of(form, mine["mailadd"].value) == {**ADDRESS, "building": ""}
    later = now + dt.timedelta(minutes=5)
    moved = {**ADDRESS, "postal": "123456"}
    saved, changed = act(
        service.change_declaration, db_session, runtime, citizen, "mailadd", later, answers=moved, version=1
    )
    assert changed and saved.version == 2
    person = assemble_person(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=["mailadd"]
    )
    assert person["mailadd"]["postal"] == {"value": "123456"} and person["mailadd"]["source"] == "2"
    assert person["mailadd"]["country"] == {"code": "SG", "desc": "SINGAPORE"}
    assert act(service.remove_declaration, db_session, runtime, citizen, "mailadd", later, version=2) is True
    assert db_session.get(Declaration, (citizen.id, "mailadd")) is None
    history = earlier_values(db_session, vault=runtime.vault, citizen=citizen)["mailadd"]
    assert [h.value["postal"]["value"] for h in history] == ["123456", "260944"]
    assert {h.source for h in history} == {"2"}
    # Declared again: a new version after the removed ones, never one sealed twice.
    saved, _ = act(service.declare, db_session, runtime, citizen, "mailadd", later, answers=ADDRESS)
    assert saved.version == 3
    versions = db_session.scalars(select(FieldVersion.version).where(FieldVersion.citizen_id == citizen.id))
    assert sorted(versions) == [1, 2]


def test_double_submits_change_nothing_and_a_stale_form_is_a_conflict(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    act(service.declare, db_session, runtime, citizen, "email", now, answers={"value": "a@example.org"})
    again, changed = act(
        service.declare, db_session, runtime, citizen, "email", now, answers={"value": "a@example.org"}
    )
    assert not changed and again.version == 1
    with pytest.raises(Conflict):  # a second "add" form with something else: the first one won
        act(service.declare, db_session, runtime, citizen, "email", now, answers={"value": "b@example.org"})
    act(
        service.change_declaration,
        db_session,
        runtime,
        citizen,
        "email",
        now,
        answers={"value": "c@example.org"},
        version=1,
    )
    with pytest.raises(Conflict):
        act(
            service.change_declaration,
            db_session,
            runtime,
            citizen,
            "email",
            now,
            answers={"value": "d@example.org"},
            version=1,
        )
    with pytest.raises(Conflict):
        act(service.remove_declaration, db_session, runtime, citizen, "email", now, version=1)
    assert act(service.remove_declaration, db_session, runtime, citizen, "email", now, version=2) is True
    assert act(service.remove_declaration, db_session, runtime, citizen, "email", now, version=2) is False
    with pytest.raises(Conflict):  # changing one removed meanwhile
        act(
            service.change_declaration,
            db_session,
            runtime,
            citizen,
            "email",
            now,
            answers={"value": "e@example.org"},
            version=2,
        )


def test_a_list_declaration_keeps_the_filled_entries(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    answers = {
        **{"0-name": "TAN AH MEI", "0-relationship": "CHILD", "0-dob": "2015-03-27"},
        **{"2-name": "TAN AH KOW", "2-relationship": "PARENT", "2-dob": "1950-01-01"},
    }
    act(service.declare, db_session, runtime, citizen, "dependants", now, answers=answers)
    person = assemble_person(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["dependants"],
    )
    assert [e["name"]["value"] for e in person["dependants"]] == ["TAN AH MEI", "TAN AH KOW"]
    assert person["dependants"][0]["relationship"] == {"code": "CHILD", "desc": "CHILD"}
    assert all(e["source"] == "2" for e in person["dependants"])
    form = service.declaration_form(runtime.catalogue, "dependants")
    mine = service.declarations_of(db_session, vault=runtime.vault, citizen=citizen)
    assert service.answers_of(form, mine["dependants"].value)["1-name"] == "TAN AH KOW"
    with pytest.raises(ValidationFailed) as caught:
        act(
            service.change_declaration, db_session, runtime, citizen, "dependants", now, answers={}, version=1
        )
    assert caught.value.errors == {"0-name": ["required"]}


def test_a_declaration_never_hides_the_verified_value(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="education",
        items={"edulevel": {"code": "5", "desc": "POLYTECHNIC DIPLOMA"}}, now=now,
    )  # fmt: skip
    act(service.declare, db_session, runtime, citizen, "edulevel", now, answers={"code": "7"})
    views = load_fields(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)
    assert views["edulevel"].source == "1" and views["edulevel"].item["code"] == "5"
    mine = service.declarations_of(db_session, vault=runtime.vault, citizen=citizen)
    assert mine["edulevel"].value == {"code": "7", "desc": "BACHELOR'S OR EQUIVALENT"}


def test_the_audit_event_names_the_attribute_never_the_value(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    event = service.declaration_event(citizen, "email", service.CHANGED)
    assert event.kind == "declaration_changed" and event.attributes == ("email",)
    assert "@" not in repr(event)
