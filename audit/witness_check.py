"""What witnessing tells about the stored log: the newest checkpoint a quorum of witnesses
cosigned, checked against the tree we hold, and the witnesses' status for operators and auditors.

A cosigned checkpoint carries witness signatures no insider can make, so a rewrite of the log
below the newest witnessed size is caught even if every one of our own checkpoints was replaced
and re-signed: the tree recomputed from the entries has another root at that size, or is shorter.
Cosigned notes kept elsewhere (given to `audit verify --witnessed FILE`, e.g. the witness's own
record) count too, so deleting cosignature rows does not hide a rollback either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .cosignature_check import CosignatureReport, verify_cosignatures
from .cosigned import cosignature_lines, cosigned_note
from .merkle import root
from .models import AuditCheckpoint
from .tiles import published_checkpoint
from .tree import DbNodeStore, checkpoint_note, tree_size
from .verify import Finding
from .witness_client import WitnessTarget
from .witness_format import Witnessed, check_quorum
from .witness_models import AuditCosignature, AuditWitnessRefusal
from .witness_verify import note_cosigners

CANDIDATES = 20  # the newest cosigned sizes tried before giving up on finding a quorum


@dataclass(frozen=True)
class WitnessedCheck:
    """The newest witnessed checkpoint (None: none with a quorum) and, when our log does not
    match it, what is wrong."""

    witnessed: Witnessed | None
    problem: str | None = None

    @property
    def size(self) -> int:
        return self.witnessed.checkpoint.tree_size if self.witnessed else 0


def newest_witnessed(
    session: Session,
    *,
    log_vkey: str,
    witness_vkeys: Sequence[str],
    quorum: int,
    extra_notes: Iterable[str] = (),
) -> Witnessed | None:
    """The largest checkpoint signed by `log_vkey` and cosigned by `quorum` of `witness_vkeys`,
    among the stored ones (cosignatures from our table) and `extra_notes`. Reads only."""
    best: Witnessed | None = None
    for text in [*extra_notes, *_stored_notes(session, quorum)]:
        try:
            found = check_quorum(text, log_vkey=log_vkey, witness_vkeys=witness_vkeys, quorum=quorum)
        except ValueError:
            continue
        if best is None or found.checkpoint.tree_size > best.checkpoint.tree_size:
            best = found
    return best


@dataclass(frozen=True)
class Witnessing:
    """What `audit verify` adds with witnesses configured: every stored cosignature checked, and
    the newest witnessed checkpoint held against our tree (None when the cosignatures failed)."""

    cosignatures: CosignatureReport
    held: WitnessedCheck | None

    @property
    def finding(self) -> Finding | None:
        """The problem, as a verification finding (so a run that fails here is recorded as failed)."""
        if (bad := self.cosignatures.first) is not None:
            return Finding(seq=None, problem=bad.problem, place=bad.where)
        if self.held is not None and self.held.problem:
            size = self.held.size
            cosigners = ", ".join(sorted(self.held.witnessed.cosigners))
            return Finding(
                seq=None,
                problem=f"{self.held.problem} (cosigned by {cosigners})",
                place=f"witnessed size {size}",
            )
        return None


def verify_witnessing(
    session: Session,
    *,
    log_vkey: str,
    targets: Sequence[WitnessTarget],
    quorum: int,
    extra_notes: Iterable[str] = (),
) -> Witnessing:
    """Check the stored cosignatures with the `targets`' keys, then that our tree holds the newest
    checkpoint `quorum` of them cosigned. Run it after `verify_log` passed. Reads only."""
    cosigned = verify_cosignatures(session, [target.key for target in targets])
    if not cosigned.ok:
        return Witnessing(cosigned, None)
    found = newest_witnessed(
        session,
        log_vkey=log_vkey,
        witness_vkeys=[target.key.vkey for target in targets],
        quorum=quorum,
        extra_notes=extra_notes,
    )
    return Witnessing(cosigned, check_against_log(session, found))


def _stored_notes(session: Session, quorum: int) -> list[str]:
    sizes = session.scalars(
        select(AuditCosignature.tree_size)
        .group_by(AuditCosignature.tree_size)
        .having(func.count() >= max(quorum, 1))
        .order_by(AuditCosignature.tree_size.desc())
        .limit(CANDIDATES)
    ).all()
    notes = []
    for size in sizes:
        checkpoint = session.get(AuditCheckpoint, size)
        text = checkpoint_note(checkpoint) if checkpoint is not None else None
        if text is not None:
            notes.append(text + cosignature_lines(session, size))
    return notes


def check_against_log(session: Session, witnessed: Witnessed | None) -> WitnessedCheck:
    """Does our tree hold the witnessed checkpoint? Its size must be within the log and the root
    recomputed at that size must equal the cosigned root. Run it after `verify_log` passed (the
    stored tree nodes are then known to match the entries)."""
    if witnessed is None:
        return WitnessedCheck(None)
    size, ours = witnessed.checkpoint.tree_size, tree_size(session)
    if size > ours:
        return WitnessedCheck(
            witnessed, f"rolled back: witnesses cosigned {size} entries, the log has {ours}"
        )
    try:
        actual = root(DbNodeStore(session), size)
    except LookupError:
        return WitnessedCheck(witnessed, f"tree nodes for the witnessed size {size} are missing")
    if actual != witnessed.checkpoint.root_hash:
        return WitnessedCheck(
            witnessed, f"rewritten: the log's root at the witnessed size {size} is not the cosigned root"
        )
    return WitnessedCheck(witnessed)


def refusal_count(session: Session) -> int:
    """How many witness refusals (alarms) have been recorded; /metrics reports it."""
    return session.scalar(select(func.count()).select_from(AuditWitnessRefusal)) or 0


@dataclass(frozen=True)
class WitnessStatus:
    name: str
    url: str
    cosigned_size: int
    cosigned_at: dt.datetime | None
    refusals: int
    last_refusal: str | None


def witness_status(session: Session, targets: Sequence[WitnessTarget]) -> list[WitnessStatus]:
    """Per configured witness: the newest checkpoint it cosigned, and its refusals (alarms)."""
    statuses = []
    for target in targets:
        latest = session.execute(
            select(AuditCosignature.tree_size, AuditCosignature.cosigned_at)
            .where(AuditCosignature.witness == target.name)
            .order_by(AuditCosignature.tree_size.desc())
            .limit(1)
        ).one_or_none()
        refused = select(AuditWitnessRefusal).where(AuditWitnessRefusal.witness == target.name)
        last = session.scalar(refused.order_by(AuditWitnessRefusal.id.desc()).limit(1))
        count = session.scalar(select(func.count()).select_from(refused.subquery())) or 0
        statuses.append(
            WitnessStatus(
                target.name,
                target.url,
                latest.tree_size if latest else 0,
                latest.cosigned_at if latest else None,
                count,
                None
                if last is None
                else f"{last.occurred_at:%Y-%m-%dT%H:%M:%SZ} at size {last.tree_size}: "
                f"{last.reason} (HTTP {last.status})",
            )
        )
    return statuses


@dataclass(frozen=True)
class LatestQuorum:
    """The newest published checkpoint (tree size; None before the first) and how many of the
    configured witnesses validly cosigned it, against the quorum asked for."""

    tree_size: int | None
    cosigners: int
    witnesses: int
    quorum: int

    @property
    def met(self) -> bool:
        return self.tree_size is not None and self.cosigners >= self.quorum


def latest_quorum(
    session: Session, *, log_vkey: str, targets: Sequence[WitnessTarget], quorum: int
) -> LatestQuorum:
    """Is the newest published checkpoint (the one /log/checkpoint serves) witnessed by a quorum?
    Counts only cosignatures that verify with the configured keys. Reads only."""
    latest = published_checkpoint(session)
    text = cosigned_note(session, latest) if latest is not None else None
    count = note_cosigners(text, log_vkey, [t.key.vkey for t in targets]) if text else 0
    return LatestQuorum(latest.tree_size if latest else None, count, len(targets), quorum)


RECENT_REFUSALS = 20


def recent_refusals(session: Session, limit: int = RECENT_REFUSALS) -> list[AuditWitnessRefusal]:
    """The newest witness refusals (alarms), newest first."""
    query = select(AuditWitnessRefusal).order_by(AuditWitnessRefusal.id.desc()).limit(limit)
    return list(session.scalars(query))


def refused_note(session: Session, refusal_id: int) -> str | None:
    """The evidence of one refusal: the signed note (with the cosignatures we hold) of the
    checkpoint the witness refused, which anyone can check with the log's key. None when there is
    no such refusal or that checkpoint has no note."""
    refusal = session.get(AuditWitnessRefusal, refusal_id)
    checkpoint = session.get(AuditCheckpoint, refusal.tree_size) if refusal is not None else None
    return cosigned_note(session, checkpoint) if checkpoint is not None else None
