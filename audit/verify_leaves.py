"""Verifying a log with entries integrated in batches (AUDIT_INTEGRATION=batched; docs/audit.md,
"Batched integration"): after the entries at their seq (audit/verify.py's walk), the entries named
by id in leaf-index order from audit_leaves, then the queue. `verify.verify_log` runs this walk.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, select

from .canonical import canonical_json
from .integrator import NOT_CHAINED
from .merkle import chain_next, leaf_hash
from .models import AuditLeaf, AuditQueued
from .verify import (
    _A,
    _E,
    TIME_FORMAT,
    Finding,
    _check_attributes,
    _check_columns,
    _fetch,
    _hex,
    _Walk,
)

_L, _Q = AuditLeaf.__table__, AuditQueued.__table__


class LeafWalk(_Walk):
    """_Walk, then the leaves and the queue (both nothing to do while `leaves_from` is NULL)."""

    def leaves(self, batch_size: int, on_progress: Callable[[int], None] | None) -> Finding | None:
        """The entries named by id, in leaf-index order (audit_leaves), after those at their seq."""
        if self.leaves_from is None:
            return None
        if self.size != self.leaves_from:
            return Finding(
                self.size, "gap: entries missing", f"seq {self.size}", f"leaves from {self.leaves_from}"
            )
        last: int | None = None
        while batch := self._leaf_batch(last, batch_size):
            attributes = self._attributes_of([row.seq for row in batch])
            nodes = self._nodes(self.size, batch[-1].leaf_index)
            last = batch[-1].leaf_index
            for row in batch:
                if row.leaf_index != self.size:
                    problem = "gap: leaves missing" if row.leaf_index > self.size else "out of order"
                    return Finding(
                        None, problem, f"leaf {self.size}", f"leaf {row.leaf_index}", leaf=self.size
                    )
                body = _checked_id_body(row)
                if isinstance(body, Finding):
                    return body
                chain = chain_next(self.chain, row.leaf_hash)
                if chain != row.leaf_chain:
                    return Finding(row.seq, "chain hash mismatch", chain.hex(), _hex(row.leaf_chain))
                if finding := self._place(row, body, attributes.get(row.seq, []), nodes, chain):
                    return finding
            if on_progress:
                on_progress(self.size)
        return None

    def _leaf_batch(self, after: int | None, limit: int) -> Sequence[Row[Any]]:
        query = (
            select(*_E.c, _L.c.leaf_index, _L.c.chain_hash.label("leaf_chain"))
            .join(_E, _E.c.seq == _L.c.seq)
            .order_by(_L.c.leaf_index)
            .limit(limit)
        )
        return _fetch(
            self.connection, query if after is None else query.where(_L.c.leaf_index > after), _E.c.seq
        )

    def _attributes_of(self, seqs: list[int]) -> dict[int, list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        query = select(_A.c.seq, _A.c.attribute).where(_A.c.seq.in_(seqs)).order_by(_A.c.seq, _A.c.attribute)
        for seq, attribute in self.connection.execute(query):
            grouped[seq].append(attribute)
        return grouped

    def queue(self, max_merge_delay: dt.timedelta | None, now: dt.datetime | None) -> Finding | None:
        """Every entry named by id has exactly one leaf or one queue row; queued entries are
        well formed, and none has waited longer than the maximum merge delay."""
        run = self.connection.execute
        if self.leaves_from is None:
            if (seq := run(select(_Q.c.seq).order_by(_Q.c.seq).limit(1)).scalar()) is not None:
                return Finding(seq, "queued, but the head says no entry is named by id")
            if (
                index := run(select(_L.c.leaf_index).order_by(_L.c.leaf_index).limit(1)).scalar()
            ) is not None:
                return Finding(None, "leaf row, but the head says no entry is named by id", leaf=index)
            return None
        both = select(_Q.c.seq).join(_L, _L.c.seq == _Q.c.seq).order_by(_Q.c.seq).limit(1)
        if (seq := run(both).scalar()) is not None:
            return Finding(seq, "both integrated and still queued")
        placed = (
            select(_L.c.seq).where(_L.c.seq == _E.c.seq).exists()
            | select(_Q.c.seq).where(_Q.c.seq == _E.c.seq).exists()
        )
        lost = select(_E.c.seq).where(_E.c.seq >= self.leaves_from, ~placed).order_by(_E.c.seq).limit(1)
        if (seq := run(lost).scalar()) is not None:
            return Finding(seq, "entry neither in the tree nor queued (its queue row deleted?)")
        query = select(*_E.c).join(_Q, _Q.c.seq == _E.c.seq).order_by(_E.c.seq)
        queued = _fetch(self.connection, query, _E.c.seq)
        attributes = self._attributes_of([row.seq for row in queued])
        for row in queued:
            body = _checked_id_body(row)
            if isinstance(body, Finding):
                return body
            if finding := _check_columns(row, body) or _check_attributes(
                row.seq, body, attributes.get(row.seq, [])
            ):
                return finding
        if max_merge_delay is not None and now is not None:
            late = [row for row in queued if row.recorded_at < now - max_merge_delay]
            if late:
                return Finding(
                    late[0].seq,
                    "queued for integration longer than the maximum merge delay (is the integrator running?)",
                    f"in the tree within {max_merge_delay.total_seconds():g} s",
                    f"queued since {late[0].recorded_at.strftime(TIME_FORMAT)}",
                )
        return None


def _checked_id_body(row: Row[Any]) -> dict[str, Any] | Finding:
    """The parsed body of an entry named by id: canonical, naming its own seq as "id", correctly
    hashed, with no chain hash of its own (its leaf row holds that)."""
    raw = row.body.encode() if isinstance(row.body, str) else b""
    try:
        body = json.loads(raw)
        canonical = canonical_json(body)
    except ValueError:
        return Finding(row.seq, "body is not valid canonical JSON")
    if canonical != raw or not isinstance(body, dict) or "seq" in body or body.get("id") != row.seq:
        return Finding(row.seq, "body is not in canonical form or names another id")
    if type(body["id"]) is not int:
        return Finding(row.seq, "body is not in canonical form or names another id")
    recomputed = leaf_hash(raw)
    if recomputed != row.leaf_hash:
        return Finding(row.seq, "leaf hash mismatch (entry altered)", recomputed.hex(), _hex(row.leaf_hash))
    if row.chain_hash != NOT_CHAINED:
        return Finding(
            row.seq,
            "chain hash on an entry named by id (its leaf row holds it)",
            "none",
            _hex(row.chain_hash),
        )
    return body
