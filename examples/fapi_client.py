"""A Myinfo v5 (Singpass FAPI 2.0) relying party, written the way an integrator would: httpx for
HTTP and joserfc for JOSE (Authlib's client has neither PAR nor DPoP), its own keys, every URL
taken from the issuer's discovery document.

Nothing here is Consentry-specific: give it another FAPI 2.0 issuer and its keys and it speaks
the same wire (Singpass's FAPI 2.0 integration guide; ours: docs/integration-v5.md). Usage:

    client = FapiClient(issuer="https://host/fapi", client_id=..., redirect_uri=...,
                        signing_key=my_es256_key, encryption_key=my_ecdh_key)
    login = client.begin(scope=["uinfin", "name", "cpfbalances.oa"])
    # keep `login` in the user's session; send the browser to login.authorization_url;
    # at the redirect URI, with the query parameters it arrived with:
    result = client.finish(login, callback_params)
    result.id_token["sub"], result.person_info["name"]["value"]

Each login uses a fresh DPoP key for PAR, token and userinfo (SP-DPOP). `nimbus_style=True`
behaves like the Singpass Java demo instead: assertion `aud` = the endpoint's URL, DPoP `jwk` with
`kid` and `alg`, and no `client_id` in the token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwe, jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWE_ALGORITHMS = ["ECDH-ES+A256KW", "ECDH-ES+A192KW", "ECDH-ES+A128KW", "A256CBC-HS512", "A256GCM"]
LEEWAY_S = 30


class FapiError(Exception):
    """The issuer refused a call (`status`, its JSON error body), or its answer failed a check."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(f"{message}: {status} {body}" if status else message)
        self.status, self.body = status, body


@dataclass
class Login:
    """What the relying party keeps between sending the browser away and its return."""

    authorization_url: str
    state: str
    nonce: str
    code_verifier: str
    dpop_key: ECKey = field(repr=False)


