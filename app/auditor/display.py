"""What the auditor pages show and download: search filters from a loaded query, result rows, an
entry with its inclusion proof checked against the signed checkpoint, the log's status, and the
CSV and JSON Lines streams of search results."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.auditor_models import AuditVerification
from audit.integrator import Pending, leaf_index
from audit.models import AuditCheckpoint, AuditEntry, AuditLeaf
from audit.proof_bundle import bundle_for, check_bundle
from audit.search import MAX_PAGE, Filters, search
from audit.signer import AuditSigner
from audit.tree import latest_checkpoint, tree_size
from audit.verification_runs import last_verification
from audit.witness_check import LatestQuorum, latest_quorum, recent_refusals, refusal_count, witness_status
from audit.witness_client import parse_witnesses
from audit.witness_models import AuditWitnessRefusal
from core.errors import NotFound

from ..config import Config

CSV_COLUMNS = (
    "seq", "recorded_at", "kind", "actor", "citizen_ref", "app_id", "purpose", "outcome", "attributes",
    "request_id", "leaf_hash",
)  # fmt: skip
SEARCH_FORMAT = "consentry-audit-search/1"
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_filters(args: dict[str, Any], zone: dt.tzinfo = dt.UTC) -> Filters:
    """Search filters from a loaded SearchQuery/ExportQuery: days are midnight to midnight in
    `zone` (the display time zone) and `to` is inclusive, so the window ends at the start of the
    next day."""
    since, until = args.get("since"), args.get("until")
    return Filters(
        citizen_ref=args.get("citizen_ref"),
        app_id=args.get("app_id"),
        attribute=args.get("attribute"),
        purpose=args.get("purpose"),
        outcome=args.get("outcome"),
        kinds=(args["kind"],) if args.get("kind") else (),
        actor=args.get("actor"),
        since=_midnight(since, zone) if since else None,
        until=_midnight(until + dt.timedelta(days=1), zone) if until else None,
    )


def _midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(dt.UTC)


@dataclass(frozen=True)
class Row:
    seq: int
    recorded_at: dt.datetime  # UTC; pages show it with `local_time('staff')` (app/display_time.py)
    kind: str
    app_id: str | None
    purpose: str | None
    outcome: str | None
    attributes: list[str]
    actor: str


def actor_of(body: dict[str, Any]) -> str:
    """Who acted, for every entry: the `actor` staff and auditor actions record (`staff:<id>`,
    `auditor:<id>`); else, for older entries, the auditor by username, the app for a disclosure,
    the citizen for a consent decision, and `system` for the rest (refreshes by agencies, jobs)."""
    details = body.get("details") or {}
    if isinstance(details.get("actor"), str):
        return details["actor"]
    if isinstance(details.get("auditor"), str):
        return f"auditor:{details['auditor']}"
    kind = body.get("kind", "")
    if kind == "disclosure" and body.get("app_id"):
        return f"app:{body['app_id']}"
    if kind in ("consent_granted", "consent_declined") or details.get("by") == "citizen":
        return "citizen"
    return "system"


def row(entry: AuditEntry) -> Row:
    body = json.loads(entry.body)
    return Row(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        kind=entry.kind.replace("_", " ").capitalize(),
        app_id=entry.app_id,
        purpose=entry.purpose,
        outcome=entry.outcome,
        attributes=body.get("attributes", []),
        actor=actor_of(body),
    )


@dataclass(frozen=True)
class Proof:
    tree_size: int
    root_hash: str
    signed_at: dt.datetime
    key_id: str
    signature_valid: bool
    audit_path: list[str]
    verified: bool


@dataclass(frozen=True)
class EntryView:
    seq: int
    recorded_at: dt.datetime
    kind: str
    body: str  # pretty-printed for reading; the hashed bytes are the canonical form
    leaf_hash: str
    chain_hash: str
    proof: Proof | None  # None until a signed checkpoint covers the entry


def entry_view(session: Session, seq: int, *, public_key: Ed25519PublicKey) -> EntryView:
    """An entry and its RFC 9162 inclusion proof in the latest checkpoint, verified here against the
    checkpoint's signed root (not a root recomputed from our own tables). Raises NotFound."""
    entry = session.get(AuditEntry, seq)
    if entry is None:
        raise NotFound("There is no audit entry with that number")
    try:
        index = leaf_index(session, seq)  # seq itself, except for entries named by id (batched)
    except Pending:
        index = None  # queued for the tree: no proof yet
    checkpoint = latest_checkpoint(session)
    covered = checkpoint is not None and index is not None and index < checkpoint.tree_size
    # An entry named by id keeps its chain hash in its leaf row (audit/integrator.py).
    chain = (
        entry.chain_hash or session.scalar(select(AuditLeaf.chain_hash).where(AuditLeaf.seq == seq)) or b""
    )
    log_id = json.loads(checkpoint.body)["log_id"] if checkpoint else ""
    return EntryView(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        kind=entry.kind,
        body=json.dumps(json.loads(entry.body), indent=2, ensure_ascii=False),
        leaf_hash=entry.leaf_hash.hex(),
        chain_hash=chain.hex(),
        proof=_proof(session, entry, checkpoint, public_key, log_id) if covered and checkpoint else None,
    )


