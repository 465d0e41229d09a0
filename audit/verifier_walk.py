"""The walk over an export's entries for `audit.verifier`: per line, that it parses, its seq
follows on, its leaf and chain hashes recompute and it names a new entry; at the checkpoint's last
leaf, the chain head and the root. The first problem is raised as `Failure`, because every later
position depends on the earlier ones.

Standard library and `cryptography` only, like the verifier itself (an auditor's machine has no
application code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from .canonical import canonical_json, canonical_json_of_loaded, loads
from .checkpoint_signing import CheckpointBody
from .merkle import EMPTY_ROOT, StreamingRoot

ENTRY_SHAPE = '{"seq": int, "body": {...}, "leaf_hash": hex, "chain_hash": hex}'
_ENTRY_KEYS = frozenset({"seq", "body", "leaf_hash", "chain_hash"})


class Failure(Exception):
    """The first problem found; carries the report's `first_error` dict."""

    def __init__(
        self,
        seq: int | None,
        line: int,
        problem: str,
        expected: object = "",
        found: object = "",
        *,
        entry_id: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.error = dict(
            seq=seq, line=line, problem=problem, expected=str(expected), found=str(found), id=entry_id
        )


def _names_its_entry(body: dict, seq: int) -> bool:
    """A body names its position ("seq", as the log always did) or, for an entry integrated in a
    batch (docs/audit.md, "Batched integration"), its id ("id"), which is not its position: the
    line's seq is, and the chain and the root tie the body to it."""
    if "seq" in body:
        return body["seq"] == seq and type(body["seq"]) is int
    return type(body.get("id")) is int


def _id_of(body: dict) -> int | None:
    """The id a body names when its entry is named by id (its line's seq is then only a leaf)."""
    return body["id"] if "seq" not in body and type(body.get("id")) is int else None


class _Names:
    """The entry names an export has shown: a bit per name in a bytearray (names run close to
    positions: an id is a seq, ahead of its leaf by the entries still queued), a set for any far
    from it, so a doctored huge id cannot make the bytearray huge."""

    def __init__(self) -> None:
        self.bits, self.far = bytearray(), set()

    def first_time(self, name: int, position: int) -> bool:
        """Record `name` (read at leaf `position`); False when it was recorded before."""
        if not 0 <= name <= 2 * position + (1 << 23):
            new = name not in self.far
            self.far.add(name)
            return new
        index, bit = name >> 3, 1 << (name & 7)
        if index >= len(self.bits):
            self.bits.extend(bytes(index + 1 - len(self.bits) + 4096))
        new = not self.bits[index] & bit
        self.bits[index] |= bit
        return new


class Run:
    """One pass over the entries. `next_seq`, `chain` and `line` describe the position reached and
    are kept current only when a helper needs them: the hot loop works on locals."""

    def __init__(self, cp: CheckpointBody, first_seq: int, count: int, prev_chain: bytes) -> None:
        self.cp, self.first_seq, self.count = cp, first_seq, count
        self.next_seq, self.line, self.chain = first_seq, 1, prev_chain
        self.stream = StreamingRoot()
        self.names = _Names()
        self.last_id: int | None = None  # the id at the checkpoint's last leaf, if named by id
        self.root_checked = self.chain_head_checked = False
        self.notes: list[str] = []

    def check_start(self) -> None:
        """Partial exports and checkpoints that end where the export starts."""
        if self.first_seq > 0:
            self.notes.append(
                "partial export: root not checkable, chain checked from the given previous hash"
            )
        if self.cp.tree_size < self.first_seq:
            self.notes.append("the checkpoint ends before the export starts: only its signature was checked")
        elif self.cp.tree_size == self.first_seq:
            self._check_head()  # the checkpoint is exactly the state before the first entry

    def entries(self, it: Iterator[str]) -> None:
        """The hot loop. Any anomaly hands the line to `_diagnose`, which re-checks it in the
        documented order and raises the first problem, so the common path stays branch-light."""
        # The strict parser lets canonical_json skip its type walk; anything it rejects goes to
        # _diagnose, which parses leniently to say precisely what is wrong.
        sha256, canon, parse, add = hashlib.sha256, canonical_json_of_loaded, loads, self.stream.add
        first_time = self.names.first_time
        last_covered, seq_expected, chain, line_no = (
            self.cp.tree_size - 1,
            self.next_seq,
            self.chain,
            self.line,
        )
        for text in it:
            line_no += 1
            try:
                entry = parse(text)
                seq, body = entry["seq"], entry["body"]
                leaf = sha256(b"\x00" + canon(body)).digest()
                following = sha256(chain + leaf).digest()
                good = (
                    seq == seq_expected
                    and type(seq) is int
                    and len(entry) == 4
                    and type(body) is dict
                    and entry["leaf_hash"] == leaf.hex()
                    and entry["chain_hash"] == following.hex()
                    and _names_its_entry(body, seq)
                )
            except (ValueError, KeyError, TypeError, RecursionError):
                good = False
            if not good:
                self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                self._diagnose(text, it)
                return  # only trailing blank lines get here: the export ended cleanly
            name = seq if "seq" in body else body["id"]
            if not first_time(name, seq):
                self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                kind = "seq" if "seq" in body else "id"
                problem = f"duplicate entry {kind} {name}: an earlier line names the same entry"
                raise Failure(seq, line_no, problem, f"a new {kind}", f"{kind} {name}", entry_id=_id_of(body))
            chain, seq_expected = following, seq_expected + 1
            if seq <= last_covered:
                add(leaf)
                if seq == last_covered:
                    self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                    self.last_id = _id_of(body)
                    self._check_head()
        self.next_seq, self.chain, self.line = seq_expected, chain, line_no

    def _diagnose(self, text: str, it: Iterator[str]) -> None:
        """Raise the first problem of a line that failed the fast checks (return for blank lines
        that end the export)."""
        seq, line = self.next_seq, self.line
        try:
            entry = json.loads(text)
        except (ValueError, RecursionError):
            if not text.strip():
                self._blank(it)
                return
            entry = None
        if not (isinstance(entry, dict) and set(entry) == _ENTRY_KEYS and isinstance(entry["body"], dict)):
            raise Failure(seq, line, "malformed entry line", ENTRY_SHAPE, text.rstrip("\r\n")[:300])
        if entry["seq"] != seq or type(entry["seq"]) is not int:
            self._seq_error(entry["seq"], it)
        body, named = entry["body"], _id_of(entry["body"])
        try:
            leaf = hashlib.sha256(b"\x00" + canonical_json(body)).digest()
        except ValueError as exc:
            problem = "body cannot be canonicalised (RFC 8785)"
            raise Failure(seq, line, problem, "audit JSON", exc, entry_id=named) from None
        if leaf.hex() != entry["leaf_hash"]:
            problem = "leaf hash mismatch: body altered"
            raise Failure(seq, line, problem, leaf.hex(), entry["leaf_hash"], entry_id=named)
        if not _names_its_entry(body, seq):
            if "seq" not in body and "id" in body:
                raise Failure(seq, line, "body names no integer id", "an integer id", body.get("id"))
            raise Failure(seq, line, "body names another seq", seq, body.get("seq"))
        chain = hashlib.sha256(self.chain + leaf).digest().hex()
        if chain != entry["chain_hash"]:
            problem = "chain hash mismatch: chain forged"
            raise Failure(seq, line, problem, chain, entry["chain_hash"], entry_id=named)
        raise AssertionError("unreachable: the fast checks and _diagnose disagree")

    def _seq_error(self, seq: Any, it: Iterator[str]) -> None:
        expected, line = self.next_seq, self.line
        if type(seq) is not int:
            raise Failure(
                expected, line, "malformed entry line: seq is not an integer", f"seq {expected}", seq
            )
        if seq == expected - 1 and expected > self.first_seq:
            problem = "duplicate entry"
        elif seq < expected:
            problem = "out of order"
        else:
            # One line of look-ahead tells a swap (the missing seq comes next) from a deletion.
            try:
                following = json.loads(next(it, "null"))
                swapped = isinstance(following, dict) and following.get("seq") == expected
            except (ValueError, RecursionError):
                swapped = False
            missing = seq - expected
            problem = (
                "out of order"
                if swapped
                else f"gap: {missing} {'entry' if missing == 1 else 'entries'} missing"
            )
        raise Failure(expected, line, problem, f"seq {expected}", f"seq {seq}")

    def _blank(self, it: Iterator[str]) -> None:
        if any(text.strip() for text in it):
            raise Failure(self.next_seq, self.line, "blank line inside the export", "an entry", "")

    def _check_head(self) -> None:
        """At the end of the checkpoint's tree: its chain head, and its root if computable."""
        seq, line, cp = (self.cp.tree_size - 1 if self.cp.tree_size else None), self.line, self.cp
        named = self.last_id if seq is not None and seq >= self.first_seq else None
        if self.chain.hex() != cp.chain_head:
            problem = "chain head mismatch: checkpoint is not of this log"
            raise Failure(seq, line, problem, self.chain.hex(), cp.chain_head, entry_id=named)
        self.chain_head_checked = True
        if self.first_seq == 0:
            root = (self.stream.root() if cp.tree_size else EMPTY_ROOT).hex()
            if root != cp.root_hash:
                problem = "root mismatch: checkpoint is not of this log"
                raise Failure(seq, line, problem, root, cp.root_hash, entry_id=named)
            self.root_checked = True

    def finish(self) -> None:
        """End-of-export checks: the checkpoint is reached, and the count matches the header."""
        last, size, found = self.next_seq - 1, self.cp.tree_size, self.next_seq - self.first_seq
        if last < size - 1:
            problem = f"truncated: export ends at seq {last}, checkpoint covers {size}"
            raise Failure(self.next_seq, self.line + 1, problem, f"seq {size - 1}", f"seq {last}")
        if found != self.count:
            raise Failure(None, self.line, "entry count differs from the header", self.count, found)
        if uncovered := self.uncovered():
            self.notes.append(f"{uncovered} entries after the checkpoint are chain-checked only")

    def uncovered(self) -> int:
        return max(0, self.next_seq - max(self.cp.tree_size, self.first_seq))
