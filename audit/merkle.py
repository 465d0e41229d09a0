"""Merkle tree of the audit log, after RFC 9162 (Certificate Transparency v2) section 2.1, plus
the simple hash chain that links every entry to the one before it.

Hashes are SHA-256. Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``; the prefixes keep a leaf from posing as a node.

Tree nodes live in a `NodeStore` addressed by (level, index): level 0 holds the leaf hashes and
(level, index) is the root of the perfect subtree over leaves [index * 2**level,
(index + 1) * 2**level). Each append stores the nodes it completes, so a root or proof for any
tree size reads O(log n) stored nodes and never rehashes the log. Functions taking a store raise
LookupError if a node they need is missing (the store does not cover that tree size).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

EMPTY_ROOT = hashlib.sha256(b"").digest()
ZERO_HASH = bytes(32)

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of `data` (for audit entries: the canonical JSON of the body)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return _sha256(b"\x01" + left + right).digest()


def chain_next(prev: bytes, leaf: bytes) -> bytes:
    """Next link of the hash chain: ``SHA-256(prev || leaf)``; the link before entry 0 is ZERO_HASH."""
    return _sha256(prev + leaf).digest()


class NodeStore(Protocol):
    """Perfect-subtree hashes by (level, index); level 0 holds the leaf hashes."""

    def get(self, level: int, index: int) -> bytes | None: ...


class DictNodeStore:
    """An in-memory NodeStore (tests, tools, and small offline trees)."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0  # leaves added through `append`

    def get(self, level: int, index: int) -> bytes | None:
        return self.nodes.get((level, index))

    def put_many(self, nodes: dict[tuple[int, int], bytes]) -> None:
        self.nodes.update(nodes)

    def append(self, leaf: bytes) -> None:
        """Append the next leaf hash (convenience for building whole trees in memory)."""
        self.put_many(nodes_completed_by_append(self, self.size, leaf))
        self.size += 1


def nodes_completed_by_append(store: NodeStore, index: int, leaf: bytes) -> dict[tuple[int, int], bytes]:
    """The nodes that appending leaf hash `leaf` at position `index` completes: the leaf itself at
    (0, index) and, for every trailing 1 bit of `index`, the parent of the subtree just closed.
    Reads each needed left sibling from `store` (which must hold the tree of size `index`) and
    writes nothing: the caller persists the result, e.g. with ``store.put_many``."""
    if index < 0:
        raise ValueError("leaf index must be >= 0")
    nodes = {(0, index): leaf}
    current, level, position = leaf, 0, index
    while position & 1:
        sibling = _need(store, level, position - 1)
        current = node_hash(sibling, current)
        level, position = level + 1, position >> 1
        nodes[(level, position)] = current
    return nodes


def frontier_append(frontier: bytes, index: int, leaf: bytes) -> tuple[dict[tuple[int, int], bytes], bytes]:
    """What nodes_completed_by_append returns, from the tree's frontier instead of a store, and
    the frontier after the append. The frontier of a tree of `index` leaves is the roots of its
    perfect subtrees, largest (leftmost) first, 32 bytes each, one per 1 bit of `index`: exactly
    the left siblings an append can need, so appending reads no stored node. ValueError when
    the frontier does not fit `index`."""
    hashes = [frontier[i : i + 32] for i in range(0, len(frontier), 32)]
    if len(frontier) % 32 or len(hashes) != index.bit_count():
        raise ValueError("frontier does not match the tree size")
    nodes = {(0, index): leaf}
    current, level, position = leaf, 0, index
    while position & 1:
        current = node_hash(hashes.pop(), current)
        level, position = level + 1, position >> 1
        nodes[(level, position)] = current
    hashes.append(current)
    return nodes, b"".join(hashes)


def frontier_of(store: NodeStore, tree_size: int) -> bytes:
    """The frontier (see frontier_append) of the tree of `tree_size` leaves, from stored nodes."""
    hashes, offset = [], 0
    for level in range(tree_size.bit_length() - 1, -1, -1):
        if tree_size >> level & 1:
            hashes.append(_need(store, level, offset >> level))
            offset += 1 << level
    return b"".join(hashes)


