"""Verifying the stored log: everything a reader of the log relies on is recomputed from the
entries' canonical bodies.

Per entry: the body (canonical JSON naming its own seq), leaf hash, chain hash, every column
copied out of the body for search and history (`kind`, `citizen_ref`, `app_id`, `purpose`,
`outcome`, `recorded_at`), and its `audit_entry_attributes` rows (none missing, extra or altered).
Per tree node: its hash, recomputed from the leaves while streaming (a node (level, index) is
completed by leaf (index + 1) * 2**level - 1), none missing, none beyond the tree. Per checkpoint:
signature, size, root, chain head, the signed-note signature when there is one, and the `key_id`
and `created_at` columns against the signed body. At the end, the head row. Streams in seq order
in batches (one query each for entries, attributes and tree nodes), so memory stays constant, and
stops at the first finding: every later position depends on the earlier ones. A log with entries
integrated in batches continues in audit/verify_leaves.py (leaves in leaf order, then the queue).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Column, Connection, Row, Select, and_, or_, select
from sqlalchemy.orm import Session

from . import note
from .canonical import canonical_json
from .checkpoint_signing import verify_checkpoint
from .merkle import StreamingRoot, chain_next, leaf_hash
from .models import (
    AuditCheckpoint,
    AuditEntry,
    AuditEntryAttribute,
    AuditHead,
    AuditTreeNode,
)

ZERO = bytes(32)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the body's `time`, as audit.log._body writes it
CHECKPOINT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
COPIED = ("kind", "citizen_ref", "app_id", "purpose", "outcome")  # columns equal to body fields

_E, _A = AuditEntry.__table__, AuditEntryAttribute.__table__
_N, _C, _H = AuditTreeNode.__table__, AuditCheckpoint.__table__, AuditHead.__table__
_UNREADABLE = (ValueError, TypeError, OverflowError)  # a stored value the column type cannot decode


@dataclass
class Finding:
    """The first problem found: at entry `seq`, at tree node `node` ((level, index)), or in the log
    as a whole (both None: the head)."""

    seq: int | None
    problem: str
    expected: str = ""
    found: str = ""
    node: tuple[int, int] | None = None
    # A leaf position in a batched log's part named by id (from `leaves_from` on), where a
    # position is not an entry's name: a leaf out of place, a checkpoint's last leaf, the tree's end.
    leaf: int | None = None
    place: str | None = None  # somewhere else (a cosignature: its tree size and witness)

    @property
    def where(self) -> str:
        if self.place is not None:
            return self.place
        if self.leaf is not None:
            return f"leaf {self.leaf}"
        if self.node is not None:
            return f"tree node level {self.node[0]} index {self.node[1]}"
        return f"seq {self.seq}" if self.seq is not None else "log"

    def __str__(self) -> str:
        detail = f" (expected {self.expected}, found {self.found})" if self.expected or self.found else ""
        return f"{self.where}: {self.problem}{detail}"


@dataclass
class LogReport:
    entries: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


class _Unreadable(Exception):
    def __init__(self, key: Any) -> None:
        super().__init__(key)
        self.key = key


def verify_log(
    session: Session,
    *,
    public_key: Ed25519PublicKey,
    batch_size: int = 5000,
    on_progress: Callable[[int], None] | None = None,
    max_merge_delay: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> LogReport:
    """Check the whole log (see the module docstring) inside the caller's transaction, reading
    only; stops at the first finding. Calls `on_progress` with the entries checked after each
    batch. With `max_merge_delay` and `now`, an entry queued for integration since before
    now - max_merge_delay is a finding (the integrator has stopped or fallen behind)."""
    from .verify_leaves import LeafWalk  # it builds on _Walk below

    walk = LeafWalk(session.connection(), public_key)
    try:
        finding = (
            walk.entries(batch_size, on_progress)
            or walk.leaves(batch_size, on_progress)
            or walk.queue(max_merge_delay, now)
            or walk.finish()
        )
    except _Unreadable as exc:
        finding = Finding(exc.key, "a stored column cannot be read (not of its type)")
    return LogReport(walk.size, walk.checkpoints_ok, [finding] if finding else [])


class _Walk:
    """One pass in seq order: the position reached (`size` entries checked), the chain and the
    tree so far, and the checkpoints not yet reached."""

    def __init__(self, connection: Connection, public_key: Ed25519PublicKey) -> None:
        self.connection, self.public_key = connection, public_key
        self.size, self.chain, self.stream = 0, ZERO, StreamingRoot()
        self.checkpoints_ok = 0
        self.pending: deque[Row[Any]] = deque()
        # Entries from here on are named by id and placed by audit_leaves (audit/integrator.py).
        self.leaves_from: int | None = connection.execute(
            select(_H.c.leaves_from).where(_H.c.id == 1)
        ).scalar()

    def entries(self, batch_size: int, on_progress: Callable[[int], None] | None) -> Finding | None:
        query = select(*_C.c).order_by(_C.c.tree_size)
        self.pending.extend(_fetch(self.connection, query, _C.c.tree_size, lambda size: size - 1))
        if self.pending and self.pending[0].tree_size < 1:
            return Finding(None, f"checkpoint at size {self.pending[0].tree_size}: no such tree size")
        last: int | None = None
        while batch := self._batch(last, batch_size):
            attributes = self._attributes(last, batch[-1].seq)
            nodes = self._nodes(self.size, batch[-1].seq)
            last = batch[-1].seq
            for row in batch:
                if finding := self._entry(row, attributes.pop(row.seq, []), nodes):
                    return finding
            if attributes:  # rows naming no entry (possible only with foreign keys off)
                return Finding(min(attributes), "attribute rows of an entry that does not exist")
            if on_progress:
                on_progress(self.size)
        return None

    def _batch(self, after: int | None, limit: int) -> Sequence[Row[Any]]:
        # No lower bound on the first batch, so a row below seq 0 shows up as out of order.
        query = select(*_E.c).order_by(_E.c.seq).limit(limit)
        if self.leaves_from is not None:
            query = query.where(_E.c.seq < self.leaves_from)
        return _fetch(self.connection, query if after is None else query.where(_E.c.seq > after), _E.c.seq)

    def _attributes(self, after: int | None, upto: int) -> dict[int, list[Any]]:
        query = select(_A.c.seq, _A.c.attribute).where(_A.c.seq <= upto).order_by(_A.c.seq, _A.c.attribute)
        rows = self.connection.execute(query if after is None else query.where(_A.c.seq > after)).all()
        grouped: dict[int, list[Any]] = defaultdict(list)
        for seq, attribute in rows:  # fetched at once: row by row was a tenth of the whole check
            grouped[seq].append(attribute)
        return grouped

    def _nodes(self, first: int, last: int) -> dict[tuple[int, int], bytes]:
        """The stored nodes that the appends of leaves first..last complete, by (level, index)."""
        ranges = [
            and_(_N.c.level == level, _N.c.index.between(low, high))
            for level, low, high in _completed_ranges(first, last)
        ]
        if not ranges:
            return {}
        rows = self.connection.execute(select(_N.c.level, _N.c.index, _N.c.hash).where(or_(*ranges))).all()
        return {(level, index): node for level, index, node in rows}

    def _entry(
        self, row: Row[Any], attributes: list[Any], nodes: dict[tuple[int, int], bytes]
    ) -> Finding | None:
        body = _checked_body(row, self.size, self.chain)
        if isinstance(body, Finding):
            return body
        return self._place(row, body, attributes, nodes, row.chain_hash)

    def _place(
        self,
        row: Row[Any],
        body: dict[str, Any],
        attributes: list[Any],
        nodes: dict[tuple[int, int], bytes],
        chain: bytes,
    ) -> Finding | None:
        """Entry `row`, its body checked, as leaf `self.size` with chain hash `chain`."""
        position = self.size
        if finding := _check_columns(row, body) or _check_attributes(row.seq, body, attributes):
            return finding
        for level, node in enumerate(self.stream.add_completing(row.leaf_hash)):
            stored = nodes.pop((level, position >> level), None)
            if stored != node:
                problem = "tree node missing" if stored is None else "tree node hash mismatch"
                return Finding(None, problem, node.hex(), _hex(stored), node=(level, position >> level))
        self.chain, self.size = chain, position + 1
        while self.pending and self.pending[0].tree_size == self.size:
            if finding := self._checkpoint(self.pending.popleft()):
                return finding
            self.checkpoints_ok += 1
        return None

    def _at(self, position: int) -> dict[str, Any]:
        """How a finding names leaf `position`: below `leaves_from` the entry there has that seq
        ("seq N"); from there on entries are named by id and placed by audit_leaves, so the
        position is a leaf ("leaf N"), not an entry's name."""
        if self.leaves_from is None or position < self.leaves_from:
            return {"seq": position}
        return {"seq": None, "leaf": position}

    def _checkpoint(self, checkpoint: Row[Any]) -> Finding | None:
        size = checkpoint.tree_size
        at = self._at(size - 1)  # the checkpoint's last leaf
        try:
            body = json.loads(checkpoint.body)
        except ValueError:
            body = None
        signed = {"body": body, "signature": checkpoint.signature}
        if not isinstance(body, dict) or not verify_checkpoint(self.public_key, signed):
            return Finding(problem=f"checkpoint at size {size}: signature invalid (forged or swapped)", **at)
        stored = {
            "tree_size": size,
            "key_id": checkpoint.key_id,
            "timestamp": checkpoint.created_at.strftime(CHECKPOINT_TIME_FORMAT),
            "root_hash": self.stream.root().hex(),
            "chain_head": self.chain.hex(),
        }
        for name, value in stored.items():
            if body.get(name) != value:
                problem = f"checkpoint at size {size}: {name} differs"
                return Finding(problem=problem, expected=str(value), found=str(body.get(name)), **at)
        if not _note_verifies(checkpoint, self.stream.root(), self.public_key):
            return Finding(problem=f"checkpoint at size {size}: note signature invalid", **at)
        return None

    def finish(self) -> Finding | None:
        """After the last entry: the head, then checkpoints and rows beyond the end, then the
        head's chain hash and frontier (the next append builds on them)."""
        size = self.size
        head = self.connection.execute(
            select(_H.c.next_seq, _H.c.chain_head, _H.c.frontier).where(_H.c.id == 1)
        ).one_or_none()
        if head is None:
            return Finding(None, "log head row missing")
        if head.next_seq > size:
            problem = "truncated: entries missing at the end of the log (or the head altered)"
            expected, found = _in_tree(head.next_seq), _in_tree(size)
            return Finding(problem=problem, expected=expected, found=found, **self._at(size))
        if head.next_seq < size:
            problem = "head is behind the log: the next append would reuse a seq"
            found = _in_tree(head.next_seq)
            return Finding(problem=problem, expected=_in_tree(size), found=found, **self._at(head.next_seq))
        if finding := self._beyond_the_end():
            return finding
        if head.chain_head != self.chain:
            problem = "head chain hash differs from the last entry"
            return Finding(None, problem, self.chain.hex(), _hex(head.chain_head))
        if head.frontier != self.stream.frontier:
            # The next append builds its tree nodes from the frontier: a wrong one would fork the tree.
            problem = "head Merkle frontier differs from the log's tree"
            return Finding(None, problem, self.stream.frontier.hex(), _hex(head.frontier))
        return None

    def _beyond_the_end(self) -> Finding | None:
        size = self.size
        if self.pending:
            found = _in_tree(self.pending[0].tree_size)
            problem = "checkpoint beyond the end of the log"
            return Finding(problem=problem, expected=_in_tree(size), found=found, **self._at(size))
        beyond = select(_A.c.seq).where(_A.c.seq >= size).order_by(_A.c.seq).limit(1)
        if self.leaves_from is not None:  # ids run ahead of the tree: any row naming no entry
            orphan = ~select(_E.c.seq).where(_E.c.seq == _A.c.seq).exists()
            beyond = select(_A.c.seq).where(orphan).order_by(_A.c.seq).limit(1)
        if (seq := self.connection.execute(beyond).scalar()) is not None:
            return Finding(seq, "attribute rows of an entry that does not exist")
        if (node := self._extra_node()) is not None:
            return Finding(None, "tree node beyond the tree", "none", "a stored node", node=node)
        return None

    def _extra_node(self) -> tuple[int, int] | None:
        """A stored node outside the tree: a node (level, index) exists for `size` leaves only
        while index < size >> level (so none at a level >= size.bit_length())."""
        levels, size = self.size.bit_length(), self.size
        # Per level, so each term is a range of the primary key's index, not a scan.
        beyond = [
            and_(_N.c.level == level, or_(_N.c.index < 0, _N.c.index >= size >> level))
            for level in range(levels)
        ]
        outside = or_(_N.c.level >= levels, _N.c.level < 0, *beyond)
        query = select(_N.c.level, _N.c.index).where(outside).order_by(_N.c.level, _N.c.index).limit(1)
        row = self.connection.execute(query).one_or_none()
        return None if row is None else (row.level, row.index)


