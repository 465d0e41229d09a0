"""Correction requests: a citizen reports that a government-verified value is wrong, the agency
that holds it reads the request and answers (acknowledged, corrected, or rejected with a reason).

Only a value an agency sent (source "1") can be reported, and the request goes to that agency.
What the citizen wrote is sealed under their data key (correction_models.py). Statuses move
forward only: sent -> acknowledged -> corrected | rejected, and sent -> corrected | rejected. The
same answer twice changes nothing (an agency retrying); a different answer to a finished request
is a Conflict. The citizen may withdraw a request the agency has not answered (sent or
acknowledged): it is then final, and an answer to it is a Conflict saying so.

Nothing here commits or knows HTTP; the caller owns the transaction and appends the audit entry
(`correction_event`: the attribute, agency and status, never what the citizen wrote).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.log import Event
from core.crypto.field_cipher import associated_data
from core.errors import Conflict, NotFound, ValidationFailed

from .catalogue import CITIZEN, Catalogue
from .citizens import reveal_uinfin
from .correction_models import (
    ACKNOWLEDGED,
    CORRECTED,
    REJECTED,
    SENT,
    STATUSES,
    WITHDRAWN,
    CorrectionRequest,
)
from .models import GOVERNMENT_VERIFIED, Citizen, ProfileField
from .vault import Vault

MAX_WHAT, MAX_CORRECT, MAX_NOTE, MAX_REASON = 500, 500, 1000, 500
ANSWERS = (ACKNOWLEDGED, CORRECTED, REJECTED)
FINAL = frozenset({CORRECTED, REJECTED, WITHDRAWN})
WITHDRAWABLE = frozenset({SENT, ACKNOWLEDGED})  # not answered yet
WITHDRAWN_ANSWERED = "the citizen withdrew this request; it cannot be answered"
_NEXT = {
    SENT: set(ANSWERS),
    ACKNOWLEDGED: {CORRECTED, REJECTED},
    CORRECTED: set(),
    REJECTED: set(),
    WITHDRAWN: set(),
}


@dataclass(frozen=True, slots=True)
class Correction:
    """One request as its citizen or its agency reads it, opened."""

    id: str
    agency: str
    attribute: str
    status: str
    what: str
    correct_value: str
    note: str
    reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def can_withdraw(self) -> bool:
        """The agency has not answered it yet, so the citizen may still take it back."""
        return self.status in WITHDRAWABLE


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of an agency's requests, oldest first, each with the citizen's national id."""

    items: list[tuple[Correction, str]]
    next_cursor: str | None


def reportable(session: Session, *, citizen: Citizen, attribute: str) -> ProfileField:
    """The citizen's government-verified value of `attribute` (the row, still sealed). Raises
    NotFound when they have none: a field they do not hold, or one they declared themselves."""
    row = session.get(ProfileField, (citizen.id, attribute))
    if row is None or row.source != GOVERNMENT_VERIFIED or row.agency == CITIZEN or row.unavailable:
        raise NotFound("no government-verified value of this item")
    return row


