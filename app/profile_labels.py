"""Labels for people: the person format's sub-field names in words ("Ordinary account"), and an
attribute asked for in part ("Pension account balances \N{EM DASH} Ordinary account only")."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# Sub-field names of the person format that do not read well as they are.
SUB_LABELS = {
    "startdate": _l("Start date"), "enddate": _l("End date"), "issuedate": _l("Issue date"),
    "expirydate": _l("Expiry date"), "nbr": _l("Number"), "areacode": _l("Area code"),
    "postal": _l("Postal code"), "type": _l("Type"), "yearofassessment": _l("Year of assessment"),
    "taxclearance": _l("Tax clearance"), "oa": _l("Ordinary account"), "sa": _l("Special account"),
    "ma": _l("MediSave account"), "ra": _l("Retirement account"), "gstregular": _l("GST voucher (cash)"),
    "gstmedisave": _l("GST voucher (MediSave)"), "gstspecial": _l("GST voucher (special)"),
    "signup": _l("Signed up"), "withdrawaldetails": _l("Withdrawals"), "shareofcover": _l("Share of cover"),
    "insurercode": _l("Insurer"), "sumassuredamount": _l("Sum assured"),
    "saqparticipationstatus": _l("Self-awareness questionnaire"), "sdsnetshareholdingqty": _l("Shares held"),
    "comstatus": _l("Commercial licence status"), "pdl": _l("Provisional licence"),
    "qdl": _l("Qualified licence"), "photocardserialno": _l("Photo card serial number"),
    "totaldemeritpoints": _l("Demerit points"), "yearattained": _l("Year attained"),
    "birthcertno": _l("Birth certificate number"), "dob": _l("Date of birth"), "tob": _l("Time of birth"),
    "lifestatus": _l("Life status"), "hanyupinyinname": _l("Hanyu Pinyin name"),
    "hanyupinyinaliasname": _l("Hanyu Pinyin alias name"), "aliasname": _l("Alias name"),
    "marriedname": _l("Married name"), "secondaryrace": _l("Secondary race"),
    "birthcountry": _l("Country of birth"), "residentialstatus": _l("Residential status"),
    "scprgrantdate": _l("PR granted"), "nric": _l("NRIC"), "hdbtype": _l("Flat type"),
    "noofowners": _l("Number of owners"), "dateofpurchase": _l("Date of purchase"),
    "dateofownershiptransfer": _l("Date of ownership transfer"),
    "leasecommencementdate": _l("Lease commencement"), "termoflease": _l("Term of lease"),
    "loangranted": _l("Loan granted"), "monthlyloaninstalment": _l("Monthly instalment"),
    "originalloanrepayment": _l("Original repayment period"),
    "balanceloanrepayment": _l("Remaining repayment period"),
    "outstandingloanbalance": _l("Outstanding loan"), "vehicleno": _l("Vehicle number"),
    "iulabelno": _l("IU label number"), "chassisno": _l("Chassis number"), "engineno": _l("Engine number"),
    "motorno": _l("Motor number"), "yearofmanufacture": _l("Year of manufacture"),
    "firstregistrationdate": _l("First registered"), "originalregistrationdate": _l("Originally registered"),
    "coecategory": _l("COE category"), "coeexpirydate": _l("COE expiry"),
    "roadtaxexpirydate": _l("Road tax expiry"), "quotapremium": _l("Quota premium"),
    "openmarketvalue": _l("Open market value"), "co2emission": _l("CO2 emission"),
    "enginecapacity": _l("Engine capacity"), "powerrate": _l("Power rating"),
    "primarycolour": _l("Primary colour"), "secondarycolour": _l("Secondary colour"),
    "effectiveownership": _l("Owner since"), "nooftransfers": _l("Number of transfers"),
    "minimumparfbenefit": _l("Minimum PARF benefit"), "maximumladenweight": _l("Maximum laden weight"),
    "maximumunladenweight": _l("Maximum unladen weight"), "vpc": _l("Vehicle parking certificate"),
    "prefix": _l("Prefix"), "accruedinterestamt": _l("Accrued interest"),
    "monthlyinstalmentamt": _l("Monthly instalment"), "principalwithdrawalamt": _l("Principal withdrawn"),
    "totalamountofcpfallowedforproperty": _l("Pension savings allowed for the property"),
    # Keys that read well as they are, capitalised: listed so that they are translated too.
    "account": _l("Account"), "address": _l("Address"), "amount": _l("Amount"), "block": _l("Block"),
    "building": _l("Building"), "category": _l("Category"), "class": _l("Class"), "classes": _l("Classes"),
    "country": _l("Country"), "coverage": _l("Coverage"), "date": _l("Date"), "dialect": _l("Dialect"),
    "disqualification": _l("Disqualification"), "eligibility": _l("Eligibility"), "employer": _l("Employer"),
    "employment": _l("Employment"), "exclusion": _l("Exclusion"), "floor": _l("Floor"), "grade": _l("Grade"),
    "history": _l("History"), "interest": _l("Interest"), "level": _l("Level"), "make": _l("Make"),
    "message": _l("Message"), "model": _l("Model"), "month": _l("Month"), "months": _l("Months"),
    "name": _l("Name"), "premium": _l("Premium"), "propellant": _l("Propellant"), "quantum": _l("Quantum"),
    "race": _l("Race"), "rent": _l("Rent"), "results": _l("Results"), "revocation": _l("Revocation"),
    "scheme": _l("Scheme"), "sex": _l("Sex"), "status": _l("Status"), "street": _l("Street"),
    "subject": _l("Subject"), "suspension": _l("Suspension"), "trade": _l("Trade"), "unit": _l("Unit"),
    "validity": _l("Validity"), "year": _l("Year"), "years": _l("Years"),
}  # fmt: skip


def sub_label(key: str) -> str:
    label = SUB_LABELS.get(key)
    return str(label) if label is not None else key.replace("_", " ").replace("-", " ").capitalize()


def partial_label(label: str, paths: Sequence[str]) -> str:
    """An attribute asked for in part (a v5 scope such as `cpfbalances.oa`), as people read it:
    "Pension account balances \N{EM DASH} Ordinary account only"."""
    return _(
        "%(label)s \N{EM DASH} %(parts)s only", label=label, parts=_listed([part_label(p) for p in paths])
    )


def part_label(path: str) -> str:
    """A dotted sub-attribute in words: `qdl.expirydate` is "Qualified licence expiry date"."""
    first, *rest = (sub_label(segment) for segment in path.split("."))
    return " ".join([first, *(_lower_first(label) for label in rest)])


def _lower_first(label: str) -> str:
    # "Expiry date" reads as "expiry date" mid-phrase; "COE category" or "NRIC" keep their capitals.
    return label[0].lower() + label[1:] if label[1:2].islower() else label


def _listed(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return _("%(first)s and %(last)s", first=", ".join(labels[:-1]), last=labels[-1])
