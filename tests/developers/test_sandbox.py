"""The demo's sandbox registration through the Flask test client, CSRF on: a test app from pasted
public keys or from a generated key pair (its private keys downloaded once), every refusal a 400
with the problem next to its field and nothing written, and no sandbox at all in production."""

from __future__ import annotations

import html
import json
import re

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from audit.models import AuditEntry
from consent.apps import find_purpose
from consent.models import AgencyApp
from tests.http.staff_flow import csrf_token

PAGE = "/developers/sandbox"
CLIENT_ID = re.compile(r'id="client-id">(sandbox-[0-9a-f]{12})<')
DOWNLOAD_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def public_jwks() -> tuple[dict, ECKey]:
    sig = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256", "kid": "s1"})
    enc = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW", "kid": "e1"})
    return {"keys": [sig.as_dict(private=False), enc.as_dict(private=False)]}, sig


def register(client, **fields):
    form = {
        "name": "Test bursary app",
        "redirect_uri": "http://127.0.0.1:3000/callback",
        "profiles": ["myinfo-v4"],
        "attributes": "uinfin name regadd",
        "keys": "generate",
        "csrf_token": csrf_token(client, PAGE),
        **fields,
    }
    return client.post(PAGE, data=form)


def field_error(page: str, field: str) -> str:
    """The GOV.UK error message shown with the field `field` (its id), or ''."""
    match = re.search(rf'<p id="{field}-error" class="govuk-error-message">(.*?)</p>', page, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


def test_form_page_has_csrf_and_every_field(client):
    page = client.get(PAGE).get_data(as_text=True)
    assert 'name="csrf_token"' in page
    for name in ("name", "redirect_uri", "profiles", "attributes", "keys", "jwks"):
        assert f'name="{name}"' in page


def test_post_without_csrf_is_refused_and_registers_nothing(client, db_session):
    before = set(db_session.scalars(select(AgencyApp.client_id)))
    response = client.post(PAGE, data={"name": "x", "keys": "generate"})
    assert response.status_code == 400
    assert set(db_session.scalars(select(AgencyApp.client_id))) == before


def test_generated_keys_register_an_app_and_download_once(client, db_session, runtime):
    response = register(client, profiles=["myinfo-v4", "myinfo-v5"])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    client_id = CLIENT_ID.search(page).group(1)
    app = db_session.get(AgencyApp, client_id)
    assert app.profiles == ["myinfo-v4", "myinfo-v5"]
    assert app.allowed_attributes == ["name", "regadd", "uinfin"]
    assert find_purpose(db_session, client_id, "sandbox").required_attributes == ["name", "regadd", "uinfin"]
    assert all("d" not in key for key in app.jwks["keys"])
    outcomes = db_session.scalars(select(AuditEntry.outcome).where(AuditEntry.app_id == client_id))
    assert list(outcomes) == ["registered"]

    token = DOWNLOAD_TOKEN.search(page).group(1)
    path = f"{PAGE}/{client_id}/keys"
    download = client.post(path, data={"token": token, "csrf_token": csrf_token(client, PAGE)})
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    keyfile = json.loads(download.get_data())
    assert keyfile["client_id"] == client_id
    private = {key["use"]: ECKey.import_key(key) for key in keyfile["keys"]}
    registered = {key["kid"]: key for key in app.jwks["keys"]}
    for key in private.values():
        assert key.as_dict(private=False) == registered[key.kid]
    # The private signing key signs what the registered public key verifies.
    signed = jwt.encode({"alg": "ES256"}, {"iss": client_id}, private["sig"])
    public = ECKey.import_key(registered[private["sig"].kid])
    assert jwt.decode(signed, public).claims == {"iss": client_id}

    again = client.post(path, data={"token": token, "csrf_token": csrf_token(client, PAGE)})
    assert again.status_code == 404


def test_download_needs_the_browser_that_registered(app, client):
    page = register(client).get_data(as_text=True)
    client_id, token = CLIENT_ID.search(page).group(1), DOWNLOAD_TOKEN.search(page).group(1)
    other = app.test_client()
    response = other.post(
        f"{PAGE}/{client_id}/keys", data={"token": token, "csrf_token": csrf_token(other, PAGE)}
    )
    assert response.status_code == 404


def test_pasted_public_keys_register_without_a_download(client, db_session):
    jwks, _sig = public_jwks()
    response = register(client, keys="paste", jwks=json.dumps(jwks))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert DOWNLOAD_TOKEN.search(page) is None
    app = db_session.get(AgencyApp, CLIENT_ID.search(page).group(1))
    assert app.jwks == jwks


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": ""}, "name", "Enter a name"),
        ({"redirect_uri": "http://example.com/cb"}, "redirect_uri", "http is allowed only on a loopback"),
        ({"profiles": []}, "profiles", "Choose at least one version"),
        ({"attributes": "uinfin nosuchthing"}, "attributes", "unknown: ['nosuchthing']"),
        ({"keys": "paste", "jwks": ""}, "jwks", "Paste your public keys as a JWKS"),
        ({"keys": "paste", "jwks": "{not json"}, "jwks", "not valid JSON"),
        ({"keys": "paste", "jwks": '{"keys": []}'}, "jwks", "needs a signing key"),
    ],
)
def test_refusals_are_shown_next_to_their_field_and_write_nothing(client, db_session, fields, field, words):
    before = set(db_session.scalars(select(AgencyApp.client_id)))
    response = register(client, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert words in field_error(page, field)
    assert "govuk-error-summary" in page
    assert f'href="#{field}"' in page
    assert set(db_session.scalars(select(AgencyApp.client_id))) == before


def test_a_published_private_key_is_refused(client, db_session):
    sig = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"})
    enc = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"})
    jwks = {"keys": [sig.as_dict(private=True), enc.as_dict(private=False)]}
    response = register(client, keys="paste", jwks=json.dumps(jwks))
    assert response.status_code == 400
    assert "private key material" in field_error(response.get_data(as_text=True), "jwks")


def test_no_sandbox_in_production(app, client):
    runtime = app.extensions["consentry"]
    token = csrf_token(client, PAGE)
    runtime.config = runtime.config.replace(env="production")
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, data={"csrf_token": token, "keys": "generate"}).status_code == 404
    assert 'href="/developers/sandbox"' not in client.get("/developers/").get_data(as_text=True)


def test_no_sandbox_when_switched_off(app, client):
    app.config["DEVELOPER_SANDBOX"] = False
    assert client.get(PAGE).status_code == 404
    assert "Ask the operator of this service" in client.get("/developers/").get_data(as_text=True)
