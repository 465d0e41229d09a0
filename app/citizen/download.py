"""'Download my data': the citizen's whole record (app/citizen/export.py) as one JSON file or a
zip of CSV files, streamed (docs/portal.md).

    GET /citizen/download               the page: what is in it, two buttons
    GET /citizen/download/record.json   the record as JSON
    GET /citizen/download/record.zip    one CSV per section, and README.txt

Each download appends `citizen_download` to the audit log (the format; no values) and commits it
before a byte leaves. The body then streams from a read session of its own, closed at the end, so
no write transaction is held while the citizen's connection drains it.
"""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from flask import Response, g, render_template, stream_with_context

from audit.log import Event
from core.clock import utcnow
from profile_store.citizens import get_citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import citizen_required
from .export import Record, json_chunks, zip_chunks
from .views import bp

log = structlog.get_logger(__name__)

KINDS = {
    "json": ("application/json", "consentry-my-record.json"),
    "zip": ("application/zip", "consentry-my-record.zip"),
}


@bp.get("/download")
@citizen_required
def download_page():
    return render_template("citizen/download.html")


@bp.get("/download/record.json")
@citizen_required
def download_json():
    return _download("json")


@bp.get("/download/record.zip")
@citizen_required
def download_zip():
    return _download("zip")


def _download(form: str):
    store = db(write=True)
    citizen = get_citizen(store, g.citizen_id)
    details = {"format": form, "actor": "citizen"}
    record(
        store,
        Event(
            kind="citizen_download", citizen_ref=citizen.uinfin_digest, outcome="downloaded", details=details
        ),
    )
    store.commit()  # no entry, no download
    log.info("citizen_downloaded_record", citizen_id=citizen.id, format=form)
    mimetype, filename = KINDS[form]
    response = Response(stream_with_context(_stream(citizen.id, form)), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _stream(citizen_id: str, form: str) -> Iterator[bytes]:
    rt = runtime()
    with rt.sessions() as session:
        mine = Record(session, rt.vault, rt.catalogue, get_citizen(session, citizen_id))
        yield from json_chunks(mine, generated_at=utcnow()) if form == "json" else zip_chunks(mine)
