"""Merkle tree (RFC 9162 2.1) over a node store, checked against the recursive definition and the
Certificate Transparency reference vectors."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    DictNodeStore,
    StreamingRoot,
    chain_next,
    consistency_proof,
    frontier_append,
    frontier_of,
    inclusion_proof,
    leaf_hash,
    mth,
    node_hash,
    nodes_completed_by_append,
    root,
    verify_consistency,
    verify_inclusion,
)

# The 8-leaf test tree of RFC 6962 implementations (certificate-transparency, Trillian, sigsum):
# leaf inputs, roots of the first n leaves, and proofs for it. Inclusion leaves are 0-based here.
CT_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def leaves(n: int, salt: str = "") -> list[bytes]:
    return [leaf_hash(f"{salt}entry {i}".encode()) for i in range(n)]


def build(hashes: list[bytes]) -> DictNodeStore:
    store = DictNodeStore()
    for leaf in hashes:
        store.append(leaf)
    return store


# Reference proofs straight from the recursive definitions of RFC 9162 2.1.3.1 and 2.1.4.1.
def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return [*ref_path(m, d[:k]), mth(d[k:])] if m < k else [*ref_path(m - k, d[k:]), mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), mth(d[:k])]


CT_LEAVES = [leaf_hash(d) for d in CT_INPUTS]
CT_STORE = build(CT_LEAVES)
BIG = leaves(2048, "big")
BIG_STORE = build(BIG)


def test_primitives_follow_rfc9162_domain_separation():
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == mth([]) == root(DictNodeStore(), 0)
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert chain_next(bytes(32), b"l" * 32) == hashlib.sha256(bytes(32) + b"l" * 32).digest()


def test_certificate_transparency_reference_roots():
    for n, expected in enumerate(CT_ROOTS):
        assert mth(CT_LEAVES[:n]).hex() == expected
        assert root(CT_STORE, n).hex() == expected
        stream = StreamingRoot()
        for leaf in CT_LEAVES[:n]:
            stream.add(leaf)
        assert stream.root().hex() == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_certificate_transparency_inclusion_vectors(index, size, path):
    proof = inclusion_proof(CT_STORE, index, size)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_certificate_transparency_consistency_vectors(old, new, path):
    proof = consistency_proof(CT_STORE, old, new)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), proof)


def test_every_inclusion_proof_up_to_70_leaves_verifies_and_matches_the_definition():
    hashes = leaves(70)
    store = build(hashes)
    for n in range(1, 71):
        tree_root = mth(hashes[:n])
        assert root(store, n) == tree_root
        for i in range(n):
            proof = inclusion_proof(store, i, n)
            assert proof == ref_path(i, hashes[:n])
            assert verify_inclusion(hashes[i], i, n, proof, tree_root)


def test_tampered_inclusion_proofs_fail():
    hashes = leaves(70)
    store = build(hashes)
    for n in (1, 2, 5, 8, 13, 64, 70):
        tree_root = mth(hashes[:n])
        for i in range(n):
            proof = inclusion_proof(store, i, n)
            assert not verify_inclusion(hashes[i], i, n, proof, leaf_hash(b"other root"))
            assert not verify_inclusion(leaf_hash(b"other"), i, n, proof, tree_root)
            assert not verify_inclusion(hashes[i], i, n, [*proof, bytes(32)], tree_root)
            assert not verify_inclusion(hashes[i], n, n, proof, tree_root)
            assert not verify_inclusion(hashes[i], -1, n, proof, tree_root)
            if n > 1:
                assert not verify_inclusion(hashes[i], (i + 1) % n, n, proof, tree_root)
                assert not verify_inclusion(hashes[i], i, n, proof[:-1], tree_root)
            for j in range(len(proof)):
                bad = [*proof]
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not verify_inclusion(hashes[i], i, n, bad, tree_root)


def test_every_consistency_proof_up_to_40_leaves_verifies_and_matches_the_definition():
    hashes = leaves(40)
    store = build(hashes)
    roots = [mth(hashes[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = consistency_proof(store, m, n)
            assert proof == ref_subproof(m, hashes[:n], True)
            assert verify_consistency(m, n, roots[m], roots[n], proof)
            assert not verify_consistency(m, n, roots[m - 1], roots[n], proof)
            assert not verify_consistency(m, n, roots[m], roots[n - 1], proof)
            if proof:
                assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not verify_consistency(m, n, roots[m], roots[n], [*proof, roots[1]])
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not verify_consistency(m, n, roots[m], roots[n], bad)
            if m < n:
                assert not verify_consistency(m + 1, n, roots[m], roots[n], proof)


def test_consistency_edge_cases():
    r3 = mth(CT_LEAVES[:3])
    assert consistency_proof(CT_STORE, 0, 5) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root(CT_STORE, 5), [])
    assert not verify_consistency(0, 5, r3, root(CT_STORE, 5), [])
    assert verify_consistency(3, 3, r3, r3, [])
    assert not verify_consistency(3, 3, r3, r3, [r3])
    assert not verify_consistency(3, 2, r3, r3, [])
    assert not verify_consistency(3, 5, r3, root(CT_STORE, 5), [])
    with pytest.raises(ValueError):
        consistency_proof(CT_STORE, 5, 3)
    with pytest.raises(ValueError):
        inclusion_proof(CT_STORE, 3, 3)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 2048), st.data())
def test_random_sizes_up_to_2048(n, data):
    m = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, n - 1))
    new_root, old_root = mth(BIG[:n]), mth(BIG[:m])
    assert root(BIG_STORE, n) == new_root
    assert verify_inclusion(BIG[i], i, n, inclusion_proof(BIG_STORE, i, n), new_root)
    assert verify_consistency(m, n, old_root, new_root, consistency_proof(BIG_STORE, m, n))
    assert not verify_inclusion(BIG[i], i, n, inclusion_proof(BIG_STORE, i, n), old_root) or m == n


def test_streaming_root_equals_mth_at_every_size():
    stream = StreamingRoot()
    assert stream.root() == EMPTY_ROOT
    for n, leaf in enumerate(BIG[:300], start=1):
        stream.add(leaf)
        assert stream.size == n
        assert stream.root() == mth(BIG[:n])


def test_appends_store_exactly_the_perfect_subtrees():
    store = DictNodeStore()
    for index, leaf in enumerate(BIG[:100]):
        completed = nodes_completed_by_append(store, index, leaf)
        assert len(completed) == 1 + ((index + 1) & -(index + 1)).bit_length() - 1  # 1 + trailing ones
        store.put_many(completed)
    for (level, index), value in store.nodes.items():
        width = 1 << level
        assert value == mth(BIG[index * width : (index + 1) * width])
    expected = sum(100 >> level for level in range(7))
    assert len(store.nodes) == expected


def test_appending_from_the_frontier_completes_the_same_nodes_without_reading_any():
    store, frontier, stream = DictNodeStore(), b"", StreamingRoot()
    for index, leaf in enumerate(BIG[:130]):
        nodes, frontier = frontier_append(frontier, index, leaf)
        assert nodes == nodes_completed_by_append(store, index, leaf)
        store.put_many(nodes)
        stream.add(leaf)
        assert frontier == stream.frontier == frontier_of(store, index + 1)
        assert len(frontier) == 32 * (index + 1).bit_count()


def test_a_frontier_that_does_not_fit_the_tree_size_is_refused():
    _, frontier = frontier_append(b"", 0, BIG[0])
    with pytest.raises(ValueError, match="frontier"):
        frontier_append(frontier, 3, BIG[1])  # a tree of 3 leaves has two perfect subtrees, not one
    with pytest.raises(ValueError, match="frontier"):
        frontier_append(frontier[:-1], 1, BIG[1])


class CountingStore(DictNodeStore):
    def __init__(self, source: DictNodeStore) -> None:
        super().__init__()
        self.nodes = source.nodes
        self.reads = 0

    def get(self, level, index):
        self.reads += 1
        return super().get(level, index)


@pytest.mark.parametrize("n", [1, 2, 1000, 1023, 1025, 2047, 2048])
def test_roots_and_proofs_read_logarithmically_many_nodes(n):
    store = CountingStore(BIG_STORE)
    bound = 2 * n.bit_length() + 2
    for op in (
        lambda: root(store, n),
        lambda: inclusion_proof(store, n // 3, n),
        lambda: consistency_proof(store, max(1, n // 3), n),
    ):
        store.reads = 0
        op()
        assert store.reads <= bound


def test_missing_nodes_are_a_lookup_error():
    store = build(leaves(5))
    with pytest.raises(LookupError):
        root(store, 6)
    with pytest.raises(LookupError):
        nodes_completed_by_append(DictNodeStore(), 1, leaf_hash(b"x"))
