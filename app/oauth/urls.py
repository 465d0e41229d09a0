"""Our canonical public URLs per wire profile: what clients put in `aud`, `htu` and expect as
`iss` (MyInfo v4 spec §7), built from the configured public base URL, never from the request."""

from __future__ import annotations

from ..extensions import runtime

PATHS = {"myinfo-v4": "/com/v4"}


def issuer(profile: str) -> str:
    return runtime().config.public_base_url + PATHS[profile]


def endpoint(profile: str, name: str) -> str:
    """e.g. endpoint("myinfo-v4", "token") -> "https://host/com/v4/token"."""
    return f"{issuer(profile)}/{name}"
