"""The citizen's consent receipts: each entry of "Who has my data" and each consent on "My consents"
opens its receipt as a page (the receipt's fields in plain words, the verify command), which
downloads it as JSON (`{"receipt": ..., "jws": ...}`, docs/portal.md). Only the citizen's own:
another citizen's receipt, or a made-up number, is a 404 that says nothing about it.

Viewing or downloading a receipt is not audited, as the history it comes from is not: it
discloses nothing to anyone but the citizen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from consent.models import Consent
from consent.receipts import citizen_receipt, consent_receipt_seq
from core.errors import NotFound
from profile_store.citizens import get_citizen

from ..extensions import db, runtime
from ..identity import citizen_required
from ..receipts import download, filename, receipt_context, receipt_keys_url, verify_command
from .portal import Labelled, labelled
from .views import bp

NOT_YOURS = "You have no receipt with this number."
CATEGORY_WORDS = {
    "released": _l("Details they received"),
    "approved": _l("You agreed to share"),
    "declined": _l("You chose not to share"),
    "withdrawn": _l("No longer shared: you withdrew your consent"),
    "expired": _l("No longer shared: your consent ended"),
}


@dataclass(frozen=True)
class ReceiptPage:
    """A receipt as the page shows it: its fields, times as datetimes, attributes by label."""

    seq: int
    receipt: dict[str, Any]
    time: dt.datetime
    categories: list[tuple[str, list[Labelled]]]
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


@bp.get("/receipts/<int:seq>")
@citizen_required
def receipt(seq: int):
    page = _page(seq, _own_receipt(seq))
    name = filename(seq)
    links = {"filename": name, "verify": verify_command(name), "keys_url": receipt_keys_url()}
    return render_template("citizen/receipt.html", page=page, **links)


@bp.get("/receipts/<int:seq>/download")
@citizen_required
def download_receipt(seq: int):
    return download(_own_receipt(seq), seq)


@bp.get("/consents/<uuid:consent_id>/receipt")
@citizen_required
def consent_receipt(consent_id):
    store = db()
    consent = store.get(Consent, str(consent_id))
    if consent is None or consent.citizen_id != g.citizen_id:
        raise NotFound("You have no consent with this reference.")
    citizen = get_citizen(store, g.citizen_id)
    try:
        seq = consent_receipt_seq(store, consent=consent, citizen_ref=citizen.uinfin_digest)
    except NotFound:
        raise NotFound("This consent has no receipt: it was not given on Consentry's consent page.") from None
    return redirect(url_for(".receipt", seq=seq), 303)


def _own_receipt(seq: int) -> dict[str, Any]:
    # The key first: a deployment's first receipt key is made in a writer transaction of its own,
    # which must not sit inside this request's.
    runtime().platform_keys.receipt_key()
    store = db()
    citizen = get_citizen(store, g.citizen_id)
    try:
        return citizen_receipt(store, seq=seq, citizen_ref=citizen.uinfin_digest, context=receipt_context())
    except NotFound:
        raise NotFound(NOT_YOURS) from None


def _page(seq: int, receipt: dict[str, Any]) -> ReceiptPage:
    catalogue = runtime().catalogue
    categories = [
        (CATEGORY_WORDS.get(name, name), [_label(catalogue, attribute) for attribute in names])
        for name, names in receipt["pii_categories"].items()
    ]
    validity = receipt["validity"]
    return ReceiptPage(
        seq=seq,
        receipt=receipt,
        time=_time(receipt["event"]["time"]),
        categories=categories,
        valid_from=_time(validity.get("from")),
        valid_until=_time(validity.get("until")),
    )


def _label(catalogue, attribute: str) -> Labelled:
    """An attribute by its label; a part of one (`cpfbalances.oa`) by its attribute's, with the part."""
    name, _, part = attribute.partition(".")
    (shown,) = labelled(catalogue, [name])
    return Labelled(attribute, f"{shown.label} ({part})" if part else shown.label)


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
