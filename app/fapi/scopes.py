"""The Myinfo v5 scope language (v5 spec §8.3): space-delimited and case-sensitive; `openid`
mandatory; every other value a catalog attribute (`uinfin`, `regadd`) or a dotted sub-attribute
of one (`cpfbalances.oa`, `vehicles.make`, `drivinglicence.qdl.expirydate`).

The consent engine works on attributes: a request for `cpfbalances.oa` asks the citizen about
`cpfbalances`, and the release then sends only its `oa` member (app.oauth.release.narrow). The
dotted ids accepted are exactly Singpass's data catalog ids (as crawled, March-April 2026) whose
parent is in our attribute catalogue, and exactly those are advertised in `scopes_supported`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from profile_store.catalogue import Catalogue

from ..oauth.wire import OAuthError

OPENID = "openid"
# Singpass's Login scopes (SP-PAR, SP-IDT), answered in the ID token's `sub_attributes`:
# `user.identity` (the identity number, its country and the account type) is about `uinfin`; the
# others are catalogue attributes, which a Myinfo app also receives in `person_info`.
IDENTITY = "user.identity"
LOGIN_SCOPES = (IDENTITY, "name", "email", "mobileno")
_LICENCE_FIELDS = ("licencename", "vocationallicencenumber", "expirydate", "status")
# Singpass's catalog (SP-CAT), parent attribute -> its dotted sub-attribute ids.
SUB_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    name: tuple(fields.split())
    for name, fields in {
        "cpfbalances": "oa ma ra sa",
        "cpfinvestmentscheme": "account sdsnetshareholdingqty saqparticipationstatus",
        "childrenbirthrecords": "birthcertno name aliasname hanyupinyinname hanyupinyinaliasname "
        "marriedname sex race secondaryrace dob tob dialect lifestatus vaccinationrequirements "
        "sgcitizenatbirthind",
        "sponsoredchildrenrecords": "nric name aliasname hanyupinyinname hanyupinyinaliasname "
        "marriedname sex race secondaryrace dialect dob birthcountry lifestatus residentialstatus "
        "nationality scprgrantdate vaccinationrequirements",
        "academicqualifications": "transcripts certificates",
        "ltavocationallicences": " ".join(
            f"{licence}.{field}"
            for licence in ("tdvl", "pdvl", "bavl", "bdvl", "odvl")
            for field in _LICENCE_FIELDS
        ),
        "hdbownership": "noofowners address hdbtype leasecommencementdate termoflease dateofpurchase "
        "dateofownershiptransfer loangranted originalloanrepayment balanceloanrepayment "
        "outstandingloanbalance monthlyloaninstalment purchaseprice outstandinginstalment",
        "drivinglicence": "comstatus totaldemeritpoints suspension.startdate suspension.enddate "
        "disqualification.startdate disqualification.enddate revocation.startdate revocation.enddate "
        "pdl.validity pdl.expirydate pdl.classes qdl.validity qdl.expirydate qdl.classes "
        "photocardserialno",
        "vehicles": "vehicleno type iulabelno make model chassisno engineno motorno yearofmanufacture "
        "firstregistrationdate originalregistrationdate coecategory coeexpirydate roadtaxexpirydate "
        "quotapremium openmarketvalue co2emission status primarycolour secondarycolour attachment1 "
        "attachment2 attachment3 scheme thcemission coemission noxemission pmemission enginecapacity "
        "powerrate effectiveownership propellant maximumunladenweight maximumladenweight "
        "minimumparfbenefit nooftransfers vpc",
        "pioneergen": "eligibility",
        "merdekagen": "eligibility",
    }.items()
}


@dataclass(frozen=True)
class RequestedScope:
    """A checked v5 scope: the attributes the consent is about, in request order, and the values
    as the client sent them (duplicates dropped), which the access token carries on."""

    attributes: list[str]
    values: list[str]


def supported_scopes(catalogue: Catalogue) -> list[str]:
    """Every scope value we accept: `openid`, `user.identity`, our catalogue's attributes, and the
    catalog's dotted sub-attributes of those."""
    dotted = [
        f"{name}.{field}"
        for name, fields in sorted(SUB_ATTRIBUTES.items())
        if name in catalogue
        for field in fields
    ]
    identity = [IDENTITY] if attribute_of(IDENTITY) in catalogue else []
    return [OPENID, *identity, *sorted(catalogue.names()), *dotted]


def parse_scope(scope: str, catalogue: Catalogue) -> RequestedScope:
    """Check a v5 `scope` parameter. OAuthError(invalid_scope) without `openid`, with a value
    that is neither an attribute nor a known sub-attribute, or naming no attribute at all (a
    Myinfo app asks for data; there is nothing to consent to in `openid` alone)."""
    values = list(dict.fromkeys(scope.split()))
    if OPENID not in values:
        raise OAuthError("invalid_scope", "scope must include openid")
    unknown = [value for value in values if value != OPENID and not _known(value, catalogue)]
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scope values: {' '.join(sorted(unknown))[:200]}")
    attributes = list(dict.fromkeys(attribute_of(value) for value in values if value != OPENID))
    if not attributes:
        raise OAuthError("invalid_scope", "scope names no Myinfo attribute besides openid")
    return RequestedScope(attributes=attributes, values=values)


def granted_scope(values: Iterable[str], approved: Iterable[str]) -> str:
    """The scope values whose attribute the citizen approved (plus `openid`): what the access
    token grants and the token response reports."""
    approved = set(approved)
    return " ".join(value for value in values if value == OPENID or attribute_of(value) in approved)


def release_selection(
    granted: Iterable[str], approved: Iterable[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """From a token's granted scope and the token row's approved attributes: the attributes to
    release, and for each one asked only by sub-attribute, the sub-paths to keep. An attribute
    also asked for whole goes out whole."""
    approved = set(approved)
    attributes: list[str] = []
    whole: set[str] = set()
    paths: dict[str, list[str]] = {}
    for value in granted:
        name = parent(value)
        if value in (OPENID, IDENTITY) or name not in approved:  # nothing in person_info
            continue
        if name not in attributes:
            attributes.append(name)
        if value == name:
            whole.add(name)
        else:
            paths.setdefault(name, []).append(value.partition(".")[2])
    return attributes, {name: subs for name, subs in paths.items() if name not in whole}


def parent(value: str) -> str:
    return value.partition(".")[0]


def attribute_of(value: str) -> str:
    """The attribute the citizen is asked about for a scope value."""
    return "uinfin" if value == IDENTITY else parent(value)


def login_attributes(values: Iterable[str], approved: Iterable[str]) -> list[str]:
    """The approved attributes the ID token's `sub_attributes` draw on, for scope `values`."""
    approved = set(approved)
    wanted = (attribute_of(value) for value in values if value in LOGIN_SCOPES)
    return [name for name in dict.fromkeys(wanted) if name in approved]


def _known(value: str, catalogue: Catalogue) -> bool:
    if value == IDENTITY:
        return attribute_of(value) in catalogue
    name, dot, field = value.partition(".")
    if not dot:
        return value in catalogue
    return name in catalogue and field in SUB_ATTRIBUTES.get(name, ())
