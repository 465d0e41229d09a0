"""Public audit-log proofs, in the manner of Certificate Transparency: anyone may fetch signed
checkpoints, the public key and inclusion/consistency proofs. They hold hashes only; entry bodies
are for auditors."""

from __future__ import annotations

from flask import Blueprint, Response, request
from marshmallow import Schema, ValidationError

from audit.integrator import Pending
from audit.tree import get_checkpoint, latest_checkpoint, prove_consistency, prove_inclusion
from core.errors import NotFound, ValidationFailed

from ..extensions import db, runtime
from ..security import public
from .schemas import ConsistencyProof, ConsistencyQuery, InclusionProof, InclusionQuery

bp = Blueprint("audit_api", __name__, url_prefix="/api/audit")
RETRY_AFTER_S = 1  # an entry waits for the integrator about AUDIT_INTEGRATE_EVERY_S (0.1 s by default)


def _query(schema: Schema) -> dict:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("invalid query parameters", exc.messages) from None


def _signed(checkpoint) -> Response:
    text = f'{{"body":{checkpoint.body},"signature":"{checkpoint.signature}"}}'
    return Response(text, mimetype="application/json", headers={"Cache-Control": "public, max-age=60"})


@bp.get("/public-key")
@public
def public_key():
    signer = runtime().audit_signer
    return Response(
        signer.public_pem(), mimetype="application/x-pem-file", headers={"X-Key-Id": signer.key_id}
    )


@bp.get("/checkpoints/latest")
@public
def latest():
    checkpoint = latest_checkpoint(db())
    if checkpoint is None:
        raise NotFound("no checkpoint yet")
    return _signed(checkpoint)


@bp.get("/checkpoints/<int:size>")
@public
def checkpoint_at(size: int):
    return _signed(get_checkpoint(db(), size))


@bp.get("/proofs/inclusion")
@public
def inclusion():
    args = _query(InclusionQuery())
    try:
        return InclusionProof().dump(prove_inclusion(db(), seq=args["seq"], size=args["tree_size"]))
    except Pending as exc:
        # Batched integration: the entry exists but is not in the tree yet (docs/audit.md).
        body = {"status": "pending", "seq": args["seq"], "detail": exc.message}
        return body, 202, {"Retry-After": str(RETRY_AFTER_S)}


@bp.get("/proofs/consistency")
@public
def consistency():
    args = _query(ConsistencyQuery())
    return ConsistencyProof().dump(prove_consistency(db(), first=args["first"], second=args["second"]))
