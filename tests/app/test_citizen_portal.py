"""The citizen portal over HTTP (Flask test client, CSRF on): the JSON API's shapes and keyset
pages, 401 for strangers and 400 naming the field for bad parameters, one citizen never seeing
another's entries, the pages, and withdrawing a consent: audited in the same transaction, and a
token issued under it refused by the person endpoint at once."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select

from agency_connectors.simulators.records import record_for
from audit.log import Event, append
from audit.models import AuditEntry
from consent.models import Consent
from profile_store.citizens import reveal_uinfin
from profile_store.fields import apply_agency_record, declare
from tests.factories import make_citizen
from tests.oauth import flow
from tests.oauth.flow import (
    CLIENT_ID,
    OPTIONAL,
    PURPOSE,
    REQUIRED,
    get_code,
    get_person,
    get_token,
)

DISCLOSURES, CONSENTS = "/api/citizen/disclosures", "/api/citizen/consents"
APP_NAME, AGENCY = "Housing grant application", "Housing Board"
PURPOSE_TEXT = "To assess your housing grant application."
MARRIED = {"code": "2", "desc": "MARRIED", "lastupdated": "2026-11-20"}
SINGLE = {"code": "1", "desc": "SINGLE", "lastupdated": "2026-11-20"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ENTRY_KEYS = {"seq", "kind", "time", "app", "purpose", "attributes", "consent_id", "outcome"}
CONSENT_KEYS = {
    "id", "status", "app", "purpose", "approved", "declined", "remembered", "granted_at", "expires_at",
    "revoked_at",
}  # fmt: skip


def disclose(db_session, citizen, *, when: dt.datetime, attributes=("name",), consent_id="c-1") -> int:
    """A disclosure entry as the person endpoint writes it."""
    event = Event(
        kind="disclosure",
        citizen_ref=citizen.uinfin_digest,
        app_id=CLIENT_ID,
        purpose=PURPOSE,
        outcome="released",
        attributes=tuple(attributes),
        details={"agency": AGENCY, "consent_id": consent_id, "token_jti": "jti-1", "profile": "myinfo-v4"},
    )
    entry = append(db_session, event, now=when)
    db_session.commit()
    return entry.seq


def revoked_entries(db_session, citizen) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.kind == "consent_revoked", AuditEntry.citizen_ref == citizen.uinfin_digest
    )
    return list(db_session.scalars(query))


def withdraw(client, consent_id: str, *, csrf: bool = True):
    path = f"/citizen/consents/{consent_id}/withdraw"
    data = {}
    if csrf:
        page = client.get(path)
        assert page.status_code == 200, page.text
        data["csrf_token"] = CSRF_INPUT.search(page.text).group(1)
    return client.post(path, data=data)


# --- who may ask -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DISCLOSURES, CONSENTS, DISCLOSURES + "?limit=2"])
def test_api_without_a_citizen_session_is_401_json_not_a_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.get_json()["error"] == "unauthorized"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_expired_citizen_session_is_401(client, citizen):
    with client.session_transaction() as session:
        session["citizen_id"] = citizen.id
        session["citizen_signed_in_at"] = int(flow._now().timestamp()) - 31 * 60
    assert client.get(DISCLOSURES).status_code == 401


def test_pages_send_strangers_to_sign_in(client):
    for path in ("/citizen/profile", "/citizen/history", "/citizen/consents"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/citizen/sign-in?next={path}"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + "A" * 201, "cursor"),
        ("cursor=", "cursor"),
        ("citizen_ref=" + "0" * 64, "citizen_ref"),
    ],
)
def test_malformed_parameters_are_400_naming_the_field(client, citizen, query, field):
    flow.sign_in(client, citizen.id)
    response = client.get(f"{DISCLOSURES}?{query}")
    assert response.status_code == 400, response.text
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize(
    ("query", "field"),
    [("?citizen_id=someone-else", "citizen_id"), ("?cursor=nonsense", "cursor"), ("?limit=0", "limit")],
)
def test_consents_refuse_bad_parameters_naming_the_field(client, citizen, query, field):
    flow.sign_in(client, citizen.id)
    response = client.get(CONSENTS + query)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == [field]


def many_consents(client, citizen, verifier, count: int) -> None:
    for _ in range(count):
        get_code(client, citizen.id, verifier, attributes=[])


def test_the_consents_api_pages_with_a_cursor(client, citizen, verifier):
    many_consents(client, citizen, verifier, 3)
    first = client.get(CONSENTS + "?limit=2").get_json()
    assert len(first["consents"]) == 2 and first["next_cursor"]
    second = client.get(CONSENTS + f"?limit=2&cursor={first['next_cursor']}").get_json()
    assert len(second["consents"]) == 1 and second["next_cursor"] is None
    ids = [c["id"] for c in first["consents"] + second["consents"]]
    assert len(set(ids)) == 3


def test_the_consents_page_shows_twenty_then_links_to_older(client, citizen, verifier):
    many_consents(client, citizen, verifier, 21)
    page = client.get("/citizen/consents")
    assert page.text.count("/withdraw") == 20
    older = re.search(r'href="(/citizen/consents\?cursor=[^"]+)"', page.text)
    assert older, "a link to the older consents"
    second = client.get(older.group(1))
    assert second.text.count("/withdraw") == 1 and 'href="/citizen/consents"' in second.text
    bad = client.get("/citizen/consents?cursor=nonsense")
    assert bad.status_code == 400 and "does not exist" in bad.text


# --- history -----------------------------------------------------------------------------------


def test_history_pages_newest_first_and_only_the_citizens_own(client, db_session, runtime, citizen):
    other = make_citizen(db_session, runtime.vault)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    mine = [disclose(db_session, citizen, when=start + dt.timedelta(hours=n)) for n in range(5)]
    theirs = [disclose(db_session, other, when=start + dt.timedelta(hours=n, minutes=30)) for n in range(3)]
    flow.sign_in(client, citizen.id)

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(DISCLOSURES, query_string=query)
        assert response.status_code == 200, response.text
        body = response.get_json()
        assert set(body) == {"entries", "next_cursor"}
        assert len(body["entries"]) <= 2
        seen += [entry["seq"] for entry in body["entries"]]
        pages, cursor = pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(mine)) and pages == 3
    assert not set(seen) & set(theirs)

    flow.sign_in(client, other.id)
    assert [e["seq"] for e in client.get(DISCLOSURES).get_json()["entries"]] == list(reversed(theirs))


def test_a_disclosure_entry_names_app_agency_purpose_attributes_and_consent(client, db_session, citizen):
    seq = disclose(db_session, citizen, when=flow._now(), attributes=("name", "regadd"), consent_id="c-42")
    flow.sign_in(client, citizen.id)
    [entry] = [e for e in client.get(DISCLOSURES).get_json()["entries"] if e["seq"] == seq]
    assert set(entry) == ENTRY_KEYS
    assert entry["kind"] == "disclosure" and entry["outcome"] == "released"
    assert entry["app"] == {"id": CLIENT_ID, "name": APP_NAME, "agency": AGENCY}
    assert entry["purpose"] == {"id": PURPOSE, "text": PURPOSE_TEXT}
    assert entry["attributes"] == [
        {"name": "name", "label": "Principal name"},
        {"name": "regadd", "label": "Registered address"},
    ]
    assert entry["consent_id"] == "c-42"
    assert dt.datetime.fromisoformat(entry["time"]).tzinfo is not None
    assert "jti-1" not in json.dumps(entry), "token ids stay in the log"


# --- the real flow, then withdrawing -----------------------------------------------------------


def test_withdrawing_a_consent_is_audited_and_stops_its_token_at_once(
    client, db_session, keys, citizen, verifier, dpop_key
):
    code = get_code(client, citizen.id, verifier, attributes=["regadd"])
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    assert get_person(client, token, dpop_key).status_code == 200
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()

    entries = client.get(DISCLOSURES).get_json()["entries"]
    assert [e["kind"] for e in entries] == ["disclosure", "consent_granted"]
    disclosure = entries[0]
    assert disclosure["consent_id"] == consent.id and disclosure["app"]["name"] == APP_NAME
    assert {a["name"] for a in disclosure["attributes"]} == {"uinfin", "name", "regadd"}
    [record] = client.get(CONSENTS).get_json()["consents"]
    assert set(record) == CONSENT_KEYS
    # "this request only", released: used (its token still works for the rest of its 30 minutes)
    assert record["id"] == consent.id and record["status"] == "used" and record["revoked_at"] is None
    assert [a["name"] for a in record["approved"]] == sorted([*REQUIRED, "regadd"])
    assert [a["name"] for a in record["declined"]] == sorted(set(OPTIONAL) - {"regadd"})
    assert record["purpose"]["text"] == PURPOSE_TEXT and record["app"]["agency"] == AGENCY

    response = withdraw(client, consent.id)

    assert response.status_code == 303 and response.headers["Location"] == "/citizen/consents"
    assert "You withdrew your consent" in client.get("/citizen/consents").text
    [revoked] = revoked_entries(db_session, citizen)
    body = json.loads(revoked.body)
    assert body["app_id"] == CLIENT_ID and body["purpose"] == PURPOSE and body["outcome"] == "revoked"
    assert body["details"] == {"consent_id": consent.id, "by": "citizen"}
    db_session.refresh(consent)
    assert consent.revoked_at is not None
    refused = get_person(client, token, dpop_key)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"
    [record] = client.get(CONSENTS).get_json()["consents"]
    assert record["status"] == "withdrawn" and record["revoked_at"] is not None
    assert client.get(DISCLOSURES).get_json()["entries"][0]["kind"] == "consent_revoked"


def test_withdrawing_twice_records_one_revocation(client, db_session, citizen, verifier):
    get_code(client, citizen.id, verifier, attributes=[])
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    assert withdraw(client, consent.id).status_code == 303
    again = client.get(f"/citizen/consents/{consent.id}/withdraw")
    assert "already ended" in again.text and "Withdraw consent" not in again.text
    token = CSRF_INPUT.search(client.get("/citizen/consents").text).group(1)
    response = client.post(f"/citizen/consents/{consent.id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 303
    assert "had already ended" in client.get("/citizen/consents").text
    assert len(revoked_entries(db_session, citizen)) == 1


def test_withdrawing_needs_the_csrf_token(client, db_session, citizen, verifier):
    get_code(client, citizen.id, verifier, attributes=[])
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    response = withdraw(client, consent.id, csrf=False)
    assert response.status_code == 400
    db_session.refresh(consent)
    assert consent.revoked_at is None and revoked_entries(db_session, citizen) == []


def test_nobody_can_withdraw_or_see_another_citizens_consent(client, db_session, runtime, citizen, verifier):
    get_code(client, citizen.id, verifier, attributes=[])
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    assert client.get(CONSENTS).get_json() == {"consents": [], "next_cursor": None}
    assert client.get(DISCLOSURES).get_json() == {"entries": [], "next_cursor": None}
    path = f"/citizen/consents/{consent.id}/withdraw"
    assert client.get(path).status_code == 404
    token = CSRF_INPUT.search(client.get("/citizen/consents").text).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 404
    db_session.refresh(consent)
    assert consent.revoked_at is None
    assert client.get("/citizen/consents/not-a-uuid/withdraw").status_code == 404


# --- pages -------------------------------------------------------------------------------------


def test_the_dashboard_links_to_the_three_pages(client, citizen):
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/").text
    for href, text in [
        ("/citizen/profile", "My profile"),
        ("/citizen/history", "Who has my data"),
        ("/citizen/consents", "My consents"),
    ]:
        assert f'href="{href}">{text}</a>' in page


def test_profile_page_groups_by_agency_with_provenance_and_masks_only_the_nric(client, runtime, citizen):
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/profile")
    assert page.status_code == 200
    uinfin = reveal_uinfin(runtime.vault, citizen)
    assert uinfin not in page.text, "the NRIC is masked"
    assert f"••••{uinfin[-4:]}" in page.text
    assert page.text.count("••••") == 1, "nothing else is masked from its owner"
    assert "Government-verified" in page.text and "Last updated" in page.text
    # One collapsed group per agency, in the catalogue's order.
    groups = re.findall(r'<details class="govuk-details app-agency-group" id="agency-([a-z]+)"', page.text)
    held = [code for code in runtime.catalogue.agencies if f'id="agency-{code}"' in page.text]
    assert groups == held and groups[:2] == ["identity", "tax"]
    assert "<details open" not in page.text and " open>" not in page.text
    identity = record_for("identity", uinfin)
    passport = identity["passportnumber"]
    if "value" in passport:  # not every synthetic citizen holds one; regadd below is as sensitive
        assert passport["value"] in page.text, "highly sensitive, but the owner's own"
    address = identity["regadd"]
    street = f"{address['block']['value']} {address['street']['value']}"
    assert f"{street}<br>#{address['floor']['value']}-{address['unit']['value']}<br>" in page.text


def test_profile_summary_names_the_citizen_and_says_how_fresh(client, db_session, runtime, citizen):
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": "tan@example.com"},
        now=flow._now(),
    )
    db_session.commit()
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/profile").text
    summary = page[page.index('id="summary"') : page.index("</dl>", page.index('id="summary"'))]
    name = record_for("identity", reveal_uinfin(runtime.vault, citizen))["name"]["value"]
    assert name in summary
    assert "Last refreshed" in summary and "(Singapore time)" in summary
    assert "1 item" in summary, "one item declared"
    assert "Singapore time" in summary and "UTC" not in page
    # The declared group counts what the citizen declared, an agency's what it holds.
    declared = page[page.index('id="agency-citizen"') :].split("</summary>", 1)[0]
    assert re.search(r"\(1 of \d+ declared\)", declared) and "held)" not in declared
    identity = page[page.index('id="agency-identity"') :].split("</summary>", 1)[0]
    assert re.search(r"\(\d+ of \d+ held\)", identity)


def test_profile_shows_a_fields_earlier_values(client, db_session, runtime, citizen):
    later = flow._now() + dt.timedelta(days=1)
    family = record_for("family", reveal_uinfin(runtime.vault, citizen))
    # A change, whatever the synthetic citizen's status was: married, or single if married already.
    changed, word = (
        (SINGLE, "Single") if family["marital"].get("code") == MARRIED["code"] else (MARRIED, "Married")
    )
    apply_agency_record(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        agency="family",
        items={**family, "marital": changed},
        now=later,
    )
    db_session.commit()
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/profile").text
    row = page[page.index('id="field-marital"') :].split('<div class="govuk-summary-list__row"')[0]
    assert word in row and f"{word} ({changed['code']})" not in row and changed["desc"] not in row
    assert "Earlier values" in row
    earlier = row[row.index("Earlier values") :]
    assert "Until " + local(later) in earlier


def local(moment: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    from app.display_time import citizen_time

    return citizen_time(moment, ZoneInfo("Asia/Singapore"))


# --- the header, the home page and signing in --------------------------------------------------------


def header_of(page: str) -> str:
    return page[page.index("<header") : page.index("<main")]


def footer_of(page: str) -> str:
    return page[page.index("<footer") :]


def test_signed_out_the_header_offers_sign_in_and_no_staff_links(client):
    page = client.get("/").text
    header = header_of(page)
    assert 'href="/citizen/sign-in"' in header and "Sign in" in header
    for staff in ('href="/operator/', 'href="/admin/', 'href="/auditor/', "Operator", "Agency apps"):
        assert staff not in header, staff
    assert "Staff sign-in" in footer_of(page) and "Go to the audit log" in footer_of(page)
    main = page[page.index("<main") : page.index("<footer")]
    assert 'href="/citizen/sign-in"' in main, "the home page has a way in"
    assert "/operator/" not in main


def test_signed_in_the_header_says_your_account_with_the_citizens_name(client, runtime, citizen):
    flow.sign_in(client, citizen.id)
    name = record_for("identity", reveal_uinfin(runtime.vault, citizen))["name"]["value"]
    for path in ("/", f"/consent/{'x' * 20}"):
        header = header_of(client.get(path).text)
        assert "Your account" in header and name in header, path
        assert 'href="/citizen/"' in header and 'action="/citizen/sign-out"' in header
        assert 'href="/citizen/sign-in"' not in header and "Operator" not in header
    assert "Go to your account" in client.get("/").text


def test_the_sign_in_page_names_the_app_the_request_came_from(client, citizen, verifier):
    path = flow.consent_path(flow.authorize(client, verifier))
    to_sign_in = client.get(path)
    assert to_sign_in.status_code == 303
    location = to_sign_in.headers["Location"]
    assert location == f"/citizen/sign-in?next={path}"
    page = client.get(location).text
    heading = f"Sign in to share your details with {APP_NAME}"
    assert f'<h1 class="govuk-heading-l app-wrap">{heading}</h1>' in page
    assert f"<title>{heading} \N{EN DASH} Consentry</title>" in page


def test_the_sign_in_page_never_takes_a_name_from_the_link(client, citizen, verifier):
    path = flow.consent_path(flow.authorize(client, verifier))
    for next_path, heading in [
        (f"{path}?app=Evil+Corp", f"Sign in to share your details with {APP_NAME}"),
        ("/consent/not-a-real-request-id-at-all", "Sign in to Consentry"),
        ("/citizen/profile", "Sign in to Consentry"),
        ("https://evil.example/consent/x", "Sign in to Consentry"),
    ]:
        page = client.get("/citizen/sign-in", query_string={"next": next_path}).text
        assert f">{heading}</h1>" in page, next_path
        assert "Evil" not in re.sub(r'<input type="hidden"[^>]*>', "", page), "only in the next field"


def test_history_page_shows_labels_and_pages(client, db_session, citizen):
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    for n in range(21):
        disclose(db_session, citizen, when=start + dt.timedelta(minutes=n), attributes=("regadd",))
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/history")
    assert page.status_code == 200
    assert APP_NAME in page.text and AGENCY in page.text and PURPOSE_TEXT in page.text
    # 09:20 UTC is 5:20pm in Singapore, the default display zone, and the page says so.
    assert "Registered address" in page.text and "1 November 2026, 5:20pm" in page.text
    assert "Times are Singapore time." in page.text
    older = re.search(r'href="(/citizen/history\?cursor=[^"]+)"', page.text)
    assert older, "a link to the older entries"
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert "1 November 2026, 5pm" in second.text and "1 November 2026, 5:20pm" not in second.text
    assert client.get("/citizen/history?cursor=nonsense").status_code == 400
    assert client.get("/citizen/history?limit=5").status_code == 400


def test_consents_page_offers_withdraw_only_while_active(client, db_session, citizen, verifier):
    get_code(client, citizen.id, verifier, attributes=[])
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    page = client.get("/citizen/consents").text
    assert APP_NAME in page and PURPOSE_TEXT in page and "Active" in page
    assert f'href="/citizen/consents/{consent.id}/withdraw"' in page
    assert "This request only" in page
    withdraw(client, consent.id)
    page = client.get("/citizen/consents").text
    assert "Withdrawn" in page and f"/citizen/consents/{consent.id}/withdraw" not in page
    count = select(func.count()).select_from(Consent).where(Consent.citizen_id == citizen.id)
    assert db_session.scalar(count) == 1