def file_correction(
    session: Session,
    *,
    vault: Vault,
    citizen: Citizen,
    attribute: str,
    what: str,
    correct_value: str,
    note: str,
    submission: str,
    now: dt.datetime,
) -> tuple[CorrectionRequest, bool]:
    """File a request about the citizen's government-verified `attribute`, to the agency that holds
    it. Returns it and whether it is new: a form posted again (same `submission`) returns the
    request it already made. Raises NotFound for an item the citizen has no agency value of,
    ValidationFailed (codes "required" / "too_long" by field) for bad text. Flushes only."""
    field = reportable(session, citizen=citizen, attribute=attribute)
    text = {"what": what.strip(), "correct_value": correct_value.strip(), "note": note.strip()}
    _check_text(text)
    existing = _by_submission(session, citizen.id, submission)
    if existing is not None:
        return existing, False
    request_id = str(uuid.uuid4())
    row = CorrectionRequest(
        id=request_id,
        citizen_id=citizen.id,
        agency=field.agency,
        attribute=attribute,
        status=SENT,
        ciphertext=vault.cipher_for(citizen).encrypt_json(text, _aad(citizen.id, request_id)),
        submission=submission,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint: a concurrent post of the same form fails here, and its twin is returned.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _by_submission(session, citizen.id, submission)
        if existing is None:
            raise
        return existing, False
    return row, True


def corrections_of(session: Session, *, vault: Vault, citizen: Citizen) -> list[Correction]:
    """Every request the citizen made, newest first. Reads only."""
    query = (
        select(CorrectionRequest)
        .where(CorrectionRequest.citizen_id == citizen.id)
        .order_by(CorrectionRequest.created_at.desc(), CorrectionRequest.id)
    )
    return [_opened(vault, citizen, row) for row in session.scalars(query)]


def get_correction(session: Session, *, vault: Vault, citizen: Citizen, request_id: str) -> Correction:
    """One of the citizen's own requests. Raises NotFound for an unknown id and for another
    citizen's request alike."""
    row = session.get(CorrectionRequest, request_id) if len(request_id) <= 36 else None
    if row is None or row.citizen_id != citizen.id:
        raise NotFound("no correction request with this reference")
    return _opened(vault, citizen, row)


def withdraw_correction(
    session: Session, *, citizen: Citizen, request_id: str, now: dt.datetime
) -> tuple[CorrectionRequest, bool]:
    """Withdraw one of the citizen's requests that the agency has not answered (sent or
    acknowledged). Returns it and whether it changed (withdrawn already: nothing changes, as for a
    form posted twice). Raises NotFound for an unknown id and another citizen's request alike, and
    Conflict once the agency has answered it (corrected or rejected). Flushes only."""
    row = _locked(session, request_id)
    if row is None or row.citizen_id != citizen.id:
        raise NotFound("no correction request with this reference")
    if row.status == WITHDRAWN:
        return row, False
    if row.status not in WITHDRAWABLE:
        raise Conflict(f"the agency has already answered this request ({row.status})")
    row.status, row.updated_at = WITHDRAWN, now
    session.flush()
    return row, True


def agency_queue(
    session: Session, *, vault: Vault, agency: str, status: str | None, cursor: str | None, limit: int
) -> QueuePage:
    """One page, oldest first, of the requests routed to `agency` (only those in `status`, if
    given). Raises ValidationFailed (field `cursor` or `status`) for a cursor this service did not
    issue or an unknown status. Reads only."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed("unknown status", {"status": [f"one of {', '.join(STATUSES)}"]})
    query = select(CorrectionRequest).where(CorrectionRequest.agency == agency)
    if status is not None:
        query = query.where(CorrectionRequest.status == status)
    if cursor is not None:
        after, after_id = _read_cursor(cursor)
        query = query.where(
            or_(
                CorrectionRequest.created_at > after,
                and_(CorrectionRequest.created_at == after, CorrectionRequest.id > after_id),
            )
        )
    query = query.order_by(CorrectionRequest.created_at, CorrectionRequest.id).limit(limit + 1)
    rows = list(session.scalars(query))
    more, rows = len(rows) > limit, rows[:limit]
    citizens = _citizens(session, {row.citizen_id for row in rows})
    items = []
    for row in rows:
        citizen = citizens[row.citizen_id]
        items.append((_opened(vault, citizen, row), reveal_uinfin(vault, citizen)))
    next_cursor = _make_cursor(rows[-1]) if more and rows else None
    return QueuePage(items, next_cursor)


def answer_correction(
    session: Session, *, agency: str, request_id: str, status: str, reason: str | None, now: dt.datetime
) -> tuple[CorrectionRequest, bool]:
    """The agency's answer to one of its requests. Returns the request and whether it changed (the
    same answer again changes nothing). Raises NotFound for an unknown request or another agency's,
    ValidationFailed for an unknown answer or a rejection without a reason, Conflict for an answer
    the request's status does not allow (a finished request answered differently). Flushes only."""
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip() or None
    if status not in ANSWERS:
        errors["status"] = [f"one of {', '.join(ANSWERS)}"]
    if status == REJECTED and reason is None:
        errors["reason"] = ["required when rejecting"]
    if reason is not None and len(reason) > MAX_REASON:
        errors["reason"] = [f"at most {MAX_REASON} characters"]
    if errors:
        raise ValidationFailed("answer not valid", errors)
    row = _locked(session, request_id)
    if row is None or row.agency != agency:
        raise NotFound("no correction request with this id for this agency")
    if row.status == WITHDRAWN:
        raise Conflict(WITHDRAWN_ANSWERED)
    if row.status == status and (status != REJECTED or row.reason == reason):
        return row, False
    if status not in _NEXT[row.status]:
        raise Conflict(f"the request is already {row.status}")
    row.status, row.reason, row.updated_at = status, reason if status == REJECTED else None, now
    session.flush()
    return row, True


