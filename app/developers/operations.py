"""Every documented operation, as apispec path items: what each endpoint reads and every answer it
gives, with the marshmallow schema of each JSON shape. The OAuth operations are in
oauth_operations.py; the agency apps', agencies', citizen's and audit log's APIs are here, and
`paths()` lists them all in the order a developer meets them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..agency_api.schemas import NoticeRequest, NoticeResponse
from ..audit_api.schemas import ConsistencyProof, ConsistencyQuery, InclusionProof, InclusionQuery
from ..citizen.schemas import ConsentListOut, HistoryPageOut, HistoryQuery
from .oauth_operations import oauth_paths
from .operation_parts import NO_AUTH, TEXT, form, json_answer, json_or_page, path_int, plain_errors, typed
from .wire_schemas import (
    ClientAssertionForm,
    ConsentStatusForm,
    ConsentStatusOut,
    ReceiptListOut,
    ReceiptsByTokenForm,
    SignedCheckpointOut,
    SignedReceiptOut,
)


def paths() -> Iterator[tuple[str, dict[str, Any]]]:
    yield from oauth_paths()
    yield from _agency_apps()
    yield from _agency_notifications()
    yield from _citizen()
    yield from _audit()


def _agency_apps() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Agency apps"]
    yield (
        "/api/agency-apps/receipts/{seq}",
        {
            "post": {
                "tags": tags,
                "summary": "The signed receipt of one of the app's events",
                "description": "private_key_jwt with `aud` /api/agency-apps/receipts (or this URL).",
                "security": NO_AUTH,
                "parameters": [
                    path_int("seq", "The audit entry's seq, as the receipt's `audit.seq` names it.")
                ],
                "requestBody": form(ClientAssertionForm),
                "responses": {
                    "200": json_answer("The receipt and its JWS.", SignedReceiptOut),
                    **plain_errors(400, 401, 404, 429),
                },
            }
        },
    )
    yield (
        "/api/agency-apps/receipts",
        {
            "post": {
                "tags": tags,
                "summary": "Every receipt of the releases made under one access token",
                "security": NO_AUTH,
                "requestBody": form(ReceiptsByTokenForm),
                "responses": {
                    "200": json_answer("Newest first.", ReceiptListOut),
                    **plain_errors(400, 401, 404, 429),
                },
            }
        },
    )
    yield (
        "/api/agency-apps/consents/status",
        {
            "post": {
                "tags": tags,
                "summary": "The state of the app's consents (withdrawn, paused, expired...)",
                "description": "private_key_jwt, `aud` this URL. One consent by `token_jti` or `consent_id`.",
                "security": NO_AUTH,
                "requestBody": form(ConsentStatusForm),
                "responses": {
                    "200": json_answer("Newest first, keyset pages.", ConsentStatusOut),
                    **plain_errors(400, 401, 429),
                },
            }
        },
    )


def _agency_notifications() -> Iterator[tuple[str, dict[str, Any]]]:
    yield (
        "/agency-notifications/{agency}",
        {
            "post": {
                "tags": ["Agency notifications"],
                "summary": "An agency says a citizen's record changed; Consentry refreshes it",
                "security": [{"agencySignature": []}],
                "parameters": [
                    {"in": "path", "name": "agency", "required": True, "schema": {"type": "string"}},
                    {"in": "header", "name": "X-Timestamp", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": NoticeRequest}}},
                "responses": {
                    "200": json_answer("Refreshed.", NoticeResponse),
                    **plain_errors(400, 401, 404, 409, 502),
                },
            }
        },
    )


def _citizen() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Citizen API"]
    pages = {
        "/api/citizen/disclosures": ("Who saw the citizen's data, newest first", HistoryPageOut),
        "/api/citizen/consents": ("The consents the citizen gave, newest first", ConsentListOut),
    }
    for path, (summary, schema) in pages.items():
        yield (
            path,
            {
                "get": {
                    "tags": tags,
                    "summary": summary,
                    "security": [{"citizenSession": []}],
                    "parameters": [{"in": "query", "schema": HistoryQuery}],
                    "responses": {"200": json_answer("One keyset page.", schema), **plain_errors(400, 401)},
                }
            },
        )


def _audit() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Audit log"]
    cached = {"security": NO_AUTH, "tags": tags}
    yield (
        "/api/audit/public-key",
        {
            "get": {
                **cached,
                "summary": "The audit log's checkpoint-signing key (Ed25519, PEM)",
                "responses": {"200": typed("PEM; its id in X-Key-Id.", "application/x-pem-file")},
            }
        },
    )
    yield (
        "/api/audit/checkpoints/latest",
        {
            "get": {
                **cached,
                "summary": "The latest signed checkpoint",
                "responses": {"200": json_answer("Signed.", SignedCheckpointOut), **plain_errors(404)},
            }
        },
    )
    yield (
        "/api/audit/checkpoints/{size}",
        {
            "get": {
                **cached,
                "summary": "The signed checkpoint of a tree size",
                "parameters": [path_int("size", "The tree size.")],
                "responses": {"200": json_answer("Signed.", SignedCheckpointOut), **plain_errors(404)},
            }
        },
    )
    yield (
        "/api/audit/proofs/inclusion",
        {
            "get": {
                **cached,
                "summary": "Proof that an entry is in the tree of a size (RFC 9162 §2.1.3)",
                "parameters": [{"in": "query", "schema": InclusionQuery}],
                "responses": {"200": json_answer("The proof.", InclusionProof), **plain_errors(400, 404)},
            }
        },
    )
    yield (
        "/api/audit/proofs/consistency",
        {
            "get": {
                **cached,
                "summary": "Proof that a tree extends an earlier one (RFC 9162 §2.1.4)",
                "parameters": [{"in": "query", "schema": ConsistencyQuery}],
                "responses": {"200": json_answer("The proof.", ConsistencyProof), **plain_errors(400, 404)},
            }
        },
    )
    yield (
        "/log/checkpoint",
        {
            "get": {
                **cached,
                "summary": "The latest checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)",
                "responses": {"200": typed("The note.", TEXT), "404": json_or_page("No checkpoint yet.")},
            }
        },
    )
    yield (
        "/.well-known/consentry-log-key",
        {
            "get": {
                **cached,
                "summary": "The note verifier key of the log",
                "responses": {"200": typed("The verifier key, one line.", TEXT)},
            }
        },
    )