def _note_verifies(checkpoint: Row[Any], root_hash: bytes, public_key: Ed25519PublicKey) -> bool:
    """The signed-note form: absent on checkpoints older than notes (both columns NULL), else a
    valid signature by our key over origin, size and root. Removing both columns of a newer row
    looks like an older row: as with a deleted checkpoint, only a witness holding it can tell."""
    origin, signature = checkpoint.note_origin, checkpoint.note_signature
    if origin is None and signature is None:
        return True
    try:
        body = note.checkpoint_body(origin, checkpoint.tree_size, root_hash)
        note.verify_note(note.note_text(body, origin, signature), note.verifier_key(origin, public_key))
    except (ValueError, TypeError):
        return False
    return True


def _completed_ranges(first: int, last: int) -> list[tuple[int, int, int]]:
    """(level, lowest index, highest index) of the nodes completed by leaves first..last: node
    (level, index) is completed by leaf (index + 1) * 2**level - 1."""
    ranges, level = [], 0
    while first <= last and 1 << level <= last + 1:
        low, high = -(-(first + 1) >> level) - 1, ((last + 1) >> level) - 1
        if low <= high:
            ranges.append((level, low, high))
        level += 1
    return ranges


def _checked_body(row: Row[Any], seq: int, prev_chain: bytes) -> dict[str, Any] | Finding:
    """The entry's parsed body, if the entry is at `seq`, canonical and correctly hashed."""
    if row.seq != seq:
        problem = "gap: entries missing" if row.seq > seq else "out of order"
        return Finding(seq, problem, f"seq {seq}", f"seq {row.seq}")
    raw = row.body.encode() if isinstance(row.body, str) else b""
    try:
        body = json.loads(raw)
        canonical = canonical_json(body)
    except ValueError:
        return Finding(seq, "body is not valid canonical JSON")
    if (
        canonical != raw
        or not isinstance(body, dict)
        or body.get("seq") != seq
        or type(body["seq"]) is not int
    ):
        return Finding(seq, "body is not in canonical form or names another seq")
    recomputed = leaf_hash(raw)
    if recomputed != row.leaf_hash:
        return Finding(seq, "leaf hash mismatch (entry altered)", recomputed.hex(), _hex(row.leaf_hash))
    chain = chain_next(prev_chain, recomputed)
    if chain != row.chain_hash:
        return Finding(seq, "chain hash mismatch", chain.hex(), _hex(row.chain_hash))
    return body


