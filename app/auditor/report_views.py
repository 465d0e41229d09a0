"""Reports in the auditor console: releases per app and attribute, apps that asked for more than
they used, unusual hourly volumes, staff look-ups per member of staff (audit.reports). Each is a
page with a period form (dates in the display time zone) and a CSV download; reading either is
recorded in the log first."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import abort, render_template, request, url_for
from marshmallow import ValidationError

from audit import reports as audit_reports
from core.clock import utcnow

from ..display_time import display_zone, in_zone, staff_time
from ..extensions import db, runtime
from ..security import auditor_required
from .display import FORMULA_START
from .names import Names, load_names, local_day_bounds
from .schemas import ReportQuery
from .views import _audit, _download, bp

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Report:
    title: str
    definition: str
    columns: tuple[str, ...]
    rows: Callable[..., list[tuple]]  # (session, names, since, until) -> rows of columns


def _releases(session, names: Names, since, until) -> list[tuple]:
    return [
        (names.app(r.app_id), r.app_id, names.attribute(r.attribute), r.attribute, r.releases)
        for r in audit_reports.releases(session, since=since, until=until)
    ]


def _over_asking(session, names: Names, since, until) -> list[tuple]:
    return [
        (
            names.app(r.app_id),
            r.app_id,
            r.disclosures,
            ", ".join(names.attribute(a) for a in r.unused),
            ", ".join(names.attribute(a) for a in r.asked),
        )
        for r in audit_reports.over_asking(session, since=since, until=until)
    ]


def _unusual(session, names: Names, since, until) -> list[tuple]:
    zone = display_zone()
    return [
        (names.app(u.app_id), u.app_id, staff_time(u.hour, zone), in_zone(u.hour, zone).isoformat(),
         u.releases, u.mean, u.threshold)
        for u in audit_reports.unusual_volumes(session, since=since, until=until)
    ]  # fmt: skip


def _lookups(session, names: Names, since, until) -> list[tuple]:
    return [
        (names.actor(r.actor), r.actor, r.lookups, r.citizens)
        for r in audit_reports.staff_lookups(session, since=since, until=until)
    ]


REPORTS = {
    "releases": Report(
        "Releases per app and attribute",
        "How many releases to each app included each attribute (one release is one disclosure "
        "entry: a person or userinfo call answered).",
        ("App", "App id", "Attribute", "Attribute name", "Releases"),
        _releases,
    ),
    "over-asking": Report(
        "Apps that asked for more than they used",
        "Apps whose calls asked for attributes (the scope recorded with each release) that were "
        "never released to them in the period: the citizen declined them or they were not held. "
        "Only apps with at least one such attribute are listed; releases recorded before the "
        "asked attributes were recorded do not count.",
        ("App", "App id", "Releases", "Asked for, never released", "Asked for"),
        _over_asking,
    ),
    "unusual-volumes": Report(
        "Unusual volumes",
        f"Hours in which an app had more releases than the mean plus {audit_reports.SIGMAS} standard "
        "deviations of its own hourly counts over the 7 days before that hour (hours without a "
        f"release count as 0), and at least {audit_reports.MIN_UNUSUAL} releases.",
        ("App", "App id", "Hour starting", "Hour start (ISO)", "Releases", "Usual per hour", "Threshold"),
        _unusual,
    ),
    "staff-lookups": Report(
        "Staff look-ups by person",
        "How many times each member of staff opened a citizen's record, and how many different "
        "citizens that was.",
        ("Member of staff", "Actor", "Look-ups", "Different citizens"),
        _lookups,
    ),
}


@bp.get("/reports/")
@auditor_required
def reports():
    _audit("auditor_search", page="reports")
    return render_template("auditor/reports.html", reports=REPORTS)


@bp.get("/reports/<name>")
@auditor_required
def report(name: str):
    if (spec := REPORTS.get(name)) is None:
        abort(404)
    try:
        args = ReportQuery().load(request.args.to_dict())
    except ValidationError as exc:
        return _page(name, spec, exc.messages, request.args, rows=None), 400
    today = in_zone(utcnow(), display_zone()).date()
    first = args.get("since", today - dt.timedelta(days=DEFAULT_DAYS - 1))
    last = args.get("until", today)
    since, until = local_day_bounds(first, last, display_zone())
    period = {"from": first.isoformat(), "to": last.isoformat()}
    store = db(write=True)
    rows = spec.rows(store, load_names(store, runtime().catalogue), since, until)
    if args.get("format") == "csv":
        _audit("auditor_export", format="csv", report=name, period=period, results=len(rows))
        filename = f"consentry-{name}-{period['from']}-{period['to']}.csv"
        return _download(_csv(spec.columns, rows), filename, "text/csv")
    _audit("auditor_search", report=name, period=period, results=len(rows))
    csv_url = url_for(".report", name=name, format="csv", **period)
    return _page(name, spec, {}, period, rows=rows, csv_url=csv_url)


def _page(name: str, spec: Report, errors: dict, shown, **page):
    shown = {key: str(shown.get(key, ""))[:20] for key in ("from", "to")}
    return render_template(
        "auditor/report.html",
        name=name,
        report=spec,
        errors=errors,
        shown=shown,
        zone=display_zone().key,
        **page,
    )


def _csv(columns: tuple[str, ...], rows: list[tuple]) -> Iterator[str]:
    """The header, then the rows; a text cell a spreadsheet would run as a formula starts with '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["'" + c if isinstance(c, str) and c.startswith(FORMULA_START) else c for c in row])
        if buffer.tell() > 16_384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
