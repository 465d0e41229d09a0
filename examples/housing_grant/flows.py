"""The two ways to retrieve the applicant's details: Myinfo v4 (examples/myinfo_v4_client.py) and
Myinfo v5 on FAPI 2.0 (examples/fapi_client.py). Both give the form the same thing: Myinfo's
person items.

A flow `begin`s a sign-in (where to send the browser, and what to keep server-side until it comes
back) and `finish`es it from the callback's query. Both check the callback the same way first:
our state, the issuer we sent the browser to (RFC 9207), then whether the citizen declined.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from examples.fapi_client import FapiClient, FapiError, Login
from examples.myinfo_v4_client import MyInfoV4Client, ServerError


class Declined(Exception):
    """The citizen chose not to share (the authorization server answered access_denied)."""


class Failed(Exception):
    """Anything else: a callback that is not ours, a refusal, an answer that fails a check."""


class Flow(Protocol):
    name: str

    def begin(self) -> tuple[str, dict[str, Any]]: ...

    def finish(self, pending: dict[str, Any], callback: Mapping[str, str]) -> dict[str, Any]: ...


def check_callback(callback: Mapping[str, str], *, state: str, issuer: str) -> None:
    """Raise Failed unless the redirect answers our request from our issuer; Declined when the
    citizen said no."""
    if not hmac.compare_digest(callback.get("state", ""), state):
        raise Failed("state does not match")
    if callback.get("iss") != issuer:
        raise Failed("iss is not our issuer")
    if callback.get("error") == "access_denied":
        raise Declined()
    if "error" in callback or "code" not in callback:
        raise Failed(f"authorization error {callback.get('error', 'without a code')}")


@dataclass
class V4Flow:
    client: MyInfoV4Client
    issuer: str  # the `iss` v4 puts in its redirect: {base}/com/v4
    scope: list[str]
    purpose_id: str
    name: str = "v4"

    def begin(self) -> tuple[str, dict[str, Any]]:
        state = secrets.token_urlsafe(24)
        url, verifier = self.client.authorization_url(
            scope=self.scope, purpose_id=self.purpose_id, state=state
        )
        return url, {"state": state, "verifier": verifier}

    def finish(self, pending: dict[str, Any], callback: Mapping[str, str]) -> dict[str, Any]:
        check_callback(callback, state=pending["state"], issuer=self.issuer)
        try:
            return self.client.person(
                code=callback["code"], code_verifier=pending["verifier"], scope=self.scope
            )
        except (ServerError, OSError, JoseError, ValueError, KeyError) as exc:  # refused, down, or garbled
            raise Failed(f"v4 person: {type(exc).__name__} {getattr(exc, 'status', '')}") from exc


@dataclass
class V5Flow:
    client: FapiClient
    scope: list[str]
    name: str = "v5"

    def begin(self) -> tuple[str, dict[str, Any]]:
        try:
            login = self.client.begin(scope=self.scope)  # discovery, then PAR
        except (FapiError, httpx.HTTPError) as exc:
            raise Failed(f"v5 PAR: {type(exc).__name__} {getattr(exc, 'status', '')}") from exc
        pending = {
            "state": login.state,
            "nonce": login.nonce,
            "code_verifier": login.code_verifier,
            # The DPoP key must sign the token request too; kept server-side, never in a cookie.
            "dpop_key": login.dpop_key.as_dict(private=True),
        }
        return login.authorization_url, pending

    def finish(self, pending: dict[str, Any], callback: Mapping[str, str]) -> dict[str, Any]:
        check_callback(callback, state=pending["state"], issuer=self.client.issuer)
        login = Login(
            authorization_url="",
            state=pending["state"],
            nonce=pending["nonce"],
            code_verifier=pending["code_verifier"],
            dpop_key=ECKey.import_key(pending["dpop_key"]),
        )
        try:
            return self.client.finish(login, dict(callback)).person_info
        except (FapiError, httpx.HTTPError, JoseError, ValueError, KeyError) as exc:
            raise Failed(f"v5 finish: {type(exc).__name__} {getattr(exc, 'status', '')}") from exc
