"""Both sides of a release hold the same receipt, over loopback HTTP: an integrator's app runs the
real MyInfo v4 flow, then asks for the receipts of the releases under its access token
(authenticated by its own client assertion); the citizen, signed in, downloads the same receipt
from "Who has my data"; each copy passes `python -m consent.receipt_verify` against the live
server's receipt keys."""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from examples.myinfo_v4_client import ASSERTION_TYPE
from tests.http.citizen_browser import Browser
from tests.http.test_myinfo_v4_integrator import REDIRECT_URI, integrator  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def assertion(key: ECKey, client_id: str, aud: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "jti": secrets.token_urlsafe(16)}
    return jwt.encode(
        {"alg": "ES256", "typ": "JWT", "kid": key.kid}, claims | {"iat": now, "exp": now + 60}, key
    )


def claims_of(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verify_cli(path: Path, live_url: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "consent.receipt_verify",
        str(path),
        "--jwks",
        f"{live_url}/.well-known/receipt-keys",
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_the_app_and_the_citizen_hold_the_same_verifiable_receipt(live, integrator, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    client, uinfin, totp = integrator
    url, verifier = client.authorization_url(scope=["uinfin", "name", "regadd"], purpose_id="grant")
    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(url), uinfin=uinfin, totp=totp, approve=["regadd"], redirect_uri=REDIRECT_URI
    )
    dpop_key = ECKey.generate_key("P-256", auto_kid=True)
    token = client.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    client.fetch_person(token["access_token"], dpop_key=dpop_key, scope=["uinfin", "name", "regadd"])
    jti = claims_of(token["access_token"])["jti"]  # the app reads its token's jti

    receipts_url = f"{live.url}/api/agency-apps/receipts"
    form = {
        "client_id": client.oauth.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(client.auth.key, client.oauth.client_id, receipts_url),
        "token_jti": jti,
    }
    answer = requests.post(receipts_url, data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    (apps_copy,) = answer.json()["receipts"]
    assert apps_copy["receipt"]["event"]["type"] == "released"
    assert apps_copy["receipt"]["pii_categories"]["released"] == ["name", "regadd", "uinfin"]
    seq = apps_copy["receipt"]["audit"]["seq"]

    again = {
        **form,
        "client_assertion": assertion(client.auth.key, client.oauth.client_id, f"{receipts_url}/{seq}"),
    }
    del again["token_jti"]
    single = requests.post(f"{receipts_url}/{seq}", data=again, timeout=10)
    assert single.status_code == 200 and single.json() == apps_copy

    history = browser.get("/citizen/history")
    assert f'href="/citizen/receipts/{seq}"' in history.text
    download = browser.get(f"/citizen/receipts/{seq}/download")
    assert download.status_code == 200
    assert download.json()["jws"] == apps_copy["jws"]  # the same bytes on both sides
    assert uinfin not in download.text

    for name, text in (("app.json", json.dumps(apps_copy)), ("citizen.json", download.text)):
        path = tmp_path / name
        path.write_text(text)
        result = verify_cli(path, live.url)
        assert result.returncode == 0, result.stderr
        assert re.match(rf"valid: urn:consentry:receipt:[^:]+:{seq}: released", result.stdout)

    unauthenticated = requests.post(
        f"{receipts_url}/{seq}", data={"client_id": client.oauth.client_id}, timeout=10
    )
    assert unauthenticated.status_code == 401
