"""What a resource call releases (MyInfo v4 person, Myinfo v5 userinfo): one rule for both.

A call may ask for anything that was part of the authorisation request. An item the citizen
declined is simply absent from the answer, which is 200 with what was approved: a narrower grant
than asked is ordinary OAuth (RFC 6749 §3.3), and the token response's `scope` already names what
was granted. Only a value that was never part of the authorisation is `insufficient_scope` (403,
RFC 6750 §3.1). So the official MyInfo v4 connector, which always asks the person API for its
whole configured scope, gets the citizen's partial approval instead of an error.

Sub-attributes (`cpfbalances.oa`, v5 spec §8.3) follow the same rule: one is part of the
authorisation when it, or an attribute it lies under (`cpfbalances`), was requested; it goes out
when its attribute was approved, narrowed to the members asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consent.token_grants import Grant

from ..fapi.scopes import OPENID, SUB_ATTRIBUTES, parent, release_selection
from .wire import OAuthError

MAX_NAMED = 200  # characters of offending values named in an error description


@dataclass(frozen=True)
class Selection:
    """The data scope values a call asked for (`openid` aside), and what of them goes out: the
    attributes, and for each asked only in part, the sub-paths to keep."""

    asked: list[str]
    attributes: list[str]
    subfields: dict[str, list[str]]


def select_release(grant: Grant, claims: Mapping[str, Any], asked: Sequence[str] | None = None) -> Selection:
    """What a call under `grant` (its access token's `claims`) asking for `asked` (None: all that
    was requested) releases. Raises OAuthError: `invalid_request` when it asks for no data,
    `insufficient_scope` (403) naming the values that were never part of the authorisation."""
    requested = grant.token.requested_scope
    if requested is None:  # a token issued before requested scopes were kept: what it grants
        requested = claims["scope"].split()
    values = [value for value in dict.fromkeys(requested if asked is None else asked) if value != OPENID]
    if not values:
        raise OAuthError("invalid_request", "scope names no attribute")
    if outside := [value for value in values if not within(value, requested)]:
        named = " ".join(sorted(outside))
        named = named if len(named) <= MAX_NAMED else named[:MAX_NAMED] + "..."
        raise OAuthError("insufficient_scope", f"not part of the authorisation request: {named}", status=403)
    attributes, subfields = release_selection(values, grant.token.scope)
    return Selection(asked=values, attributes=attributes, subfields=subfields)


def within(value: str, requested: Sequence[str]) -> bool:
    """Whether `value` was part of a request for `requested`: named itself, or a catalog
    sub-attribute of a requested attribute or sub-attribute (`cpfbalances.oa` under `cpfbalances`)."""
    if value in requested:
        return True
    name, _dot, path = value.partition(".")
    if path not in SUB_ATTRIBUTES.get(name, ()):
        return False
    return any(value.startswith(prefix + ".") for prefix in requested if parent(prefix) == name)
