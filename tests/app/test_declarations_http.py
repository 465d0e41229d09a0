"""The "My declarations" pages over HTTP (Flask test client, CSRF on): the list, a form per
attribute, errors next to their fields, removing after a confirmation; every bad input a clear
page and nothing half-written; audited; one citizen never sees or changes another's; and a
declaration labelled "Declared by you" on the profile without hiding the verified value."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from profile_store.declarations import declarations_of
from profile_store.fields import apply_agency_record
from profile_store.models import Declaration
from tests.factories import make_citizen
from tests.oauth import flow

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_INPUT = re.compile(r'name="version" value="(\d+)"')
LIST = "/citizen/declarations"


@pytest.fixture
def citizen(db_session, runtime):
    person = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return person


def form_of(client, path):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return {
        "csrf_token": CSRF_INPUT.search(page.text).group(1),
        "version": VERSION_INPUT.search(page.text).group(1),
    }


def post(client, attribute, answers, *, token=None):
    path = f"{LIST}/{attribute}"
    data = {**form_of(client, path), **answers}
    if token is not None:
        data["csrf_token"] = token
    return client.post(path, data=data)


def entries(db_session, citizen) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.kind == "declaration_changed", AuditEntry.citizen_ref == citizen.uinfin_digest
    )
    return list(db_session.scalars(query.order_by(AuditEntry.seq)))


def mine(db_session, runtime, citizen):
    db_session.expire_all()
    return declarations_of(db_session, vault=runtime.vault, citizen=citizen)


def test_strangers_are_sent_to_sign_in(client):
    for path in (LIST, f"{LIST}/email", f"{LIST}/email/remove"):
        response = client.get(path)
        assert response.status_code == 303 and "/citizen/sign-in" in response.headers["Location"]


def test_the_list_shows_every_declarable_attribute_not_declared(client, citizen):
    flow.sign_in(client, citizen.id)
    page = client.get(LIST).text
    for label in ("Email address", "Household income (range)", "Highest education level", "Occupation",
                  "Marital status", "Dependants", "Mailing address"):  # fmt: skip
        assert label in page
    assert page.count("Not declared") >= 10
    assert 'href="/citizen/declarations"' in client.get("/citizen/").text  # in the navigation


def test_declare_change_remove_audited_with_the_name_only(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    response = post(client, "email", {"value": "tan@example.org"})
    assert response.status_code == 303 and response.headers["Location"] == LIST
    page = client.get(LIST).text
    assert "tan@example.org" in page and "Declared by you" in page and "is saved" in page
    assert 'value="tan@example.org"' in client.get(f"{LIST}/email").text  # the form, filled in
    assert post(client, "email", {"value": "tan@example.net"}).status_code == 303
    assert mine(db_session, runtime, citizen)["email"].value == {"value": "tan@example.net"}
    confirm = client.get(f"{LIST}/email/remove")
    assert "Remove your declaration of email address?" in confirm.text and "tan@example.net" in confirm.text
    assert (
        client.post(f"{LIST}/email/remove", data=form_of(client, f"{LIST}/email/remove")).status_code == 303
    )
    assert "email" not in mine(db_session, runtime, citizen)
    audited = entries(db_session, citizen)
    assert [(e.outcome, e.body.count("@")) for e in audited] == [
        ("declared", 0),
        ("changed", 0),
        ("removed", 0),
    ]
    assert all('"attributes":["email"]' in e.body for e in audited)


@pytest.mark.parametrize(
    ("attribute", "answers", "message"),
    [
        ("email", {"value": "nope"}, "Enter an email address in the correct format"),
        ("email", {"value": ""}, "Enter email address"),
        ("email", {"value": "a@b.co" + "x" * 5000}, "must be 254 characters or fewer"),  # oversized
        ("gradyear", {"value": "1800"}, "Year of graduation must be between 1940 and 2100"),
        ("gradyear", {"value": "soon"}, "must be a whole number"),
        ("edulevel", {"code": "99"}, "Select one of the options"),
        ("householdincome", {"low": "9000", "high": "10", "currency": "SGD"}, "same as or more than"),
        (
            "dependants",
            {"0-name": "TAN AH MEI", "0-dob": "2999-01-01"},
            "Entry 1: Date of birth must be today",
        ),
    ],
)
def test_bad_answers_show_the_message_next_to_the_field_and_write_nothing(
    client, db_session, runtime, citizen, attribute, answers, message
):
    flow.sign_in(client, citizen.id)
    response = post(client, attribute, answers)
    assert response.status_code == 400
    assert message in response.text and "There is a problem" in response.text
    assert 'class="govuk-error-message"' in response.text and "govuk-form-group--error" in response.text
    assert mine(db_session, runtime, citizen) == {} and entries(db_session, citizen) == []


def test_a_forged_or_replayed_post_without_the_token_is_refused(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    response = client.post(f"{LIST}/email", data={"value": "x@example.org", "version": "0"})
    assert response.status_code == 400
    assert post(client, "email", {"value": "x@example.org"}, token="forged").status_code == 400
    assert client.post(f"{LIST}/email/remove", data={"version": "0"}).status_code == 400
    assert mine(db_session, runtime, citizen) == {}


def test_a_double_submitted_form_declares_once_and_a_stale_one_says_so(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    data = {**form_of(client, f"{LIST}/marital"), "code": "2"}
    assert client.post(f"{LIST}/marital", data=data).status_code == 303
    assert client.post(f"{LIST}/marital", data=data).status_code == 303  # the second click
    assert len(entries(db_session, citizen)) == 1
    stale = client.post(f"{LIST}/marital", data={**data, "code": "1"})  # an older tab, other answer
    assert stale.status_code == 409 and "changed since you opened this page" in stale.text
    assert mine(db_session, runtime, citizen)["marital"].value["code"] == "2"
    removal = form_of(client, f"{LIST}/marital/remove")
    assert client.post(f"{LIST}/marital/remove", data=removal).status_code == 303
    again = client.post(f"{LIST}/marital/remove", data=removal)  # the second click: nothing to do
    assert again.status_code == 303
    assert [e.outcome for e in entries(db_session, citizen)] == ["declared", "removed"]


@pytest.mark.parametrize("attribute", ["name", "uinfin", "nosuch", "..%2Femail", "%00"])
def test_an_attribute_that_cannot_be_declared_is_404(client, citizen, attribute):
    flow.sign_in(client, citizen.id)
    assert client.get(f"{LIST}/{attribute}").status_code in (400, 404)
    assert client.get(f"{LIST}/{attribute}/remove").status_code in (400, 404)


def test_unknown_form_fields_are_refused_and_write_nothing(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    response = post(client, "email", {"value": "a@example.org", "citizen_id": "someone-else"})
    assert response.status_code == 400 and "The form could not be used" in response.text
    assert mine(db_session, runtime, citizen) == {}


def test_one_citizen_never_sees_nor_changes_anothers(client, db_session, runtime, citizen):
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    post(client, "email", {"value": "other@example.org"})
    flow.sign_in(client, citizen.id)
    assert "other@example.org" not in client.get(LIST).text
    assert "other@example.org" not in client.get(f"{LIST}/email").text
    assert "not declared your email" in client.get(f"{LIST}/email/remove").text
    assert client.post(f"{LIST}/email/remove", data=form_of(client, f"{LIST}/email")).status_code == 303
    assert mine(db_session, runtime, other)["email"].value == {"value": "other@example.org"}
    assert "other@example.org" not in client.get("/citizen/profile").text


def test_the_profile_shows_a_declaration_beside_the_verified_value_verified_first(
    client, db_session, runtime, citizen, now
):
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="education",
        items={"edulevel": {"code": "5", "desc": "POLYTECHNIC DIPLOMA"}}, now=now,
    )  # fmt: skip
    db_session.commit()
    flow.sign_in(client, citizen.id)
    assert post(client, "edulevel", {"code": "7"}).status_code == 303
    assert post(client, "email", {"value": "tan@example.org"}).status_code == 303
    page = client.get("/citizen/profile").text
    verified, declared = page.index("Polytechnic Diploma"), page.index("Bachelor")
    assert verified < declared
    assert page.index("Declared by you", page.index('id="agency-citizen"')) < declared
    summary = page[page.index('id="summary"') :]
    assert "2 items" in summary[: summary.index("</dl>")]
    assert "Declared by citizen" not in page and page.count("<strong>Declared by you</strong>") == 2
    assert db_session.get(Declaration, (citizen.id, "edulevel")) is not None
