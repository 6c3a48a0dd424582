"""RFC 9162 hashing and proofs: known answers, a recursive reference, and property tests."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.audit import merkle

# RFC 6962 / 9162 reference vectors (the leaves used by the Certificate Transparency test suites).
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 section 2.1.1 defines it (recursive)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_known_answer_roots() -> None:
    hashes = [merkle.leaf_hash(data) for data in LEAVES]
    for size in range(1, 9):
        assert merkle.root_of(hashes[:size]).hex() == ROOTS[size - 1]
    assert merkle.root_of([]) == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=600))
def test_frontier_root_matches_recursive_definition(n: int) -> None:
    leaves = leaves_of(n)
    assert merkle.root_of(leaves) == reference_root(leaves)


def test_frontier_reports_every_perfect_subtree() -> None:
    leaves = leaves_of(37)
    frontier, seen = merkle.Frontier(), {}
    for leaf in leaves:
        frontier.append(leaf, lambda level, index, digest: seen.__setitem__((level, index), digest))
    assert seen[(5, 0)] == reference_root(leaves[:32])
    assert seen[(2, 8)] == reference_root(leaves[32:36])
    assert len(seen) == 36 - 1 - 1  # perfect subtrees of 2+ leaves among the first 36 (and 37 pending)
    restored = merkle.Frontier.from_blob(frontier.size, frontier.to_blob())
    restored.append(leaves[0])
    frontier.append(leaves[0])
    assert restored.root() == frontier.root()


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_inclusion_proofs_verify_and_reject_tampering(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    root = reference_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_path(index, n, merkle.list_subtree(leaves))
    assert merkle.verify_inclusion(leaves[index], index, n, path, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, n, path, root)
    if n > 1:
        other = data.draw(st.integers(min_value=0, max_value=n - 1).filter(lambda i: i != index))
        assert not merkle.verify_inclusion(leaves[index], other, n, path, root)
        assert not merkle.verify_inclusion(leaves[index], index, n, path[:-1], root)
        bad = list(path)
        pos = data.draw(st.integers(min_value=0, max_value=len(bad) - 1))
        bad[pos] = bytes(32)
        assert not merkle.verify_inclusion(leaves[index], index, n, bad, root)
    # (The tree size itself is bound by the signed head, not by the path: see test_proofs.)


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs_verify_and_reject_forks(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    path = merkle.consistency_path(m, n, merkle.list_subtree(leaves))
    old_root, new_root = reference_root(leaves[:m]), reference_root(leaves)
    assert merkle.verify_consistency(m, n, old_root, new_root, path)
    # A fork: the old tree had a different leaf somewhere.
    forked = list(leaves[:m])
    forked[data.draw(st.integers(min_value=0, max_value=m - 1))] = merkle.leaf_hash(b"rewritten history")
    assert not merkle.verify_consistency(m, n, reference_root(forked), new_root, path)
    if m < n:
        assert not merkle.verify_consistency(m, n, old_root, reference_root([*leaves[:-1], bytes(32)]), path)
        assert not merkle.verify_consistency(m, n, old_root, new_root, path[:-1])


def test_consistency_edge_cases() -> None:
    leaves = leaves_of(8)
    root = reference_root(leaves)
    assert merkle.verify_consistency(8, 8, root, root, [])
    assert not merkle.verify_consistency(8, 8, root, root, [root])
    assert not merkle.verify_consistency(0, 8, root, root, [])
    assert not merkle.verify_consistency(4, 8, reference_root(leaves[:4]), root, [])
