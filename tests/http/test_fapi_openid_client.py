"""Interop with a certified OpenID Connect relying-party library (v5 spec §14, item 7): openid-client
6, which the Singpass Node demo uses, runs the Myinfo v5 flow against the live server with nothing
but our issuer URL and its keys: discovery, PAR with DPoP, private_key_jwt, the `iss` check on the
redirect, the encrypted ID token (by `kid`) and the encrypted `application/jwt` userinfo.

Needs Node and the library, so it skips without them:

    npm install --prefix /some/dir openid-client@6
    OPENID_CLIENT_DIR=/some/dir pytest tests/http/test_fapi_openid_client.py
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest

from consent.apps import register_app
from core.clock import utcnow
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.fapi.flow import citizen_with
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration

REDIRECT_URI = "http://localhost:3080/callback"
SCRIPT = Path(__file__).with_name("fapi_openid_client.mjs")
LIBRARY = Path(os.environ.get("OPENID_CLIENT_DIR", "/nonexistent")) / "node_modules"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (LIBRARY / "openid-client").is_dir(),
    reason="needs node and openid-client (set OPENID_CLIENT_DIR, see the module docstring)",
)


def run(step: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [NODE or "node", str(cwd / SCRIPT.name), step, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout.strip()


def test_openid_client_runs_the_v5_flow(live, tmp_path):
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"openid-client-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(
            keys, client_id=client_id, redirect_uris=[REDIRECT_URI], profiles=["myinfo-v5"]
        )
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = citizen_with(session, rt, "cpfbalances")
        uinfin = reveal_uinfin(rt.vault, citizen)
        totp = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow()).totp_secret
        session.commit()
    shutil.copy(SCRIPT, tmp_path / SCRIPT.name)  # ES modules resolve packages next to the script
    (tmp_path / "node_modules").symlink_to(LIBRARY)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "issuer": f"{live.url}/fapi",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid uinfin name regadd cpfbalances.oa",
                "sig": keys.signing.as_dict(private=True),
                "enc": keys.encryption.as_dict(private=True),
            }
        )
    )

    url = run("begin", str(config), cwd=tmp_path)
    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(url), uinfin=uinfin, totp=totp, approve=["cpfbalances"], redirect_uri=REDIRECT_URI
    )
    result = json.loads(run("finish", str(config), f"{REDIRECT_URI}?{urlencode(params)}", cwd=tmp_path))

    assert result["token_type"] == "dpop" and result["scope"] == "openid uinfin name cpfbalances.oa"
    assert result["claims"]["sub"] == citizen.id and result["claims"]["aud"] == client_id
    assert result["userinfo"]["sub"] == citizen.id
    person = result["userinfo"]["person_info"]
    assert set(person) == {"uinfin", "name", "cpfbalances"} and person["uinfin"]["value"] == uinfin
