"""Appending to the audit log: an event becomes an entry with its canonical body, leaf and chain
hash, placed in the tree at once (inline) or queued for the integrator (batched). The tree's size,
checkpoints and proofs are audit.tree's; the append's statements, audit.entry_write's.

Every function runs inside the caller's transaction and never commits: a disclosure and its audit
entry commit together or not at all ("no audit entry, no data").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationFailed

from . import integrator
from .canonical import canonical_json
from .entry_write import locked_head, write_inline
from .merkle import chain_next, frontier_append, leaf_hash
from .models import AuditEntry
from .signer import AuditSigner
from .tree import create_checkpoint

INLINE, BATCHED = "inline", "batched"  # AUDIT_INTEGRATION (docs/audit.md, "Batched integration")
KINDS = frozenset(
    {
        "disclosure",
        "consent_granted",
        "consent_declined",
        "consent_revoked",
        "consent_expired",
        "profile_refreshed",
        "admin_action",
        "auditor_search",
        "auditor_export",
        "citizen_download",  # a citizen downloaded their whole record (details: format), no values
        "staff_lookup",  # a member of staff opened a citizen's profile (details: actor, reason)
        "staff_reveal",  # ... and asked to see one masked value in full (the attribute)
        "declaration_changed",  # a citizen declared, changed or removed a fact (the attribute)
        "consent_paused",  # a citizen paused a standing consent (details: consent_id)
        "consent_resumed",  # ... and resumed it
        "consent_narrowed",  # ... dropped optional items from it (attributes: the items dropped)
        "disclosure_reported",  # a citizen said an entry was not them (details: seq, report_id)
        "disclosure_report_updated",  # an auditor moved a report (details: report_id, state, reason)
        "activation_letter_issued",  # an activation letter was issued (details: actor, letter_id)
        "citizen_activation_refused",  # a wrong, expired, locked or used activation code (details)
        "citizen_activation_started",  # a citizen entered a right activation code
        "citizen_password_chosen",  # an activating citizen chose a password (never the password)
        "citizen_activated",  # a citizen confirmed their authenticator and opened their account
        "citizen_recovery_used",  # a citizen signed in with a recovery code (never the code)
        "citizen_authenticator_changed",  # ... and enrolled a new authenticator
        "citizen_account_closed",  # a citizen closed their account (details: consents withdrawn)
        "correction_requested",  # a citizen reported a wrong value (the attribute, agency; never text)
        "correction_answered",  # the agency answered it (details: request_id, status)
        "correction_read",  # the agency read it through the agency API (details: request_id, agency)
        "correction_withdrawn",  # the citizen withdrew it before an answer (details: request_id)
        "citizen_reveal",  # a citizen asked to see their own national id in full (after a step-up)
    }
)


@dataclass(frozen=True)
class Event:
    """What happened. Never personal values: attribute names only, the citizen as a keyed digest."""

    kind: str
    citizen_ref: str | None = None
    app_id: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    attributes: tuple[str, ...] = ()
    details: dict[str, Any] | None = None


def append(
    session: Session,
    event: Event,
    *,
    now: dt.datetime,
    request_id: str | None = None,
    signer: AuditSigner | None = None,
    checkpoint_every: int = 0,
    integration: str = INLINE,
) -> AuditEntry:
    """Append one entry (flushed, not committed) and return it (a detached copy of the row).

    Inline (the default): locks the log head, so concurrent appenders queue and the chain stays
    gapless and fork-free, and the entry is in the tree at once; with `signer` and
    `checkpoint_every` N, every Nth entry also gets a signed checkpoint. Batched: the entry, named
    by an id, and its queue row, with no lock; the integrator places it in the tree later
    (audit/integrator.py). Raises ValidationFailed for an unknown kind."""
    if event.kind not in KINDS:
        raise ValidationFailed("unknown audit event kind", {"kind": [event.kind]})
    session.flush()  # what the ORM holds for this transaction goes first, as any query would
    connection = session.connection()
    if integration == BATCHED:
        row = _entry_row(event, integrator.allocate_id(connection), now, request_id, named_by="id")
        integrator.write_entry(connection, row, sorted(set(event.attributes)), queued=True)
        return AuditEntry(**row)
    head = locked_head(connection)
    if head is None:
        raise NotFound("audit log not initialised (run the migrations)")
    if head.leaves_from is not None:
        # The log has entries named by id: this one is too, and is integrated at once.
        row = _entry_row(event, integrator.allocate_id(connection), now, request_id, named_by="id")
        integrator.write_entry(connection, row, sorted(set(event.attributes)), queued=False)
        state = integrator.Head(head.next_seq, head.chain_head, head.frontier, head.leaves_from)
        size = integrator.fold_in(connection, state, [(row["seq"], row["leaf_hash"])]).next_seq
    else:
        seq = head.next_seq
        row = _entry_row(event, seq, now, request_id, named_by="seq", chain_head=head.chain_head)
        nodes, frontier = frontier_append(head.frontier, seq, row["leaf_hash"])
        write_inline(connection, row, sorted(set(event.attributes)), nodes, frontier)
        size = seq + 1
    if signer is not None and checkpoint_every and size % checkpoint_every == 0:
        create_checkpoint(session, signer=signer, now=now)
    return AuditEntry(**row)


def _entry_row(
    event: Event,
    seq: int,
    now: dt.datetime,
    request_id: str | None,
    *,
    named_by: str,
    chain_head: bytes | None = None,
) -> dict[str, Any]:
    """The entry's row (ENTRY_COLUMNS): its canonical body naming it by `named_by` ("seq": the
    leaf index; "id": placed by audit_leaves), the leaf hash, and the chain hash after
    `chain_head` (entries named by id keep theirs in audit_leaves)."""
    body = _body(event, seq, now, request_id, named_by)
    canonical = canonical_json(body)
    leaf = leaf_hash(canonical)
    return {  # ENTRY_COLUMNS
        "seq": seq,
        "recorded_at": now,
        "kind": event.kind,
        "citizen_ref": event.citizen_ref,
        "app_id": event.app_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "body": canonical.decode(),
        "leaf_hash": leaf,
        "chain_hash": integrator.NOT_CHAINED if chain_head is None else chain_next(chain_head, leaf),
    }


def _body(event: Event, seq: int, now: dt.datetime, request_id: str | None, named_by: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        named_by: seq,
        "time": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": event.kind,
    }
    for name in ("citizen_ref", "app_id", "purpose", "outcome"):
        if (value := getattr(event, name)) is not None:
            body[name] = value
    if event.attributes:
        body["attributes"] = sorted(set(event.attributes))
    if request_id:
        body["request_id"] = request_id
    if event.details:
        body["details"] = event.details
    return body
