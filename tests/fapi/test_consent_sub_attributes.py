"""The consent screen for a Myinfo v5 request naming sub-attributes (`cpfbalances.oa`, v5 spec
§8.3): the citizen sees the attribute's label with the part asked for, a preview of only that part
(exactly what the release would send), and their answer on it decides what the app gets."""

from __future__ import annotations

import json
import re

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select

from app.profile_display import part_label
from audit.models import AuditEntry
from consent.models import Consent
from tests.fapi import flow
from tests.oauth import flow as v4
from tests.oauth.flow import AgencyKeys

BALANCES = "Pension account balances"
# Every simulated fund member has these two, and a special or a retirement account by age.
ALWAYS = {"Ordinary account", "MediSave account"}
ITEM = re.compile(r'<(?:li|div) class="[^"]*app-consent-item".*?</(?:li|div)>\s*</(?:li|div)>', re.S)


@pytest.fixture
def wide_app(db_session, runtime) -> AgencyKeys:
    """An app whose one purpose may ask for pension balances, the driving licence and vehicles."""
    keys = AgencyKeys()
    purpose = {
        "id": "vehicle-grant",
        "description": "To check your vehicle for the transport grant.",
        "required": ["uinfin"],
        "optional": ["cpfbalances", "drivinglicence", "vehicles"],
    }
    flow.setup_app(
        db_session,
        runtime,
        keys,
        allowed_attributes=["uinfin", "cpfbalances", "drivinglicence", "vehicles"],
        purposes=[purpose],
    )
    return keys


@pytest.fixture
def holder(db_session, runtime, wide_app):
    return flow.citizen_with(db_session, runtime, "cpfbalances", "drivinglicence")


def consent_page(client, citizen_id: str, keys: AgencyKeys, scope: str) -> tuple[str, str, str, ECKey]:
    """Push `scope`, sign in, open the consent screen: (its path, its HTML, verifier, DPoP key)."""
    verifier, key = flow.verifier(), ECKey.generate_key("P-256")
    v4.sign_in(client, citizen_id)
    path = v4.consent_path(flow.authorize(client, flow.push(client, keys, verifier, key, scope=scope)))
    page = client.get(path)
    assert page.status_code == 200, page.text
    return path, page.text, verifier, key


def item(page: str, name: str) -> str:
    """The consent screen's entry for one attribute: label, checkbox and preview."""
    found = [block for block in ITEM.findall(page) if f'id="attr-{name}-detail"' in block]
    assert len(found) == 1, page
    return found[0]


def label_of(block: str) -> str:
    """The item's label as the citizen reads it (a checkbox label, or a required item's name)."""
    found = re.search(r'(?:<label [^>]*>|<span class="govuk-!-font-weight-bold">)([^<]+)<', block)
    assert found, block
    return found.group(1)


def preview_labels(block: str) -> set[str]:
    """The sub-field labels the preview shows ("Ordinary account: ••••1.50")."""
    return set(re.findall(r'<span class="govuk-!-display-block app-wrap">([^:<]+): ', block))


def test_a_sub_attribute_is_named_in_the_label_and_only_it_is_previewed(client, holder, wide_app):
    _path, page, _verifier, _key = consent_page(client, holder.id, wide_app, "openid uinfin cpfbalances.oa")
    block = item(page, "cpfbalances")
    assert label_of(block) == f"{BALANCES} \N{EM DASH} Ordinary account only"
    assert preview_labels(block) == {"Ordinary account"}
    assert 'name="attributes" type="checkbox" value="cpfbalances"' in block


def test_several_parts_of_one_attribute_are_listed_and_nested_ones_read_as_words(client, holder, wide_app):
    scope = "openid uinfin cpfbalances.oa cpfbalances.ma drivinglicence.qdl.expirydate"
    _path, page, _verifier, _key = consent_page(client, holder.id, wide_app, scope)
    balances = item(page, "cpfbalances")
    assert label_of(balances) == f"{BALANCES} \N{EM DASH} Ordinary account and MediSave account only"
    assert preview_labels(balances) == ALWAYS
    licence = item(page, "drivinglicence")
    assert label_of(licence) == "Driving licence \N{EM DASH} Qualified licence expiry date only"
    # Only the qualified licence's expiry date (empty for many simulated drivers) is previewed:
    # not its classes or validity, nor the provisional licence or demerit points.
    for other in ("Classes", "Validity", "Provisional licence", "Demerit points", "Commercial licence"):
        assert other not in licence


def test_asking_for_the_whole_attribute_as_well_shows_it_whole(client, holder, wide_app):
    _path, page, _verifier, _key = consent_page(
        client, holder.id, wide_app, "openid uinfin cpfbalances cpfbalances.oa"
    )
    block = item(page, "cpfbalances")
    assert label_of(block) == BALANCES
    assert preview_labels(block) > ALWAYS


