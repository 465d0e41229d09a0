"""Consent receipts in the web layer, shared by the citizen's pages (app/citizen/receipts.py) and
the agency apps' endpoint (app/agency_api/receipts.py): the deployment facts a receipt names, the
signed document both sides get, and how it is downloaded. The receipts themselves are built and
signed in consent/receipts.py."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import RAISE, Schema, fields

from consent.receipts import ReceiptContext, receipt_document

from .extensions import runtime

RECEIPT_KEYS_PATH = "/.well-known/receipt-keys"


class ReceiptDocumentSchema(Schema):
    """`{"receipt": {...}, "jws": "<compact JWS>"}`: the receipt to read and the proof of it."""

    class Meta:
        unknown = RAISE

    receipt = fields.Dict(required=True)
    jws = fields.String(required=True)


def receipt_context() -> ReceiptContext:
    config = runtime().config
    return ReceiptContext(
        log_id=config.audit_log_id,
        jurisdiction=config.receipt_jurisdiction,
        withdrawal_url=config.public_base_url + "/citizen/consents",
    )


def receipt_keys_url() -> str:
    return runtime().config.public_base_url + RECEIPT_KEYS_PATH


def verify_command(filename: str) -> str:
    """The command that verifies a downloaded receipt, with no server of ours involved."""
    return f"python -m consent.receipt_verify {filename} --jwks {receipt_keys_url()}"


def signed(receipt: dict[str, Any]) -> dict[str, Any]:
    """The receipt with its JWS, signed by the active receipt key."""
    document = receipt_document(receipt, runtime().platform_keys.receipt_key())
    return ReceiptDocumentSchema().dump(document)


def filename(seq: int) -> str:
    return f"consent-receipt-{seq}.json"


def download(receipt: dict[str, Any], seq: int) -> Response:
    """The signed receipt as a JSON file to save."""
    response = jsonify(signed(receipt))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(seq)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
