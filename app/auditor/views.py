"""The auditor console, for staff with the auditor role (they sign in at /staff/sign-in): search the
disclosure log, read an entry
with its inclusion proof, download exports, see the log's status.

Every auditor action appends to the log it reads, and that entry commits before anything is shown
or streamed ("no audit entry, no data"). A national id is only ever posted: the search form turns
it into the keyed digest `citizen_ref` and redirects to a results URL carrying the digest.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import structlog
from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from audit.export import export_lines
from audit.log import KINDS, Event
from audit.search import search as search_log
from audit.tree import latest_checkpoint
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from profile_store.citizens import normalise_uinfin

from ..auditing import record
from ..display_time import display_zone
from ..extensions import db, runtime
from ..security import auditor_required, current_staff, public
from .display import (
    csv_chunks,
    entry_view,
    jsonl_chunks,
    log_status,
    row,
    signed_checkpoint_json,
    to_filters,
    witnessing,
)
from .names import filter_choices, load_names
from .schemas import ExportQuery, SearchForm, SearchQuery, filter_args

bp = Blueprint("auditor", __name__, url_prefix="/auditor", template_folder="templates")
log = structlog.get_logger(__name__)

ASSETS = Path(__file__).with_name("assets")
PAGE_SIZE = 25
CITIZEN_REF = re.compile(r"[0-9a-f]{64}")
SHOWN_FIELDS = ("app_id", "attribute", "purpose", "outcome", "kind", "actor", "from", "to")


@bp.app_context_processor
def _auditor_context() -> dict[str, Any]:
    staff = current_staff()
    return {"auditor_signed_in": staff is not None and staff.has_role("auditor")}


@bp.before_request
def _open_as_writer() -> None:
    """Every signed-in auditor page appends to the log before it shows anything, so the request's
    session is a writer from its first statement (BEGIN IMMEDIATE on SQLite): a reader's snapshot
    cannot take the write lock once a release has committed after it ("database is locked")."""
    db(write=True)


@bp.get("/assets/auditor.css")
@public
def stylesheet():
    return send_from_directory(ASSETS, "auditor.css", mimetype="text/css")


# Auditors are staff (migration 0025): the console's own sign-in form is gone. Its addresses stay,
# for bookmarks and old links: signing in goes to the staff page (and back to the console after),
# signing out posts on to the staff sign-out (307 keeps the method and the CSRF token).
@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    return redirect(url_for("staff.sign_in", next=url_for(".search")), 303)


@bp.post("/logout")
@public
def logout():
    return redirect(url_for("staff.sign_out"), 307)


@bp.get("/")
@auditor_required
def search():
    try:
        args = SearchQuery().load(request.args.to_dict())
        filtered = to_filters(args, display_zone())
        page = search_log(db(write=True), filtered, cursor=args.get("cursor"), limit=PAGE_SIZE)
    except ValidationError as exc:
        return _search_page(exc.messages, request.args), 400
    except ValidationFailed as exc:  # a cursor this service did not issue
        return _search_page(exc.errors, request.args), 400
    filters = filter_args(args)
    details = {"filters": filters, "results": len(page.entries), "next_page": "cursor" in args}
    _audit("auditor_search", **details)
    next_url = url_for(".search", **filters, cursor=page.next_cursor) if page.next_cursor else None
    return _render_search(
        {},
        filters,
        rows=_named([row(entry) for entry in page.entries]),
        next_url=next_url,
        first_url=url_for(".search", **filters) if "cursor" in args else None,
        filters=filters,
    )


@bp.post("/")
@auditor_required
def submit_search():
    try:
        form = SearchForm().load(request.form)
    except ValidationError as exc:
        return _search_page(exc.messages, request.form, uinfin=request.form.get("uinfin", "")), 400
    if uinfin := form.pop("uinfin", None):
        form["citizen_ref"] = runtime().vault.digest_uinfin(normalise_uinfin(uinfin))
    return redirect(url_for(".search", **filter_args(form)), 303)


def _named(rows: list) -> list:
    """Rows whose actor reads as a username (staff, and auditor accounts from before 0025)."""
    names = load_names(db(), runtime().catalogue)
    return [dataclasses.replace(r, actor=names.actor(r.actor)) for r in rows]


def _search_page(errors: dict, entered, *, uinfin: str = ""):
    """The form again with what was entered (a well-formed citizen reference is carried along)."""
    shown = {name: str(entered.get(name, ""))[:100] for name in SHOWN_FIELDS}
    if CITIZEN_REF.fullmatch(ref := str(entered.get("citizen_ref", ""))):
        shown["citizen_ref"] = ref
    return _render_search(errors, shown, uinfin=uinfin)


def _render_search(errors: dict, shown: dict[str, str], **page: Any) -> str:
    choices = filter_choices(db(), runtime().catalogue)
    return render_template(
        "auditor/search.html",
        errors=errors,
        shown=shown,
        kinds=sorted(KINDS),
        choices=choices,
        zone=display_zone().key,
        **{"rows": None, **page},
    )


@bp.get("/entries/<int:seq>")
@auditor_required
def entry(seq: int):
    view = entry_view(db(write=True), seq, public_key=runtime().audit_signer.public_key)
    _audit("auditor_search", entry=seq)
    return render_template("auditor/entry.html", entry=view)


@bp.get("/export")
@auditor_required
def export():
    args = _load_query(ExportQuery())
    fmt, filters, store, log_id = (
        args.pop("format"),
        filter_args(args),
        db(write=True),
        runtime().audit_signer.log_id,
    )
    if fmt == "jsonl" and not filters:
        # The whole log up to the latest checkpoint: exactly what `python -m audit.verifier` checks.
        checkpoint = latest_checkpoint(store)
        if checkpoint is None:
            raise NotFound("No checkpoint has been signed yet, so there is nothing to verify against")
        _audit("auditor_export", format=fmt, filters={}, upto=checkpoint.tree_size)
        chunks = _streamed(lambda session: export_lines(session, log_id=log_id, upto=checkpoint.tree_size))
        return _download(chunks, f"consentry-audit-{checkpoint.tree_size}.jsonl", "application/jsonl")
    _audit("auditor_export", format=fmt, filters=filters)
    zone = display_zone()
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        chunks = _streamed(lambda session: csv_chunks(session, to_filters(args, zone)))
        return _download(chunks, f"consentry-audit-{stamp}.csv", "text/csv")
    chunks = _streamed(
        lambda session: jsonl_chunks(session, to_filters(args, zone), log_id=log_id, filters_used=filters)
    )
    return _download(chunks, f"consentry-audit-search-{stamp}.jsonl", "application/jsonl")


@bp.get("/export/checkpoint")
@auditor_required
def export_checkpoint():
    checkpoint = latest_checkpoint(db())
    if checkpoint is None:
        raise NotFound("No checkpoint has been signed yet")
    _audit("auditor_export", format="checkpoint", tree_size=checkpoint.tree_size)
    name = f"consentry-audit-{checkpoint.tree_size}.checkpoint.json"
    return _download(signed_checkpoint_json(checkpoint), name, "application/json")


@bp.get("/export/public-key")
@auditor_required
def export_public_key():
    signer = runtime().audit_signer
    _audit("auditor_export", format="public_key", key_id=signer.key_id)
    name = f"consentry-audit-{signer.key_id}.pub.pem"
    response = _download(signer.public_pem(), name, "application/x-pem-file")
    response.headers["X-Key-Id"] = signer.key_id
    return response


@bp.get("/status")
@auditor_required
def status():
    _audit("auditor_search", page="status")
    rt, session = runtime(), db()
    return render_template(
        "auditor/status.html",
        status=log_status(session, rt.audit_signer),
        witnessing=witnessing(session, rt.config, rt.audit_signer),
    )


def _audit(kind: str, **details: Any) -> None:
    """Append and commit the auditor's action before the page or download is produced."""
    record(db(), Event(kind=kind, details={"auditor": g.auditor.username, "actor": g.actor, **details}))
    db().commit()


def _streamed(chunks: Callable[[Session], Iterable[str]]) -> Iterator[str]:
    """A download's body, read once streaming starts in a session opened then: the request's own
    session was closed when the view returned (so the writer's lock is not held while a large
    export trickles out), and this one, a reader, is closed at the end of the stream."""
    yield from chunks(db())


def _download(body, filename: str, mimetype: str) -> Response:
    content = stream_with_context(body) if not isinstance(body, str | bytes) else body
    return Response(
        content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _load_form(schema: Schema) -> dict:
    try:
        return schema.load(request.form)
    except ValidationError as exc:
        raise ValidationFailed("The form was not valid.", exc.messages) from exc  # type: ignore[arg-type]


def _load_query(schema: Schema) -> dict:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("The download address was not valid.", exc.messages) from exc  # type: ignore[arg-type]


# Routes of the same blueprint kept in their own modules (this one stays short).
from . import report_views, verify_views  # noqa: E402, F401
