"""Names people read for the ids the audit log records: apps by name, attributes by the
catalogue's label, staff by username, and the period of a report in the display time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import AgencyApp
from identity.staff_models import StaffMember
from profile_store.catalogue import Catalogue


@dataclass(frozen=True)
class Names:
    apps: dict[str, str]  # client_id -> name
    attributes: dict[str, str]  # attribute -> label
    staff: dict[str, str]  # actor (staff:<id>) -> username

    def app(self, app_id: str | None) -> str:
        return self.apps.get(app_id or "", app_id or "")

    def attribute(self, name: str) -> str:
        return self.attributes.get(name, name)

    def actor(self, actor: str) -> str:
        return self.staff.get(actor, actor)


def load_names(session: Session, catalogue: Catalogue) -> Names:
    apps = {i: n for i, n in session.execute(select(AgencyApp.client_id, AgencyApp.name))}
    staff = {f"staff:{i}": u for i, u in session.execute(select(StaffMember.id, StaffMember.username))}
    labels = {name: attribute.label for name, attribute in catalogue.attributes.items()}
    return Names(apps=apps, attributes=labels, staff=staff)


def local_day_bounds(first: dt.date, last: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in `zone`, as UTC instants."""
    since = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return since.astimezone(dt.UTC), until.astimezone(dt.UTC)
