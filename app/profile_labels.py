"""Labels for people: the person format's sub-field names in words ("Ordinary account"), and an
attribute asked for in part ("Pension account balances \N{EM DASH} Ordinary account only")."""

from __future__ import annotations

from collections.abc import Sequence

# Sub-field names of the person format that do not read well as they are.
SUB_LABELS = {
    "startdate": "Start date", "enddate": "End date", "issuedate": "Issue date", "expirydate": "Expiry date",
    "nbr": "Number", "areacode": "Area code", "postal": "Postal code", "type": "Type",
    "yearofassessment": "Year of assessment", "taxclearance": "Tax clearance", "oa": "Ordinary account",
    "sa": "Special account", "ma": "MediSave account", "ra": "Retirement account",
    "gstregular": "GST voucher (cash)", "gstmedisave": "GST voucher (MediSave)",
    "gstspecial": "GST voucher (special)", "signup": "Signed up", "withdrawaldetails": "Withdrawals",
    "shareofcover": "Share of cover", "insurercode": "Insurer", "sumassuredamount": "Sum assured",
    "saqparticipationstatus": "Self-awareness questionnaire", "sdsnetshareholdingqty": "Shares held",
    "comstatus": "Commercial licence status", "pdl": "Provisional licence", "qdl": "Qualified licence",
    "photocardserialno": "Photo card serial number", "totaldemeritpoints": "Demerit points",
    "yearattained": "Year attained", "birthcertno": "Birth certificate number", "dob": "Date of birth",
    "tob": "Time of birth", "lifestatus": "Life status", "hanyupinyinname": "Hanyu Pinyin name",
    "hanyupinyinaliasname": "Hanyu Pinyin alias name", "aliasname": "Alias name",
    "marriedname": "Married name", "secondaryrace": "Secondary race", "birthcountry": "Country of birth",
    "residentialstatus": "Residential status", "scprgrantdate": "PR granted", "nric": "NRIC",
    "hdbtype": "Flat type", "noofowners": "Number of owners", "dateofpurchase": "Date of purchase",
    "dateofownershiptransfer": "Date of ownership transfer", "leasecommencementdate": "Lease commencement",
    "termoflease": "Term of lease", "loangranted": "Loan granted",
    "monthlyloaninstalment": "Monthly instalment", "originalloanrepayment": "Original repayment period",
    "balanceloanrepayment": "Remaining repayment period", "outstandingloanbalance": "Outstanding loan",
    "vehicleno": "Vehicle number", "iulabelno": "IU label number", "chassisno": "Chassis number",
    "engineno": "Engine number", "motorno": "Motor number", "yearofmanufacture": "Year of manufacture",
    "firstregistrationdate": "First registered", "originalregistrationdate": "Originally registered",
    "coecategory": "COE category", "coeexpirydate": "COE expiry", "roadtaxexpirydate": "Road tax expiry",
    "quotapremium": "Quota premium", "openmarketvalue": "Open market value", "co2emission": "CO2 emission",
    "enginecapacity": "Engine capacity", "powerrate": "Power rating", "primarycolour": "Primary colour",
    "secondarycolour": "Secondary colour", "effectiveownership": "Owner since",
    "nooftransfers": "Number of transfers", "minimumparfbenefit": "Minimum PARF benefit",
    "maximumladenweight": "Maximum laden weight", "maximumunladenweight": "Maximum unladen weight",
    "vpc": "Vehicle parking certificate", "prefix": "Prefix", "accruedinterestamt": "Accrued interest",
    "monthlyinstalmentamt": "Monthly instalment", "principalwithdrawalamt": "Principal withdrawn",
    "totalamountofcpfallowedforproperty": "Pension savings allowed for the property",
}  # fmt: skip


def sub_label(key: str) -> str:
    return SUB_LABELS.get(key, key.replace("_", " ").replace("-", " ").capitalize())


def partial_label(label: str, paths: Sequence[str]) -> str:
    """An attribute asked for in part (a v5 scope such as `cpfbalances.oa`), as people read it:
    "Pension account balances \N{EM DASH} Ordinary account only"."""
    return f"{label} \N{EM DASH} {_listed([part_label(p) for p in paths])} only"


def part_label(path: str) -> str:
    """A dotted sub-attribute in words: `qdl.expirydate` is "Qualified licence expiry date"."""
    first, *rest = (sub_label(segment) for segment in path.split("."))
    return " ".join([first, *(_lower_first(label) for label in rest)])


def _lower_first(label: str) -> str:
    # "Expiry date" reads as "expiry date" mid-phrase; "COE category" or "NRIC" keep their capitals.
    return label[0].lower() + label[1:] if label[1:2].islower() else label


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
