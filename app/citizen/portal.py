"""The citizen portal's use cases: the citizen's own profile, their access history, their consents,
and withdrawing one; and which service a sign-in is for. Shared by the JSON API
(app/citizen/api.py) and the pages (app/citizen/views.py).

These compose the audit, consent and profile domains the way the portal needs them (the app's name,
agency and purpose text next to each audit entry; attributes by their catalogue labels), so they
live in the Flask layer as app/oauth/release.py does. Each runs in the caller's transaction and
never commits; the view commits once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from audit.log import Event
from audit.search import citizen_history
from consent.consents import consents_of, revoke_consent
from consent.grants import pending_request
from consent.lifecycle import CURRENT, Allowed, allowed, state
from consent.models import AgencyApp, Consent, Purpose
from core.errors import NotFound
from profile_store.assembly import agency_status, load_fields
from profile_store.catalogue import Catalogue
from profile_store.declarations import declarations_of
from profile_store.history import earlier_values
from profile_store.models import GOVERNMENT_VERIFIED, Citizen
from profile_store.vault import Vault

from ..auditing import record
from ..notices.events import notify_app
from ..profile_display import ProfilePage, Summary, profile_page, summary
from ..profile_labels import partial_label
from .declaration_display import declared_views, with_all_declarations

# A consent page's path, as the consent screen sends a citizen to sign in (`?next=/consent/<id>`).
CONSENT_PATH = re.compile(r"^/consent/([A-Za-z0-9_-]{1,64})/?(?:[?#].*)?$")


@dataclass(frozen=True)
class Labelled:
    """An attribute by its wire name and the catalogue's label for people."""

    name: str
    label: str


@dataclass(frozen=True)
class AppRef:
    id: str
    name: str
    agency: str


@dataclass(frozen=True)
class PurposeRef:
    id: str | None
    text: str


@dataclass(frozen=True)
class HistoryItem:
    """One audit entry about the citizen: a disclosure or a consent decision."""

    seq: int
    kind: str
    time: dt.datetime
    app: AppRef | None
    purpose: PurposeRef
    attributes: list[Labelled]
    consent_id: str | None
    outcome: str | None
    staff: str | None = None  # a member of staff who looked (staff_lookup, staff_reveal): username
    reason: str | None = None  # why they looked, as they gave it


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    next_cursor: str | None


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    app: AppRef
    purpose: PurposeRef
    approved: list[Labelled]
    declined: list[Labelled]
    remembered: bool
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    status: str  # ACTIVE | PAUSED | USED | EXPIRED | WITHDRAWN (consent.lifecycle)

    allowed: Allowed  # what the citizen may do with it (consent.lifecycle.allowed): pages ask this

    @property
    def current(self) -> bool:  # "Current" (active, paused) on "My consents", else "Past"
        return self.status in CURRENT

    @property
    def can_withdraw(self) -> bool:
        return self.allowed.withdraw

    @property
    def can_pause(self) -> bool:
        return self.allowed.pause

    @property
    def can_resume(self) -> bool:
        return self.allowed.resume

    @property
    def can_narrow(self) -> bool:
        return self.allowed.narrow


