"""A checkpoint's signed note with the witness cosignatures we hold for it: what /log/checkpoint
serves, proof bundles carry and `audit publish` writes. Its own module so that tiles (publish)
and the witness submitter (which reads the published checkpoint from tiles) can both use it
without importing each other."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import note
from .models import AuditCheckpoint
from .tree import checkpoint_note
from .witness_models import AuditCosignature


def cosignature_lines(session: Session, tree_size: int) -> str:
    """The stored cosignature lines of the checkpoint at `tree_size`, to append to its note."""
    rows = session.scalars(
        select(AuditCosignature)
        .where(AuditCosignature.tree_size == tree_size)
        .order_by(AuditCosignature.witness)
    )
    return "".join(note.signature_line(row.witness, row.signature) for row in rows)


def cosigned_note(session: Session, checkpoint: AuditCheckpoint) -> str | None:
    """The checkpoint's signed note with every cosignature we hold for it."""
    text = checkpoint_note(checkpoint)
    return None if text is None else text + cosignature_lines(session, checkpoint.tree_size)