def root(store: NodeStore, tree_size: int) -> bytes:
    """MTH of the first `tree_size` leaves (RFC 9162 2.1.1), from O(log n) stored nodes."""
    if tree_size < 0:
        raise ValueError("tree size must be >= 0")
    if tree_size == 0:
        return EMPTY_ROOT
    return _subtree(store, 0, tree_size)


def inclusion_proof(store: NodeStore, leaf_index: int, tree_size: int) -> list[bytes]:
    """PATH(leaf_index, D[tree_size]) of RFC 9162 2.1.3.1, leaf-side sibling first.
    Raises ValueError unless 0 <= leaf_index < tree_size."""
    if not 0 <= leaf_index < tree_size:
        raise ValueError("need 0 <= leaf_index < tree_size")
    path: list[bytes] = []
    start, end, m = 0, tree_size, leaf_index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(_subtree(store, start + k, end))
            end = start + k
        else:
            path.append(_subtree(store, start, start + k))
            start, m = start + k, m - k
    path.reverse()  # collected root-side first; the RFC lists the leaf-side sibling first
    return path


def consistency_proof(store: NodeStore, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1 (empty when the sizes are equal or the old
    tree is empty). Raises ValueError unless 0 <= old_size <= new_size."""
    if not 0 <= old_size <= new_size:
        raise ValueError("need 0 <= old_size <= new_size")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_subtree(store, start + k, end))
            end = start + k
        else:
            proof.append(_subtree(store, start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(_subtree(store, start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf hash `leaf` at `leaf_index` in the tree `root`?"""
    computed = root_from_inclusion_path(leaf, leaf_index, tree_size, proof)
    return computed is not None and computed == root


def root_from_inclusion_path(
    leaf: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` leads to from leaf hash `leaf` at `leaf_index` (RFC 9162 2.1.3.2), or
    None when the index is outside the tree or the path has the wrong number of hashes for it."""
    if not 0 <= leaf_index < tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree `new_root` of `new_size` an append-only extension of the tree
    `old_root` of `old_size`? Equal sizes need equal roots and an empty proof; the empty tree is a
    prefix of every tree."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes by the recursive definition of RFC 9162 2.1.1 (reference, O(n))."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


class StreamingRoot:
    """The MTH of a stream of leaf hashes in O(log n) memory: keeps the roots of the perfect
    subtrees that make up the leaves so far (at most one per level, like a binary counter)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # perfect-subtree roots, largest (leftmost) first

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        stack, size, current = self._stack, self.size, leaf
        while size & 1:
            current = _sha256(b"\x01" + stack.pop() + current).digest()
            size >>= 1
        stack.append(current)
        self.size += 1

    def add_completing(self, leaf: bytes) -> list[bytes]:
        """Append one leaf hash and return the tree nodes that completes, by level: the leaf, then
        the root of each perfect subtree it closes. With n the leaves before the call, the node at
        level L is (L, n >> L), as the append stored it (nodes_completed_by_append)."""
        stack, size, current = self._stack, self.size, leaf
        completed = [leaf]
        while size & 1:
            current = _sha256(b"\x01" + stack.pop() + current).digest()
            completed.append(current)
            size >>= 1
        stack.append(current)
        self.size += 1
        return completed

    @property
    def frontier(self) -> bytes:
        """The perfect-subtree roots so far, as frontier_append keeps them."""
        return b"".join(self._stack)

    def root(self) -> bytes:
        """MTH of the leaves added so far: the perfect subtrees folded from the right (RFC split)."""
        if not self._stack:
            return EMPTY_ROOT
        current = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            current = node_hash(left, current)
        return current


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(store: NodeStore, start: int, end: int) -> bytes:
    """MTH of leaves [start, end). A perfect aligned range is one stored node; any other range
    splits as the RFC does into a perfect left part and a remainder, so O(log n) lookups."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return _need(store, level, start >> level)
    k = _split(size)
    return node_hash(_subtree(store, start, start + k), _subtree(store, start + k, end))


def _need(store: NodeStore, level: int, index: int) -> bytes:
    node = store.get(level, index)
    if node is None:
        raise LookupError(f"tree node ({level}, {index}) is missing from the store")
    return node