def _proof(
    session: Session,
    entry: AuditEntry,
    checkpoint: AuditCheckpoint,
    public_key: Ed25519PublicKey,
    log_id: str,
) -> Proof:
    """The entry's proof bundle, checked as `python -m audit.verifier --bundle` checks it
    (audit/proof_check.py), with the platform's own key."""
    bundle = bundle_for(session, seq=entry.seq, public_key=public_key, log_id=log_id, checkpoint=checkpoint)
    verdict = check_bundle(bundle, trusted_key=public_key)
    return Proof(
        tree_size=bundle["proof"]["tree_size"],
        root_hash=bundle["checkpoint"]["body"]["root_hash"],
        signed_at=checkpoint.created_at,
        key_id=checkpoint.key_id,
        signature_valid=verdict.signature_valid,
        audit_path=bundle["proof"]["audit_path"],
        verified=verdict.ok,
    )


@dataclass(frozen=True)
class Status:
    tree_size: int
    checkpoint: dict[str, Any] | None  # the signed body of the latest checkpoint
    checkpoint_at: dt.datetime | None  # when it was signed
    verification: AuditVerification | None
    key_id: str


def log_status(session: Session, signer: AuditSigner) -> Status:
    checkpoint = latest_checkpoint(session)
    verification = last_verification(session)
    return Status(
        tree_size=tree_size(session),
        checkpoint=json.loads(checkpoint.body) if checkpoint else None,
        checkpoint_at=checkpoint.created_at if checkpoint else None,
        verification=verification,
        key_id=signer.key_id,
    )


@dataclass(frozen=True)
class Witnessing:
    """The status page's Witnesses section: each configured witness with its key, the newest
    checkpoint it cosigned and its refusals; whether the newest published checkpoint has a quorum;
    the recent alarms (refusals). Times stay datetimes: the page shows them in the display zone."""

    witnesses: list[dict[str, Any]]
    latest: LatestQuorum
    refusals: int
    recent: list[AuditWitnessRefusal]


def witnessing(session: Session, config: Config, signer: AuditSigner) -> Witnessing:
    targets = parse_witnesses(config.audit_witnesses)
    keys = {t.name: t.key.vkey for t in targets}
    quorum = latest_quorum(
        session, log_vkey=signer.note_verifier_key(), targets=targets, quorum=config.audit_witness_quorum
    )
    rows = [
        {
            "name": s.name,
            "key": keys[s.name],
            "cosigned_size": s.cosigned_size,
            "cosigned_at": s.cosigned_at,
            "refusals": s.refusals,
        }
        for s in witness_status(session, targets)
    ]
    return Witnessing(rows, quorum, refusal_count(session), recent_refusals(session))


def signed_checkpoint_json(checkpoint: AuditCheckpoint) -> str:
    """The checkpoint as `audit.verifier` reads it (the same bytes as `consentry audit export`)."""
    return f'{{"body":{checkpoint.body},"signature":"{checkpoint.signature}"}}\n'


def _pages(session: Session, filters: Filters) -> Iterator[list[AuditEntry]]:
    """Every match, newest first, a page at a time; the session forgets each page once it is used
    so a long export runs in constant memory."""
    cursor: str | None = None
    while True:
        page = search(session, filters, cursor=cursor, limit=MAX_PAGE)
        yield page.entries
        session.expunge_all()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def csv_chunks(session: Session, filters: Filters) -> Iterator[str]:
    """A header row, then the matching entries as CSV, one chunk per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entries in _pages(session, filters):
        for entry in entries:
            writer.writerow(_csv_row(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _csv_row(entry: AuditEntry) -> list[str | int]:
    body = json.loads(entry.body)
    text = [
        entry.kind, actor_of(body), entry.citizen_ref, entry.app_id, entry.purpose, entry.outcome,
        " ".join(body.get("attributes", [])), body.get("request_id"),
    ]  # fmt: skip
    safe = ["'" + t if t and t.startswith(FORMULA_START) else (t or "") for t in text]
    return [entry.seq, entry.recorded_at.astimezone(dt.UTC).isoformat(), *safe, entry.leaf_hash.hex()]


def jsonl_chunks(session: Session, filters: Filters, *, log_id: str, filters_used: dict) -> Iterator[str]:
    """A header naming the search, then the matching entries newest first, each line shaped as in
    a full export (seq, body, leaf_hash, chain_hash) so each can be checked with an inclusion proof.
    A search result has gaps, so it cannot be verified as a whole log."""
    header = {"format": SEARCH_FORMAT, "log_id": log_id, "filters": filters_used}
    yield json.dumps(header, sort_keys=True) + "\n"
    for entries in _pages(session, filters):
        yield "".join(
            f'{{"seq":{e.seq},"body":{e.body},"leaf_hash":"{e.leaf_hash.hex()}",'
            f'"chain_hash":"{e.chain_hash.hex()}"}}\n'
            for e in entries
        )
