"""Times as people read them: in the deployment's time zone (`Config.display_timezone`, env
`DISPLAY_TIMEZONE`, default Asia/Singapore), never raw UTC.

Stored times are UTC (core.db.UTCDateTime). Templates turn them into wall-clock time with one Jinja
filter, `local_time` (registered in app/site.py), on every page a person reads: the citizen portal,
the consent screen and the staff pages.

    {{ moment | local_time }}           "3 December 2026, 9:05pm"  (citizens; the page names the zone)
    {{ moment | local_time('staff') }}  "3 Dec 2026 21:05 (Asia/Singapore)"  (staff compare with logs)

A date without a time (an agency's "last updated") has no zone and is not converted.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from flask_babel import gettext as _

from .extensions import runtime
from .i18n import current_locale
from .value_format import clock

CITIZEN, STAFF = "citizen", "staff"


def known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows (e.g. "Asia/Singapore")."""
    try:
        zone_named(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@cache
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def display_zone() -> ZoneInfo:
    """The deployment's zone (inside an app context)."""
    return zone_named(runtime().config.display_timezone)


def in_zone(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    # A database that drops the zone (SQLite) hands back naive UTC: never read it as local time.
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(zone)


def citizen_time(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """ "3 December 2026, 9:05pm" in `zone`; the page says which zone once."""
    local = in_zone(moment, zone)
    locale = current_locale()
    if locale != "en":  # the locale's own long date and short time: "2026年12月3日 下午9:05"
        return f"{format_date(local, 'long', locale=locale)} {format_time(local, 'short', locale=locale)}"
    return f"{local.day} {local:%B %Y}, {clock(local.hour, local.minute)}"


def staff_time(moment: dt.datetime, zone: ZoneInfo) -> str:
    """ "3 Dec 2026 21:05 (Asia/Singapore)": 24-hour, the zone's name on every time."""
    local = in_zone(moment, zone)
    return f"{local.day} {local:%b %Y %H:%M} ({zone.key})"


def zone_phrase(zone: ZoneInfo) -> str:
    """The zone as a citizen says it: "Singapore time", "New York time", "UTC"."""
    if zone.key in ("UTC", "Etc/UTC"):
        return "UTC"
    if zone.key == "Asia/Singapore":
        return _("Singapore time")
    return _("%(city)s time", city=zone.key.rsplit("/", 1)[-1].replace("_", " "))


def local_time(moment: dt.datetime | None, style: str = CITIZEN) -> str:
    """The Jinja filter: `moment` in the deployment's zone, for citizens or (`'staff'`) for staff."""
    if moment is None:
        return ""
    zone = display_zone()
    return staff_time(moment, zone) if style == STAFF else citizen_time(moment, zone)


def time_context() -> dict[str, str]:
    """For every template: `display_zone` ("Singapore time"), to say once which zone times are in."""
    return {"display_zone": zone_phrase(display_zone())}
