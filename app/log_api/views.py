"""The audit log in the open formats monitors and witnesses already read: the latest checkpoint as a
C2SP signed note (c2sp.org/tlog-checkpoint), the Merkle tree as hash tiles (c2sp.org/tlog-tiles),
and the note verifier key. Hash tiles say nothing about a person; entry bundles do, so they are
for auditors only (docs/audit.md, "Tiles")."""

from __future__ import annotations

from flask import Blueprint, Response

from audit.log import checkpoint_note
from audit.tiles import Tile, parse_tile_path, published_checkpoint, read_tile
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
    latest = published_checkpoint(db())
    if latest is None:
        raise NotFound("no checkpoint yet")
    return Response(checkpoint_note(latest), content_type=TEXT, headers={"Cache-Control": SHORT})


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
