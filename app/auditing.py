"""Appending audit events from the web and CLI layers: adds the request id, the configured
checkpoint interval and AUDIT_INTEGRATION (inline or batched), inside the caller's transaction."""

from __future__ import annotations

from flask import g, has_request_context

from audit.log import Event, append
from audit.models import AuditEntry
from core.clock import utcnow

from . import metrics
from .extensions import runtime


def record(session, event: Event) -> AuditEntry:
    rt = runtime()
    request_id = g.get("request_id") if has_request_context() else None
    metrics.audited(session, event)
    return append(
        session,
        event,
        now=utcnow(),
        request_id=request_id,
        signer=rt.audit_signer,
        checkpoint_every=rt.config.audit_checkpoint_every,
        integration=rt.config.audit_integration,
    )


def refresh_event(citizen, result) -> Event:
    """A profile refresh: which agencies answered and which failed (reason codes only)."""
    return Event(
        kind="profile_refreshed",
        citizen_ref=citizen.uinfin_digest,
        outcome="partial" if result.failed else "complete",
        details={"agencies": sorted(result.outcomes), "failed": result.failed},
    )
