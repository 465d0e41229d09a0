"""Names people read for the ids the audit log records: apps by name, attributes by the
catalogue's label, staff by username (and the auditor accounts from before they became staff,
`auditor:<id>` in older entries, by the username they had), and the period of a report in the
display time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.auditor_models import AuditorName
from consent.models import AgencyApp
from identity.staff_models import StaffMember
from profile_store.catalogue import Catalogue


@dataclass(frozen=True)
class Names:
    apps: dict[str, str]  # client_id -> name
    attributes: dict[str, str]  # attribute -> label
    staff: dict[str, str]  # actor (staff:<id>, or auditor:<id> in older entries) -> username

    def app(self, app_id: str | None) -> str:
        return self.apps.get(app_id or "", app_id or "")

    def attribute(self, name: str) -> str:
        return self.attributes.get(name, name)

    def actor(self, actor: str) -> str:
        return self.staff.get(actor, actor)


def load_names(session: Session, catalogue: Catalogue) -> Names:
    apps = {i: n for i, n in session.execute(select(AgencyApp.client_id, AgencyApp.name))}
    staff = {f"staff:{i}": u for i, u in session.execute(select(StaffMember.id, StaffMember.username))}
    staff |= legacy_auditors(session)
    labels = {name: attribute.label for name, attribute in catalogue.attributes.items()}
    return Names(apps=apps, attributes=labels, staff=staff)


def legacy_auditors(session: Session) -> dict[str, str]:
    """`auditor:<id>` -> "<username> (auditor account)" for the accounts migration 0027 moved."""
    rows = session.execute(select(AuditorName.id, AuditorName.username))
    return {f"auditor:{i}": f"{u} (auditor account)" for i, u in rows}


def local_day_bounds(first: dt.date, last: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in `zone`, as UTC instants."""
    since = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return since.astimezone(dt.UTC), until.astimezone(dt.UTC)


# Outcomes the platform records (a filter also takes any other well-formed one).
OUTCOMES = (
    "released", "partial", "granted", "declined", "revoked", "expired", "refused", "viewed", "revealed",
    "completed", "downloaded", "access_denied", "auditor_login", "auditor_logout", "staff_signed_in",
    "staff_sign_in_failed", "staff_signed_out", "staff_added", "staff_disabled", "staff_roles_changed",
    "keys_created", "keys_rotated", "audit_verification_started",
)  # fmt: skip


@dataclass(frozen=True)
class Choices:
    """The search form's options: (value, what the auditor reads), in the order shown."""

    apps: list[tuple[str, str]]
    attributes: list[tuple[str, str]]
    actors: list[tuple[str, str]]
    outcomes: list[tuple[str, str]]


def filter_choices(session: Session, catalogue: Catalogue) -> Choices:
    """Apps by name, attributes by label, staff and auditors by username, outcomes in words."""
    names = load_names(session, catalogue)
    actors = [("citizen", "A citizen"), ("app", "An agency app")]
    actors += sorted(((actor, f"Staff: {name}") for actor, name in names.staff.items()), key=lambda a: a[1])
    return Choices(
        apps=sorted(((i, f"{n} ({i})") for i, n in names.apps.items()), key=lambda a: a[1].lower()),
        attributes=sorted(names.attributes.items(), key=lambda a: a[1].lower()),
        actors=actors,
        outcomes=[(o, o.replace("_", " ").capitalize()) for o in OUTCOMES],
    )
