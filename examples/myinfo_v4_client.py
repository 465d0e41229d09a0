"""A MyInfo v4 agency client, written the way an integrator would: Authlib's OAuth 2.0 client for
the code flow and PKCE, joserfc for the client assertion, DPoP proofs and the person response.

Nothing here is Consentry-specific: point `base_url` at real MyInfo and it speaks the same wire
(Singpass's MyInfo v4 API; what Consentry accepts and sends: docs/integration-v4.md). Usage:

    client = MyInfoV4Client(base_url=..., client_id=..., redirect_uri=...,
                            signing_key=my_es256_key, encryption_key=my_ecdh_key)
    url, verifier = client.authorization_url(scope=["uinfin", "name"], purpose_id="...")
    # send the browser to `url`; at the redirect URI, read ?code=...
    person = client.person(code=code, code_verifier=verifier, scope=["uinfin", "name"])

Authlib has no DPoP support and registers private_key_jwt for RS256 via the deprecated
authlib.jose, so both are small functions here over joserfc.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from authlib.common.urls import add_params_to_qs
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ServerError(Exception):
    """The server refused a call: `status` and its JSON error body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status, self.body = status, body


def dpop_proof(key: ECKey, *, method: str, url: str, access_token: str | None = None) -> str:
    """An RFC 9449 proof for one request, as the MyInfo connector builds it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "htu": url,
        "htm": method,
        "jti": secrets.token_urlsafe(30),
        "iat": now,
        "exp": now + 120,
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


class PrivateKeyJwt:
    """Authlib client-auth method: RFC 7523 assertion signed with our ES256 key, `cnf.jkt` naming
    the DPoP key of the same token request (what the MyInfo connector sends)."""

    name = "private_key_jwt"

    def __init__(self, key: ECKey, token_url: str) -> None:
        self.key, self.token_url = key, token_url
        self.dpop_jkt: str | None = None

    def __call__(self, auth, method, uri, headers, body):
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": auth.client_id,
            "sub": auth.client_id,
            "aud": self.token_url,
            "jti": secrets.token_urlsafe(30),
            "iat": now,
            "exp": now + 300,
        }
        if self.dpop_jkt:
            claims["cnf"] = {"jkt": self.dpop_jkt}
        assertion = jwt.encode({"alg": "ES256", "typ": "JWT", "kid": self.key.kid}, claims, self.key)
        params = [
            ("client_id", auth.client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]
        return uri, headers, add_params_to_qs(body or "", params)


class MyInfoV4Client:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        redirect_uri: str,
        signing_key: ECKey,
        encryption_key: ECKey,
    ) -> None:
        self.base = base_url.rstrip("/") + "/com/v4"
        self.jwks_url = base_url.rstrip("/") + "/.well-known/keys.json"
        self.encryption_key = encryption_key
        self.auth = PrivateKeyJwt(signing_key, f"{self.base}/token")
        self.oauth = OAuth2Session(
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self.auth,
        )

    def authorization_url(
        self, *, scope: list[str], purpose_id: str, state: str | None = None
    ) -> tuple[str, str]:
        """Where to send the citizen's browser, and the PKCE verifier to keep for `person`."""
        verifier = secrets.token_hex(32)
        url, _state = self.oauth.create_authorization_url(
            f"{self.base}/authorize",
            state=state or secrets.token_urlsafe(16),
            code_verifier=verifier,
            scope=" ".join(scope),
            purpose_id=purpose_id,
        )
        return url, verifier

    def person(self, *, code: str, code_verifier: str, scope: list[str]) -> dict[str, Any]:
        """Redeem the code (DPoP-bound), call the person API, decrypt and verify the response.

        The citizen may have approved fewer attributes than were asked for: only those the token
        grants are requested (the rest the form leaves for the citizen to type)."""
        dpop_key = ECKey.generate_key("P-256", auto_kid=True)
        token = self.token(code=code, code_verifier=code_verifier, dpop_key=dpop_key)
        granted = set(token.get("scope", "").split())
        wanted = [name for name in scope if name in granted]
        return self.fetch_person(token["access_token"], dpop_key=dpop_key, scope=wanted)

    def token(self, *, code: str, code_verifier: str, dpop_key: ECKey) -> dict[str, Any]:
        token_url = f"{self.base}/token"
        self.auth.dpop_jkt = dpop_key.thumbprint()
        try:
            return dict(
                self.oauth.fetch_token(
                    token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    timeout=10,
                    headers={
                        "DPoP": dpop_proof(dpop_key, method="POST", url=token_url),
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json",
                    },
                )
            )
        except Exception as exc:  # Authlib raises OAuthError with the server's error code
            response = getattr(exc, "response", None)
            raise ServerError(getattr(response, "status_code", 400), str(exc)) from exc

    def fetch_person(self, access_token: str, *, dpop_key: ECKey, scope: list[str]) -> dict[str, Any]:
        jwks = self.oauth.get(self.jwks_url, timeout=10, withhold_token=True)
        jwks.raise_for_status()
        keys = KeySet.import_key_set(jwks.json())
        claims = jwt.decode(access_token, keys, algorithms=["ES256"]).claims
        person_url = f"{self.base}/person/{claims['sub']}"
        response = self.oauth.get(
            person_url,
            timeout=10,
            withhold_token=True,
            params={"scope": " ".join(scope)},
            headers={
                "Authorization": f"DPoP {access_token}",
                "DPoP": dpop_proof(dpop_key, method="GET", url=person_url, access_token=access_token),
                "Cache-Control": "no-cache",
            },
        )
        if response.status_code != 200:
            raise ServerError(response.status_code, response.json())
        decrypted = jwe.decrypt_compact(
            response.text, self.encryption_key, algorithms=["ECDH-ES+A256KW", "A256GCM"]
        )
        signed = jws.deserialize_compact(decrypted.plaintext, keys, algorithms=["ES256"])
        return json.loads(signed.payload)
