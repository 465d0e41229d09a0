"""A citizen's declaration on its way to an agency app: declared on the "My declarations" page,
labelled "Declared by you" on the consent screen, released in the person response as source "2";
an attribute an agency holds is released as the agency's value, never the declaration."""

from __future__ import annotations

import re

import pytest

from profile_store.fields import apply_agency_record
from tests.oauth import flow
from tests.oauth.flow import PURPOSE, REQUIRED, consent_path, decide, get_person, get_token, open_person

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ASKED = ["email", "edulevel"]


@pytest.fixture
def agency_app(db_session, runtime, keys):
    return flow.setup_app(
        db_session,
        runtime,
        keys,
        allowed_attributes=REQUIRED + ASKED,
        purposes=[
            {
                "id": PURPOSE,
                "description": "To assess your housing grant application.",
                "required": REQUIRED,
                "optional": ASKED,
            }
        ],
    )


def declare(client, attribute: str, answers: dict[str, str]) -> None:
    page = client.get(f"/citizen/declarations/{attribute}").text
    data = {"csrf_token": CSRF_INPUT.search(page).group(1), "version": "0", **answers}
    assert client.post(f"/citizen/declarations/{attribute}", data=data).status_code == 303


def test_a_declaration_is_labelled_on_the_consent_screen_and_released_as_source_2(
    client, db_session, runtime, keys, agency_app, citizen, verifier, dpop_key
):
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="education",
        items={"edulevel": {"code": "5", "desc": "POLYTECHNIC DIPLOMA"}}, now=flow._now(),
    )  # fmt: skip
    db_session.commit()
    flow.sign_in(client, citizen.id)
    declare(client, "email", {"value": "tan@example.org"})
    declare(client, "edulevel", {"code": "7"})
    path = consent_path(flow.authorize(client, verifier, scope=" ".join(REQUIRED + ASKED)))
    screen = client.get(path).text
    email_row = screen[screen.index("tan@example.org") :]
    assert email_row.index("Declared by you") < email_row.index("</div>")
    assert "Bachelor" not in screen, "the consent screen previews the agency's value"
    code = flow.redirect_params(decide(client, path, attributes=ASKED))["code"]
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    jwks = client.get("/.well-known/keys.json").get_json()
    person, _ = open_person(get_person(client, token, dpop_key, scope=" ".join(REQUIRED + ASKED)), keys, jwks)
    assert person["email"]["value"] == "tan@example.org" and person["email"]["source"] == "2"
    assert person["edulevel"]["code"] == "5" and person["edulevel"]["source"] == "1"
    assert person["name"]["source"] == "1"


def test_a_declaration_fills_in_where_no_agency_holds_the_attribute(
    client, db_session, runtime, keys, agency_app, citizen, verifier, dpop_key
):
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="education",
        items=None, now=flow._now(),
    )  # fmt: skip
    db_session.commit()
    flow.sign_in(client, citizen.id)
    declare(client, "edulevel", {"code": "7"})
    path = consent_path(flow.authorize(client, verifier, scope=" ".join(REQUIRED + ASKED)))
    screen = client.get(path).text
    row = screen[screen.index("Bachelor") :]
    assert row.index("Declared by you") < row.index("</div>")
    code = flow.redirect_params(decide(client, path, attributes=ASKED))["code"]
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    jwks = client.get("/.well-known/keys.json").get_json()
    person, _ = open_person(get_person(client, token, dpop_key, scope="edulevel"), keys, jwks)
    assert person["edulevel"]["code"] == "7" and person["edulevel"]["source"] == "2"
