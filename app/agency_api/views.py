"""Agency-facing API: signed change notifications that refresh one citizen from one agency."""

from __future__ import annotations

import json

from flask import Blueprint, abort, request
from marshmallow import ValidationError

from agency_connectors.notifications import claim_notice, verify_signature
from agency_connectors.refresh import refresh_citizen
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from profile_store.citizens import find_citizen_by_uinfin

from ..auditing import record, refresh_event
from ..errors import error_response
from ..extensions import db, runtime
from ..security import agency_signature_required
from .schemas import NoticeRequest, NoticeResponse

bp = Blueprint("agency_api", __name__, url_prefix="/agency-notifications")


@bp.post("/<agency>")
@agency_signature_required
def notify(agency: str):
    rt, now = runtime(), utcnow()
    endpoint = rt.connectors.endpoints.get(agency)
    if endpoint is None:
        abort(404, "unknown agency")
    verify_signature(
        secret=endpoint.notify_secret,
        timestamp=request.headers.get("X-Timestamp"),
        signature=request.headers.get("X-Signature"),
        body=request.get_data(),
        now=now,
        max_skew_s=rt.config.notify_max_skew_s,
    )
    notice = _load_notice(request.get_data())
    session = db()
    citizen = find_citizen_by_uinfin(session, vault=rt.vault, uinfin=notice["uinfin"])
    if citizen is None:
        raise NotFound("no such citizen")
    claim_notice(session, agency=agency, notice_id=notice["notice_id"], now=now)
    result = refresh_citizen(
        session,
        registry=rt.connectors,
        vault=rt.vault,
        catalogue=rt.catalogue,
        citizen=citizen,
        now=now,
        agencies=[agency],
    )
    if reason := result.failed.get(agency):
        # Keep nothing, not even the notice id, so the agency can simply send the notice again.
        session.rollback()
        return error_response(502, "refresh_failed", f"could not fetch from {agency}: {reason}")
    record(session, refresh_event(citizen, result))
    session.commit()
    return NoticeResponse().dump(
        {"status": "refreshed", "agency": agency, "changed": result.outcomes[agency].changed}
    )


def _load_notice(raw: bytes) -> dict:
    try:
        return NoticeRequest().load(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("body is not a JSON object", {"body": [str(exc)[:100]]}) from None
    except ValidationError as exc:
        raise ValidationFailed("invalid notice", exc.messages) from None
