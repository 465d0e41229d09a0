"""The audit log in the open formats monitors and witnesses already read: the latest checkpoint as a
C2SP signed note (c2sp.org/tlog-checkpoint), the Merkle tree as hash tiles (c2sp.org/tlog-tiles),
and the note verifier key. Hash tiles say nothing about a person; entry bundles do, so they are
for auditors only (docs/audit.md, "Tiles"). The checkpoint is served with the cosignatures the
witnesses returned for it; /log/witnesses tells auditors how witnessing stands (alarms included)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for
from marshmallow import Schema, fields

from audit.cosigned import cosigned_note
from audit.tiles import Tile, parse_tile_path, published_checkpoint, read_tile
from audit.witness_check import recent_refusals, refusal_count, refused_note, witness_status
from audit.witness_client import parse_witnesses
from core.errors import NotFound

from ..extensions import db, runtime
from ..security import auditor_required, public

bp = Blueprint("log_api", __name__)

TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=10"


@bp.get("/log/checkpoint")
@public
def checkpoint():
    session = db()
    latest = published_checkpoint(session)
    if latest is None:
        raise NotFound("no checkpoint yet")
    return Response(cosigned_note(session, latest), content_type=TEXT, headers={"Cache-Control": SHORT})


@bp.get("/log/tile/<path:path>")
@public
def hash_tile(path: str):
    tile = _tile(path)
    if tile.level is None:
        raise NotFound("no such tile")
    return _serve(tile)


@bp.get("/log/tile/entries/<path:path>")
@auditor_required
def entry_bundle(path: str):
    return _serve(_tile(f"entries/{path}"))


@bp.get("/.well-known/consentry-log-key")
@public
def verifier_key():
    key = runtime().audit_signer.note_verifier_key()
    return Response(key + "\n", content_type=TEXT, headers={"Cache-Control": "public, max-age=3600"})


class WitnessStatusSchema(Schema):
    name = fields.String()
    url = fields.String()
    cosigned_size = fields.Integer()
    cosigned_at = fields.AwareDateTime(allow_none=True)
    refusals = fields.Integer()
    last_refusal = fields.String(allow_none=True)


class RefusalSchema(Schema):
    id = fields.Integer()
    witness = fields.String()
    tree_size = fields.Integer()
    witness_size = fields.Integer(allow_none=True)
    status = fields.Integer()
    reason = fields.String()
    occurred_at = fields.AwareDateTime()
    evidence = fields.Function(lambda r: url_for("log_api.refusal_evidence", refusal_id=r.id))


class WitnessingSchema(Schema):
    quorum = fields.Integer()
    refusals = fields.Integer()
    witnesses = fields.List(fields.Nested(WitnessStatusSchema))
    recent_refusals = fields.List(fields.Nested(RefusalSchema))


@bp.get("/log/witnesses")
@auditor_required
def witnesses():
    """How witnessing stands: per configured witness the newest checkpoint it cosigned and its
    refusals of an inconsistent checkpoint (alarms), and the alarms in all."""
    rt, session = runtime(), db()
    targets = parse_witnesses(rt.config.audit_witnesses)
    status = {
        "quorum": rt.config.audit_witness_quorum,
        "refusals": refusal_count(session),
        "witnesses": witness_status(session, targets),
        "recent_refusals": recent_refusals(session),
    }
    return jsonify(WitnessingSchema().dump(status))


@bp.get("/log/witnesses/refusals/<int:refusal_id>")
@auditor_required
def refusal_evidence(refusal_id: int):
    """The checkpoint a witness refused, as the signed note we submitted: evidence anyone can
    check with the log's key (the witness keeps the request itself under its state directory)."""
    text = refused_note(db(), refusal_id)
    if text is None:
        raise NotFound("no such refusal")
    return Response(text, content_type=TEXT, headers={"Cache-Control": "no-store"})


def _tile(path: str) -> Tile:
    try:
        return parse_tile_path(path)
    except ValueError:
        raise NotFound("no such tile") from None


def _serve(tile: Tile) -> Response:
    session = db()
    latest = published_checkpoint(session)
    if latest is None:
        raise NotFound("no checkpoint yet")
    data = read_tile(session, tile, latest.tree_size)
    cache = IMMUTABLE if tile.full else SHORT
    return Response(data, content_type="application/octet-stream", headers={"Cache-Control": cache})