@dataclass(frozen=True)
class ConsentRecordsPage:
    consents: list[ConsentRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class MyProfile:
    page: ProfilePage
    summary: Summary
    # Attributes with a government-verified value: each gets 'This is wrong' (a correction request).
    reportable: frozenset[str] = frozenset()


def my_profile(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    now: dt.datetime,
    stale_after: dt.timedelta,
    revealed: frozenset[str] = frozenset(),
) -> MyProfile:
    """The citizen's own profile: every value in full but the national id (in full too when
    `revealed` names it: after 'Show' and a step-up, app/citizen/stepup.py), grouped by agency in
    the catalogue's order, each field with its earlier values; the summary (name, when last
    refreshed, agencies stale or unavailable, how many items are declared); and which values an
    agency sent, that a correction can be asked of.
    Reads only."""
    fields = load_fields(session, vault=vault, catalogue=catalogue, citizen=citizen)
    status = agency_status(session, citizen.id)
    earlier = earlier_values(session, vault=vault, citizen=citizen)
    page = profile_page(catalogue, fields, status, now=now, owner=True, earlier=earlier, revealed=revealed)
    top = summary(page, fields, refreshed_at=citizen.refreshed_at, now=now, stale_after=stale_after)
    # Every declaration shows, also one of an attribute an agency holds (after the agency's value).
    declared = declared_views(catalogue, declarations_of(session, vault=vault, citizen=citizen))
    page, top = with_all_declarations(page, top, fields, declared, now=now)
    reportable = frozenset(
        name
        for name, view in fields.items()
        if not view.declared and not view.unavailable and view.source == GOVERNMENT_VERIFIED
    )
    return MyProfile(page, top, reportable)


def requesting_service(session: Session, next_path: str | None, *, now: dt.datetime) -> str | None:
    """The registered name of the agency app whose pending consent request `next_path` returns to,
    for the sign-in page's heading; None for any other path, or a request no longer pending. The
    name comes from the app's registration, never from the link."""
    match = CONSENT_PATH.match(next_path or "")
    if match is None:
        return None
    try:
        pending = pending_request(session, match.group(1), now=now)
    except NotFound:
        return None
    app = session.get(AgencyApp, pending.client_id)
    return app.name if app is not None else None


def history(
    session: Session, catalogue: Catalogue, *, citizen: Citizen, cursor: str | None, limit: int
) -> HistoryPage:
    """One page, newest first, of what was released about `citizen`, their consent decisions, and
    each time Consentry staff looked at their record or saw a value in full. Only entries carrying
    this citizen's keyed digest: never anyone else's. Raises ValidationFailed (field `cursor`) for
    a cursor this service did not issue."""
    page = citizen_history(session, citizen_ref=citizen.uinfin_digest, cursor=cursor, limit=limit)
    bodies = page.bodies()
    apps = _apps(session, {body["app_id"] for body in bodies if "app_id" in body})
    purposes = _purposes(
        session,
        {(body["app_id"], body["purpose"]) for body in bodies if "app_id" in body and "purpose" in body},
    )
    items = [
        _history_item(entry.seq, entry.recorded_at, body, apps, purposes, catalogue)
        for entry, body in zip(page.entries, bodies, strict=True)
    ]
    return HistoryPage(items, page.next_cursor)


def consent_records(
    session: Session,
    catalogue: Catalogue,
    *,
    citizen_id: str,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
) -> ConsentRecordsPage:
    """One page, newest first, of the consents the citizen gave, with the app and purpose in
    words. Raises ValidationFailed (field `cursor`) for a cursor this service did not issue."""
    page = consents_of(session, citizen_id=citizen_id, cursor=cursor, limit=limit)
    apps = _apps(session, {c.client_id for c in page.consents})
    purposes = _purposes(session, {(c.client_id, c.purpose_id) for c in page.consents})
    records = [_consent_record(c, apps, purposes, catalogue, now=now) for c in page.consents]
    return ConsentRecordsPage(records, page.next_cursor)


def consent_record(
    session: Session, catalogue: Catalogue, *, citizen_id: str, consent_id: str, now: dt.datetime
) -> ConsentRecord | None:
    """One of the citizen's own consents, or None (also for another citizen's)."""
    consent = session.get(Consent, consent_id)
    if consent is None or consent.citizen_id != citizen_id:
        return None
    apps = _apps(session, {consent.client_id})
    purposes = _purposes(session, {(consent.client_id, consent.purpose_id)})
    return _consent_record(consent, apps, purposes, catalogue, now=now)


def withdraw(session: Session, *, citizen: Citizen, consent_id: str, now: dt.datetime) -> Consent | None:
    """Revoke one of the citizen's consents that can still be withdrawn (consent.lifecycle.allowed:
    active, paused, or used within its time) and append `consent_revoked` to the audit log,
    in the caller's transaction (flushed, not committed): tokens issued under it stop working once
    the caller commits (consent.token_grants.usable_token checks the consent on every call). Returns
    None, changing nothing, when the consent had already ended (expired or withdrawn). Raises
    NotFound for an unknown consent or another citizen's."""
    consent = _revoke_if_current(session, citizen_id=citizen.id, consent_id=consent_id, now=now)
    if consent is None:
        return None
    notify_app(session, consent, state="withdrawn", now=now)
    record(
        session,
        Event(
            kind="consent_revoked",
            citizen_ref=citizen.uinfin_digest,
            app_id=consent.client_id,
            purpose=consent.purpose_id,
            outcome="revoked",
            attributes=tuple(consent.approved),
            details={"consent_id": consent.id, "by": "citizen"},
        ),
    )
    return consent


def _revoke_if_current(
    session: Session, *, citizen_id: str, consent_id: str, now: dt.datetime
) -> Consent | None:
    # The row lock makes two concurrent withdrawals (two tabs) record one revocation, not two.
    query = select(Consent).where(Consent.id == consent_id).with_for_update()
    consent = session.scalar(query.execution_options(populate_existing=True))
    if consent is not None and consent.citizen_id == citizen_id and not allowed(consent, now).withdraw:
        return None
    return revoke_consent(session, citizen_id=citizen_id, consent_id=consent_id, now=now)


def _history_item(
    seq: int,
    recorded_at: dt.datetime,
    body: dict[str, Any],
    apps: dict[str, AgencyApp],
    purposes: dict[tuple[str, str], Purpose],
    catalogue: Catalogue,
) -> HistoryItem:
    details = body.get("details") or {}
    app_id, purpose_id = body.get("app_id"), body.get("purpose")
    app = None
    if app_id is not None:
        known = apps.get(app_id)
        # The agency named at the time of a disclosure, else the app's current one.
        agency = details.get("agency") or (known.agency if known else "")
        app = AppRef(app_id, known.name if known else app_id, agency)
    purpose = purposes.get((app_id, purpose_id)) if app_id and purpose_id else None
    return HistoryItem(
        seq=seq,
        kind=body["kind"],
        time=recorded_at,
        app=app,
        purpose=PurposeRef(purpose_id, purpose.description if purpose else ""),
        attributes=labelled(catalogue, body.get("attributes", [])),
        consent_id=details.get("consent_id"),
        outcome=body.get("outcome"),
        staff=details.get("staff") if body["kind"].startswith("staff_") else None,
        reason=details.get("reason") if body["kind"].startswith("staff_") else None,
    )


def _consent_record(
    consent: Consent,
    apps: dict[str, AgencyApp],
    purposes: dict[tuple[str, str], Purpose],
    catalogue: Catalogue,
    *,
    now: dt.datetime,
) -> ConsentRecord:
    known = apps.get(consent.client_id)
    purpose = purposes.get((consent.client_id, consent.purpose_id))
    return ConsentRecord(
        id=consent.id,
        app=AppRef(
            consent.client_id, known.name if known else consent.client_id, known.agency if known else ""
        ),
        purpose=PurposeRef(consent.purpose_id, purpose.description if purpose else ""),
        approved=labelled(catalogue, consent.approved, parts=consent.approved_parts),
        declined=labelled(catalogue, consent.declined),
        remembered=consent.remembered,
        granted_at=consent.granted_at,
        expires_at=consent.expires_at,
        revoked_at=consent.revoked_at,
        status=state(consent, now),  # consent.lifecycle: active, paused, used, expired or withdrawn
        allowed=allowed(consent, now),
    )


def labelled(
    catalogue: Catalogue, names: Iterable[str], *, parts: Mapping[str, Sequence[str]] | None = None
) -> list[Labelled]:
    """Each attribute with its label; one approved only in part says which part."""
    parts = parts or {}
    shown = []
    for name in names:
        label = catalogue[name].label if name in catalogue else name
        shown.append(Labelled(name, partial_label(label, parts[name]) if parts.get(name) else label))
    return shown


def _apps(session: Session, client_ids: set[str]) -> dict[str, AgencyApp]:
    if not client_ids:
        return {}
    return {
        app.client_id: app
        for app in session.scalars(select(AgencyApp).where(AgencyApp.client_id.in_(client_ids)))
    }


def _purposes(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Purpose]:
    if not keys:
        return {}
    query = select(Purpose).where(tuple_(Purpose.client_id, Purpose.purpose_id).in_(sorted(keys)))
    return {(p.client_id, p.purpose_id): p for p in session.scalars(query)}