def _check_columns(row: Row[Any], body: dict[str, Any]) -> Finding | None:
    """The columns searches and histories read must say what the hashed body says."""
    get = body.get
    stored = (row.kind, row.citizen_ref, row.app_id, row.purpose, row.outcome)
    if stored == (get("kind"), get("citizen_ref"), get("app_id"), get("purpose"), get("outcome")):
        return _check_time(row, body)
    for name in COPIED:  # which one differs
        if getattr(row, name) != body.get(name):
            return Finding(
                row.seq,
                f"column {name} differs from the body",
                repr(body.get(name)),
                repr(getattr(row, name)),
            )
    raise AssertionError("unreachable: the copied columns differ, but none of them does")


def _check_time(row: Row[Any], body: dict[str, Any]) -> Finding | None:
    recorded = row.recorded_at.strftime(TIME_FORMAT)
    if recorded != body.get("time"):
        return Finding(row.seq, "column recorded_at differs from the body", str(body.get("time")), recorded)
    return None


def _check_attributes(seq: int, body: dict[str, Any], stored: list[Any]) -> Finding | None:
    """The entry's attribute rows must be exactly the body's attributes (the primary key keeps
    the rows unique, so sets compare them)."""
    named = body.get("attributes", [])
    if stored == named:  # the usual case: both sorted (rows ordered by attribute)
        return None
    if not isinstance(named, list) or not all(isinstance(a, str) for a in named):
        return Finding(seq, "body attributes are not a list of names")
    if set(stored) != set(named):
        missing, extra = sorted(set(named) - set(stored)), sorted(set(stored) - set(named), key=repr)
        return Finding(seq, "attribute rows differ from the body", f"missing {missing}", f"extra {extra}")
    return None


def _fetch(
    connection: Connection, query: Select[Any], key: Column[Any], position: Callable[[Any], Any] = lambda k: k
) -> Sequence[Row[Any]]:
    """The rows of `query`. SQLite keeps whatever is written into a column, so a value its type
    cannot decode fails the whole fetch: then find the first row that fails, by `key`, and raise
    _Unreadable naming its position."""
    try:
        return connection.execute(query).all()
    except _UNREADABLE:
        pass
    for value in connection.execute(query.with_only_columns(key)).scalars():
        try:
            connection.execute(query.where(key == value)).all()
        except _UNREADABLE:
            raise _Unreadable(position(value)) from None
    raise AssertionError("unreachable: the fetch failed but no row does")


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else repr(value)


def _in_tree(size: int) -> str:
    """A log size as findings state it: leaves of the tree, which in a batched log are the
    integrated entries (entries still queued are not counted)."""
    return f"{size} entries in the tree"
