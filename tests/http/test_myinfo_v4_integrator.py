"""An agency app written the way an integrator writes one (examples/myinfo_v4_client.py: Authlib's
OAuth client, joserfc, its own keys) runs the whole MyInfo v4 flow against the real server over
loopback HTTP: the citizen signs in with password and authenticator code, approves some fields,
and the app decrypts and verifies exactly those."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
import requests
from joserfc.jwk import ECKey

from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import MyInfoV4Client, ServerError
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.oauth.flow import AgencyKeys, registration, setup_citizen

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIRECT_URI = "http://localhost:3001/callback"
PASSWORD = "correct horse battery staple"


class Browser:
    """The citizen's browser: follows our pages, stops at the app's redirect URI."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=10)

    def submit(self, url: str, page: requests.Response, fields: list[tuple[str, str]]) -> requests.Response:
        token = CSRF.search(page.text)
        assert token, page.text[:500]
        data = [*fields, ("csrf_token", token.group(1))]
        return self.http.post(urljoin(self.base, url), data=data, allow_redirects=False, timeout=10)

    def follow_to_app(self, response: requests.Response, *, uinfin: str, totp: str, approve: list[str]):
        """Sign in and approve whatever is on the consent screen; return the app's query params."""
        for _ in range(8):
            assert response.status_code in (200, 302, 303), response.text[:500]
            if response.status_code == 200:
                path = urlsplit(response.url).path
                if path.startswith("/citizen/sign-in"):
                    next_path = parse_qs(urlsplit(response.url).query).get("next", [""])[0]
                    fields = [("uinfin", uinfin), ("password", PASSWORD), ("code", pyotp.TOTP(totp).now())]
                    if next_path:
                        fields.append(("next", next_path))
                    response = self.submit(response.url, response, fields)
                else:
                    fields = [("decision", "approve"), ("remember", "request")]
                    fields += [("attributes", name) for name in approve]
                    response = self.submit(response.url, response, fields)
                continue
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            response = self.get(location)
        raise AssertionError("too many redirects")


@pytest.fixture
def integrator(live):
    """A registered app (unique client id), a citizen with agency data and a sign-in account."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"integrator-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        register_app(
            session,
            document=registration(keys, client_id=client_id, redirect_uris=[REDIRECT_URI]),
            catalogue=rt.catalogue,
            now=utcnow(),
        )
        session.commit()
        citizen = setup_citizen(session, rt)
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    client = MyInfoV4Client(
        base_url=live.url,
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        signing_key=keys.signing,
        encryption_key=keys.encryption,
    )
    return client, uinfin, enrolment.totp_secret


def test_an_integrators_client_gets_exactly_the_approved_fields(live, integrator, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    client, uinfin, totp = integrator
    scope = ["uinfin", "name", "regadd", "noa-basic", "cpfbalances"]
    url, verifier = client.authorization_url(scope=scope, purpose_id="grant", state="xyz")

    browser = Browser(live.url)
    params = browser.follow_to_app(browser.get(url), uinfin=uinfin, totp=totp, approve=["regadd"])

    assert params["state"] == "xyz" and params["iss"] == f"{live.url}/com/v4"
    person = client.person(code=params["code"], code_verifier=verifier, scope=["uinfin", "name", "regadd"])
    assert set(person) == {"uinfin", "name", "regadd"}
    assert person["uinfin"]["value"] == uinfin
    assert {"source", "classification", "lastupdated"} <= set(person["name"])

    with pytest.raises(ServerError) as replay:
        client.person(code=params["code"], code_verifier=verifier, scope=["name"])
    assert replay.value.status == 400 and "invalid_grant" in str(replay.value.body)


def test_asking_the_person_api_for_a_declined_field_is_forbidden(live, integrator, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    client, uinfin, totp = integrator
    url, verifier = client.authorization_url(scope=["uinfin", "name", "cpfbalances"], purpose_id="grant")
    browser = Browser(live.url)
    params = browser.follow_to_app(browser.get(url), uinfin=uinfin, totp=totp, approve=[])
    dpop_key = ECKey.generate_key("P-256")
    token = client.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    with pytest.raises(ServerError) as refused:
        client.fetch_person(token["access_token"], dpop_key=dpop_key, scope=["name", "cpfbalances"])
    assert refused.value.status == 403 and refused.value.body["error"] == "insufficient_scope"
