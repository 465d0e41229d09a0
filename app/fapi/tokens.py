"""What the v5 token and userinfo endpoints hand out besides the access token: the ID token
(v5 spec §6) and the userinfo envelope (§8.1). Both are an ES256 JWS by our active key inside a
compact JWE to the client's strongest encryption key, with that key's `kid` (app.oauth.release.seal).

The ID token carries no personal data: `sub` is the citizen's pseudonymous id, and the data an app
may receive goes out through userinfo alone, the audited release path. So `sub_attributes`
(Singpass Login's copy of name, identity number, email, mobile number) is never sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from consent.grant_models import AuthorizationCode
from consent.models import AgencyApp

from ..extensions import Runtime
from ..oauth.release import seal
from .profile import ACR, AMR, ID_TOKEN_ENCRYPTION, ID_TOKEN_TTL_S, USERINFO_ENCRYPTION


def id_token(rt: Runtime, app: AgencyApp, grant: AuthorizationCode, *, issuer: str, now: dt.datetime) -> str:
    """The ID token for a redeemed code: iss, sub, aud (the client id, a string), iat, exp (10
    minutes), the PAR nonce, acr, amr and sub_type (SP-IDT). Raises JwksError when the app
    publishes no usable encryption key."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.citizen_id,
        "aud": app.client_id,
        "iat": iat,
        "exp": iat + ID_TOKEN_TTL_S,
        "nonce": grant.nonce,
        "acr": ACR,
        "amr": list(AMR),
        "sub_type": "user",
    }
    return seal(rt, app, claims, encryption=ID_TOKEN_ENCRYPTION)


def userinfo(
    rt: Runtime, app: AgencyApp, person: dict[str, Any], *, issuer: str, sub: str, now: dt.datetime
) -> str:
    """The userinfo response body: {person_info, iss, sub, aud, iat} with `iat` a number (v5 spec
    §8.1, §15 Q7) and `sub` the ID token's."""
    claims = {"iss": issuer, "sub": sub, "aud": app.client_id, "iat": int(now.timestamp())}
    return seal(rt, app, {"person_info": person}, claims=claims, encryption=USERINFO_ENCRYPTION)
