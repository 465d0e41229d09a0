"""Our canonical public URLs per wire profile: what clients put in `aud`, `htu` and expect as
`iss` (MyInfo v4 spec §7), built from the configured public base URL, never from the request;
and the one other thing the shared consent step needs per profile, the code lifetime."""

from __future__ import annotations

import datetime as dt

from ..extensions import runtime

PATHS = {"myinfo-v4": "/com/v4", "myinfo-v5": "/fapi"}
CODE_TTL_S = {"myinfo-v5": 60}


def issuer(profile: str) -> str:
    return runtime().config.public_base_url + PATHS[profile]


def endpoint(profile: str, name: str) -> str:
    """e.g. endpoint("myinfo-v4", "token") -> "https://host/com/v4/token"."""
    return f"{issuer(profile)}/{name}"


def code_ttl(profile: str) -> dt.timedelta:
    """How long a code issued under `profile` may wait for redemption: 60 s for FAPI 2.0 (its
    §5.3.2.1 maximum, and Singpass's value), the configured lifetime for MyInfo v4."""
    return dt.timedelta(seconds=CODE_TTL_S.get(profile, runtime().config.authorization_code_ttl_s))