def correction_event(citizen: Citizen, row: CorrectionRequest, *, by: str) -> Event:
    """The audit entry of a step: filed or withdrawn (by the citizen) or answered (by the agency).
    The item, agency and status only; never what the citizen wrote or the agency's reason."""
    if by != "citizen":
        kind = "correction_answered"
    else:
        kind = "correction_withdrawn" if row.status == WITHDRAWN else "correction_requested"
    return Event(
        kind=kind,
        citizen_ref=citizen.uinfin_digest,
        outcome=row.status,
        attributes=(row.attribute,),
        details={"request_id": row.id, "agency": row.agency, "by": by},
    )


def read_event(citizen_ref: str, item: Correction, *, agency: str) -> Event:
    """The audit entry of an agency reading one request (what the citizen wrote, and who they are)."""
    return Event(
        kind="correction_read",
        citizen_ref=citizen_ref,
        outcome=item.status,
        attributes=(item.attribute,),
        details={"request_id": item.id, "agency": agency, "by": f"agency:{agency}"},
    )


def label_of(catalogue: Catalogue, attribute: str) -> str:
    return catalogue[attribute].label if attribute in catalogue else attribute


def _check_text(text: dict[str, str]) -> None:
    errors: dict[str, list[str]] = {}
    for name, most in (("what", MAX_WHAT), ("correct_value", MAX_CORRECT), ("note", MAX_NOTE)):
        if name != "note" and not text[name]:
            errors[name] = ["required"]
        elif len(text[name]) > most:
            errors[name] = ["too_long"]
    if errors:
        raise ValidationFailed("correction request not valid", errors)


def _locked(session: Session, request_id: str) -> CorrectionRequest | None:
    # The row lock: an answer and a withdrawal (or two answers: an agency retrying) racing apply
    # one after the other, so a request is never both withdrawn and answered.
    if len(request_id) > 36:
        return None
    query = select(CorrectionRequest).where(CorrectionRequest.id == request_id).with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


def _by_submission(session: Session, citizen_id: str, submission: str) -> CorrectionRequest | None:
    query = select(CorrectionRequest).where(
        CorrectionRequest.citizen_id == citizen_id, CorrectionRequest.submission == submission
    )
    return session.scalar(query)


def _aad(citizen_id: str, request_id: str) -> bytes:
    return associated_data("correction", citizen_id, request_id)


def _opened(vault: Vault, citizen: Citizen, row: CorrectionRequest) -> Correction:
    text = vault.cipher_for(citizen).decrypt_json(row.ciphertext, _aad(citizen.id, row.id))
    return Correction(
        id=row.id,
        agency=row.agency,
        attribute=row.attribute,
        status=row.status,
        what=text["what"],
        correct_value=text["correct_value"],
        note=text["note"],
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _citizens(session: Session, ids: set[str]) -> dict[str, Citizen]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Citizen).where(Citizen.id.in_(ids)))}


def _make_cursor(row: CorrectionRequest) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, request_id = raw.split("|", 1)
        after = dt.datetime.fromisoformat(when)
        uuid.UUID(request_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("cursor not valid", {"cursor": ["not a cursor this service issued"]}) from None
    if after.tzinfo is None:
        raise ValidationFailed("cursor not valid", {"cursor": ["not a cursor this service issued"]})
    return after, request_id