@dataclass
class Result:
    id_token: dict[str, Any]
    userinfo: dict[str, Any]
    token_response: dict[str, Any]

    @property
    def person_info(self) -> dict[str, Any]:
        return self.userinfo["person_info"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class FapiClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        redirect_uri: str,
        signing_key: ECKey,
        encryption_key: ECKey,
        http: httpx.Client | None = None,
        nimbus_style: bool = False,
    ) -> None:
        self.issuer, self.client_id, self.redirect_uri = issuer, client_id, redirect_uri
        self.signing_key, self.encryption_key = signing_key, encryption_key
        self.http = http or httpx.Client(timeout=10, follow_redirects=False)
        self.nimbus_style = nimbus_style
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    # --- discovery and keys ------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once (cache it for an hour or more, SP-DISC)."""
        if self._metadata is None:
            response = self.http.get(f"{self.issuer}/.well-known/openid-configuration")
            self._check(response, 200)
            document = response.json()
            if document.get("issuer") != self.issuer:  # byte for byte (RFC 8414 §3.3)
                raise FapiError("the discovery document names another issuer")
            self._metadata = document
        return self._metadata

    def issuer_keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            response = self.http.get(self.metadata()["jwks_uri"])
            self._check(response, 200)
            self._jwks = KeySet.import_key_set(response.json())
        return self._jwks

    # --- the login ---------------------------------------------------------------------------

    def begin(self, *, scope: list[str]) -> Login:
        """Push the authorization request (PAR, DPoP-bound) and return where to send the browser."""
        meta = self.metadata()
        login = Login(
            authorization_url="",
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            dpop_key=ECKey.generate_key("P-256", auto_kid=self.nimbus_style),
        )
        challenge = b64url(hashlib.sha256(login.code_verifier.encode("ascii")).digest())
        par_url = meta["pushed_authorization_request_endpoint"]
        form = {
            "response_type": "code",
            "client_id": self.client_id,
            "scope": " ".join(["openid", *scope]),
            "redirect_uri": self.redirect_uri,
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(par_url),
        }
        response = self.http.post(
            par_url, data=form, headers={"DPoP": self.dpop_proof(login.dpop_key, "POST", par_url)}
        )
        self._check(response, 201)  # RFC 9126 §2.2: exactly 201
        query = urlencode({"client_id": self.client_id, "request_uri": response.json()["request_uri"]})
        login.authorization_url = f"{meta['authorization_endpoint']}?{query}"
        return login

    def finish(self, login: Login, callback: dict[str, str]) -> Result:
        """Check the redirect (state, iss, error), redeem the code, open and check the ID token,
        fetch and open userinfo. Raises FapiError."""
        if not hmac.compare_digest(callback.get("state", ""), login.state):
            raise FapiError("the redirect's state is not this login's")
        if callback.get("iss") != self.issuer:  # RFC 9207; the metadata says it is always sent
            raise FapiError("the redirect's iss is not our issuer")
        if "error" in callback:
            raise FapiError(f"authorization refused: {callback['error']}")
        tokens = self.token(login, callback["code"])
        id_token = self.open_id_token(tokens["id_token"], nonce=login.nonce)
        info = self.userinfo(tokens["access_token"], login.dpop_key)
        if info.get("sub") != id_token["sub"]:
            raise FapiError("userinfo is about someone other than the ID token's subject")
        return Result(id_token=id_token, userinfo=info, token_response=tokens)

    def token(self, login: Login, code: str) -> dict[str, Any]:
        token_url = self.metadata()["token_endpoint"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": login.code_verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(token_url),
        }
        if not self.nimbus_style:
            form["client_id"] = self.client_id
        response = self.http.post(
            token_url, data=form, headers={"DPoP": self.dpop_proof(login.dpop_key, "POST", token_url)}
        )
        self._check(response, 200)
        tokens = response.json()
        if tokens.get("token_type", "").lower() != "dpop" or "id_token" not in tokens:
            raise FapiError("expected a DPoP-bound access token and an ID token")
        return tokens

    def userinfo(self, access_token: str, dpop_key: ECKey) -> dict[str, Any]:
        url = self.metadata()["userinfo_endpoint"]
        response = self.http.get(
            url,
            headers={
                "Authorization": f"DPoP {access_token}",
                "DPoP": self.dpop_proof(dpop_key, "GET", url, access_token=access_token),
                "Accept": "application/jwt",
            },
        )
        self._check(response, 200)
        if response.headers.get("content-type", "").split(";")[0] != "application/jwt":
            raise FapiError("userinfo must be application/jwt")
        claims = self._open(response.text)
        if claims.get("iss") != self.issuer or claims.get("aud") != self.client_id:
            raise FapiError("userinfo was not issued by our issuer for us")
        if not isinstance(claims.get("iat"), int):
            raise FapiError("userinfo iat must be a number")
        return claims

    def open_id_token(self, token: str, *, nonce: str) -> dict[str, Any]:
        """Decrypt, verify the signature with the issuer's keys, then iss, aud, exp, iat, nonce
        (SP-IDT; OpenID Connect Core §3.1.3.7)."""
        claims = self._open(token)
        now = time.time()
        if claims.get("iss") != self.issuer or claims.get("aud") != self.client_id:
            raise FapiError("the ID token was not issued by our issuer for us")
        if not isinstance(claims.get("exp"), int) or claims["exp"] + LEEWAY_S <= now:
            raise FapiError("the ID token has expired")
        if not isinstance(claims.get("iat"), int) or claims["iat"] > now + LEEWAY_S:
            raise FapiError("the ID token was issued in the future")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise FapiError("the ID token's nonce is not this login's")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise FapiError("the ID token has no subject")
        return claims

    # --- JOSE --------------------------------------------------------------------------------

    def _open(self, compact: str) -> dict[str, Any]:
        """JWE (to our encryption key, by its kid) around a JWS by the issuer (ES256, by kid)."""
        try:
            decrypted = jwe.decrypt_compact(compact, self.encryption_key, algorithms=JWE_ALGORITHMS)
        except JoseError as exc:
            raise FapiError(f"cannot decrypt: {exc}") from exc
        if decrypted.protected.get("kid") != self.encryption_key.kid:
            raise FapiError("encrypted to a key other than ours")
        signed = decrypted.plaintext
        try:
            verified = jws.deserialize_compact(signed, self.issuer_keys(), algorithms=["ES256"])
        except JoseError:
            # An unknown kid: the issuer rotated. Refetch its keys once (SP-LEG jwks).
            verified = jws.deserialize_compact(signed, self.issuer_keys(refresh=True), algorithms=["ES256"])
        return json.loads(verified.payload)

    def client_assertion(self, endpoint_url: str) -> str:
        """private_key_jwt (RFC 7523) as oauth4webapi signs it: header {alg, kid}; aud the issuer
        (or, Nimbus-style, the URL being called); 60 s; a fresh jti."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": endpoint_url if self.nimbus_style else self.issuer,
            "jti": secrets.token_urlsafe(32),
            "iat": now,
            "exp": now + 60,
        }
        alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[self.signing_key.curve_name]
        header = {"alg": alg, "kid": self.signing_key.kid}
        if self.nimbus_style:
            header["typ"] = "JWT"
        return jwt.encode(header, claims, self.signing_key, algorithms=[alg])

    def dpop_proof(self, key: ECKey, method: str, url: str, *, access_token: str | None = None) -> str:
        """RFC 9449 proof: htm, htu, a fresh jti, iat; ath at userinfo; no exp (as openid-client)."""
        claims: dict[str, Any] = {
            "htm": method,
            "htu": url,
            "jti": secrets.token_urlsafe(32),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        jwk = key.as_dict(private=False)
        if self.nimbus_style:
            jwk = {**jwk, "alg": "ES256"}
        else:
            jwk.pop("kid", None)
        return jwt.encode({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, claims, key, algorithms=["ES256"])

    @staticmethod
    def _check(response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text[:200]
            raise FapiError("the issuer refused the call", status=response.status_code, body=body)
