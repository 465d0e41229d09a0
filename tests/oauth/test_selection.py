"""The release rule both resource endpoints share (app.oauth.selection): anything requested may be
asked, what the citizen declined is absent, what was never requested is insufficient_scope."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.oauth.selection import select_release, within
from app.oauth.wire import OAuthError


def grant(*, requested, approved):
    return SimpleNamespace(token=SimpleNamespace(requested_scope=requested, scope=approved))


V4 = grant(requested=["uinfin", "name", "regadd", "cpfbalances"], approved=["uinfin", "name"])
V5 = grant(
    requested=["openid", "uinfin", "cpfbalances.oa", "vehicles.make"], approved=["uinfin", "cpfbalances"]
)


def test_declined_items_are_absent_and_the_ask_is_kept():
    chosen = select_release(V4, {"scope": "uinfin name"}, ["name", "regadd", "uinfin"])
    assert chosen.attributes == ["name", "uinfin"] and chosen.subfields == {}
    assert chosen.asked == ["name", "regadd", "uinfin"]


def test_no_ask_means_everything_requested_openid_aside():
    chosen = select_release(V5, {"scope": "openid uinfin cpfbalances.oa"})
    assert chosen.asked == ["uinfin", "cpfbalances.oa", "vehicles.make"]
    assert chosen.attributes == ["uinfin", "cpfbalances"] and chosen.subfields == {"cpfbalances": ["oa"]}


def test_a_sub_attribute_of_a_requested_attribute_narrows_it():
    approved = grant(requested=["uinfin", "cpfbalances"], approved=["uinfin", "cpfbalances"])
    chosen = select_release(approved, {"scope": "uinfin cpfbalances"}, ["cpfbalances.oa", "cpfbalances.ma"])
    assert chosen.attributes == ["cpfbalances"] and chosen.subfields == {"cpfbalances": ["oa", "ma"]}


@pytest.mark.parametrize(
    ("token", "asked", "named"),
    [
        (V4, ["name", "vehicles"], "vehicles"),
        (V4, ["cpfbalances.xx"], "cpfbalances.xx"),  # not a catalog sub-attribute
        (V5, ["cpfbalances"], "cpfbalances"),  # the whole of what was asked only in part
        (V5, ["cpfbalances.ma"], "cpfbalances.ma"),
    ],
)
def test_what_was_never_requested_is_insufficient_scope(token, asked, named):
    with pytest.raises(OAuthError) as refused:
        select_release(token, {"scope": ""}, asked)
    assert refused.value.code == "insufficient_scope" and refused.value.status == 403
    assert refused.value.message == f"not part of the authorisation request: {named}"


def test_a_token_without_a_requested_scope_may_be_asked_what_it_grants():
    old = grant(requested=None, approved=["uinfin", "name"])
    assert select_release(old, {"scope": "uinfin name"}).attributes == ["uinfin", "name"]
    with pytest.raises(OAuthError):
        select_release(old, {"scope": "uinfin name"}, ["regadd"])


def test_an_ask_for_nothing_is_invalid_request():
    with pytest.raises(OAuthError) as refused:
        select_release(V5, {"scope": ""}, ["openid"])
    assert refused.value.code == "invalid_request"


def test_within():
    assert within("drivinglicence.qdl.expirydate", ["drivinglicence"])
    assert not within("drivinglicence", ["drivinglicence.qdl.expirydate"])
    assert not within("vehicles.make", ["cpfbalances"])
