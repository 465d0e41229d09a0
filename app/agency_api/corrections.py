"""The agency API's correction requests: an agency reads the requests citizens sent it ('This is
wrong' on a value it holds) and answers them. See docs/agency-api.md.

    GET  /agency-api/<agency>/corrections?status=&cursor=&limit=   one page, oldest first
    POST /agency-api/<agency>/corrections/<id>                      {"status", "reason"}

Each call is signed with the agency's notification secret (HMAC-SHA256 over the timestamp, the
method, the path with its query, and the body: agency_connectors/signed_requests.py); a missing,
stale or wrong signature is 401, and one agency never sees or answers another's requests (404).
Errors are JSON `{error, error_description[, errors]}`.

Each request read appends `correction_read` (committed before the page is sent); an answer and its
audit entry (`correction_answered`: the item, agency and status, never the reason) commit
together. "corrected" then refreshes that agency's values for the citizen in the background (the
portal's pool, Runtime.background), so the citizen sees the corrected value without the agency
waiting on its own API being called back.
"""

from __future__ import annotations

import dataclasses
import json

import structlog
from flask import Blueprint, Flask, current_app, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from agency_connectors.notifications import verify_signature
from agency_connectors.refresh import refresh_citizen
from agency_connectors.signed_requests import request_message
from core.clock import utcnow
from core.errors import CryptoError, DomainError, NotFound, ValidationFailed
from profile_store import corrections as service
from profile_store.correction_models import CORRECTED
from profile_store.models import Citizen

from ..auditing import record, refresh_event
from ..errors import STATUS
from ..extensions import db, runtime
from ..security import agency_signature_required
from .correction_schemas import AnswerRequest, AnswerResponse, QueuePage, QueueQuery

bp = Blueprint("agency_corrections", __name__, url_prefix="/agency-api")
log = structlog.get_logger(__name__)
BUDGET_S = 30.0


@bp.get("/<agency>/corrections")
@agency_signature_required
def queue(agency: str):
    _verify(agency)
    try:
        query = QueueQuery().load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("invalid query", exc.messages) from None  # type: ignore[arg-type]
    store, vault = db(write=True), runtime().vault
    page = service.agency_queue(
        store, vault=vault, agency=agency, status=query.get("status"),
        cursor=query.get("cursor"), limit=query["limit"],
    )  # fmt: skip
    # Every look at a citizen's data is audited: one entry per request read, committed first.
    for item, uinfin in page.items:
        record(store, service.read_event(vault.digest_uinfin(uinfin), item, agency=agency))
    store.commit()
    items = [{**_fields(item), "uinfin": uinfin} for item, uinfin in page.items]
    return QueuePage().dump({"items": items, "next_cursor": page.next_cursor}), 200, _NO_STORE


@bp.post("/<agency>/corrections/<request_id>")
@agency_signature_required
def answer(agency: str, request_id: str):
    _verify(agency)
    posted = _load_answer(request.get_data())
    store, now = db(), utcnow()
    row, changed = service.answer_correction(
        store, agency=agency, request_id=request_id, status=posted["status"], reason=posted.get("reason"),
        now=now,
    )  # fmt: skip
    citizen = store.get(Citizen, row.citizen_id)
    if changed and citizen is not None:
        record(store, service.correction_event(citizen, row, by=f"agency:{agency}"))
    store.commit()
    if changed:
        log.info("correction_answered", request_id=row.id, agency=agency, status=row.status)
    if changed and row.status == CORRECTED:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        runtime().background.submit(_refresh, app, row.citizen_id, agency, g.get("request_id"))
    body = {"id": row.id, "status": row.status, "reason": row.reason, "updated_at": row.updated_at}
    return AnswerResponse().dump({**body, "changed": changed}), 200, _NO_STORE


_NO_STORE = {"Cache-Control": "no-store"}
_ITEM_FIELDS = (
    *("id", "attribute", "what", "correct_value", "note"),
    *("status", "reason", "created_at", "updated_at"),
)


def _verify(agency: str) -> None:
    """The path's agency exists and signed this request with its secret; else 404 / 401."""
    endpoint = runtime().connectors.endpoints.get(agency)
    if endpoint is None:
        raise NotFound("unknown agency")
    target = request.full_path if request.query_string else request.path
    verify_signature(
        secret=endpoint.notify_secret,
        timestamp=request.headers.get("X-Timestamp"),
        signature=request.headers.get("X-Signature"),
        body=request_message(request.method, target, request.get_data()),
        now=utcnow(),
        max_skew_s=runtime().config.notify_max_skew_s,
    )


def _load_answer(raw: bytes) -> dict:
    try:
        return AnswerRequest().load(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("body is not a JSON object", {"body": [str(exc)[:100]]}) from None
    except ValidationError as exc:
        raise ValidationFailed("invalid answer", exc.messages) from None  # type: ignore[arg-type]


def _fields(item: service.Correction) -> dict:
    return {name: getattr(item, name) for name in _ITEM_FIELDS}


def _refresh(app: Flask, citizen_id: str, agency: str, request_id: str | None) -> None:
    """The background job: fetch the agency's values for the citizen again and audit it, in one
    transaction; on any failure nothing is kept (the next refresh picks the correction up)."""
    with app.app_context():
        g.request_id = request_id
        rt = runtime()
        with rt.sessions() as reader:
            citizen = reader.get(Citizen, citizen_id)
            if citizen is None:
                return
            reader.expunge(citizen)
        with rt.writer_sessions() as session:
            session.add(citizen)
            result = refresh_citizen(
                session, registry=rt.connectors, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen,
                now=utcnow(), agencies=[agency], budget_s=BUDGET_S,
            )  # fmt: skip
            event = refresh_event(citizen, result)
            details = {**(event.details or {}), "actor": f"agency:{agency}", "reason": "correction"}
            record(session, dataclasses.replace(event, details=details))
            session.commit()
            log.info("correction_refresh", citizen_id=citizen_id, agency=agency, failed=sorted(result.failed))


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    if isinstance(exc, CryptoError):
        log.error("integrity_failure", error=exc.code, path=request.path)
        return _problem(500, "server_error", "Stored data failed an integrity check.")
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    return _problem(status, exc.code, exc.message, getattr(exc, "errors", None))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    return _problem(status, "invalid_request" if status < 500 else "server_error", exc.name)


def _problem(status: int, error: str, description: str, errors: dict | None = None):
    """The API's errors as JSON, whatever the caller's Accept header (app/errors.py's shape)."""
    body: dict = {"error": error, "error_description": description}
    if errors:
        body["errors"] = errors
    return jsonify(body), status, _NO_STORE