@pytest.mark.parametrize("approve", [True, False], ids=["ticked", "unticked"])
def test_the_answer_on_a_sub_attribute_decides_what_the_app_gets(
    client, holder, wide_app, platform_jwks, approve
):
    path, _page, verifier, key = consent_page(client, holder.id, wide_app, "openid uinfin cpfbalances.oa")
    params = v4.redirect_params(v4.decide(client, path, attributes=["cpfbalances"] if approve else []))
    tokens = flow.get_tokens(client, wide_app, params["code"], verifier, key)
    body, _, _ = flow.open_nested(
        flow.userinfo(client, tokens["access_token"], key).text, wide_app, platform_jwks
    )
    person = body["person_info"]
    if approve:
        assert tokens["scope"] == "openid uinfin cpfbalances.oa"
        assert set(person) == {"uinfin", "cpfbalances"}
        assert set(person["cpfbalances"]) == {"oa", "lastupdated", "source", "classification"}
    else:
        assert tokens["scope"] == "openid uinfin"
        assert set(person) == {"uinfin"}


def test_declining_a_sub_attribute_request_sends_access_denied(client, holder, wide_app):
    path, _page, _verifier, _key = consent_page(client, holder.id, wide_app, "openid uinfin cpfbalances.oa")
    answer = v4.redirect_params(v4.decide(client, path, decision="decline"))
    assert answer["error"] == "access_denied" and answer["iss"] == flow.ISSUER


def remember(client, citizen_id, keys, scope: str):
    """Consent to `scope` (every optional item ticked), remembered for 3 months."""
    path, _page, _verifier, _key = consent_page(client, citizen_id, keys, scope)
    answer = v4.redirect_params(v4.decide(client, path, attributes=["cpfbalances"], remember="3m"))
    assert "code" in answer


def skips_the_screen(client, keys, scope: str) -> bool:
    """Whether a new request for `scope` goes straight back to the app with a code."""
    verifier, key = flow.verifier(), ECKey.generate_key("P-256")
    request_uri = flow.push(client, keys, verifier, key, scope=scope)
    response = client.get(v4.consent_path(flow.authorize(client, request_uri)))
    if response.status_code == 200:
        return False
    return "code" in v4.redirect_params(response)


def test_a_remembered_part_covers_that_part_and_never_the_whole(client, db_session, holder, wide_app):
    """Remembered, "Ordinary account only" lets the app have the ordinary account again without
    asking, but every balance (or another account) is asked for anew."""
    remember(client, holder.id, wide_app, "openid uinfin cpfbalances.oa")
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == holder.id)).one()
    assert consent.approved_parts == {"cpfbalances": ["oa"]} and consent.remembered
    assert skips_the_screen(client, wide_app, "openid uinfin cpfbalances.oa")
    assert skips_the_screen(client, wide_app, "openid uinfin")
    assert not skips_the_screen(client, wide_app, "openid uinfin cpfbalances")
    assert not skips_the_screen(client, wide_app, "openid uinfin cpfbalances.oa cpfbalances.ma")


def test_a_remembered_whole_item_covers_any_part_of_it(client, holder, wide_app):
    remember(client, holder.id, wide_app, "openid uinfin cpfbalances")
    assert skips_the_screen(client, wide_app, "openid uinfin cpfbalances.oa")
    assert skips_the_screen(client, wide_app, "openid uinfin cpfbalances")


def test_the_consent_list_and_the_audit_entry_name_the_part(client, db_session, holder, wide_app):
    remember(client, holder.id, wide_app, "openid uinfin cpfbalances.oa cpfbalances.ma")
    page = client.get("/citizen/consents")
    assert f"{BALANCES} \N{EM DASH} Ordinary account and MediSave account only" in page.text
    granted = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "consent_granted", AuditEntry.citizen_ref == holder.uinfin_digest
        )
    ).one()
    assert json.loads(granted.body)["details"]["parts"] == ["cpfbalances.ma", "cpfbalances.oa"]


def test_the_v4_screen_keeps_whole_attribute_labels(client, citizen, verifier):
    """MyInfo v4 names attributes only (the fixture's app holds both profiles): no part is
    singled out."""
    v4.sign_in(client, citizen.id)
    page = client.get(v4.consent_path(v4.authorize(client, verifier)))
    block = item(page.text, "cpfbalances")
    assert label_of(block) == BALANCES and preview_labels(block) > ALWAYS


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("oa", "Ordinary account"),
        ("qdl.expirydate", "Qualified licence expiry date"),
        ("suspension.startdate", "Suspension start date"),
        ("coecategory", "COE category"),
        ("tdvl.licencename", "Tdvl licencename"),
    ],
)
def test_part_labels(path, words):
    assert part_label(path) == words
