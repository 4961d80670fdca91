"""The Merkle log against the naive recursive reference: roots, proofs, verification, plans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor import merkle
from chain_anchor.compact import NodeId, consistency_proof_plan, inclusion_proof_plan, proof_from_plan
from chain_anchor.errors import ConsistencyProofError, InclusionProofError, RootMismatch
from chain_anchor.hashing import EMPTY_ROOT
from tests.chain_anchor.conftest import MAX_LEAVES
from tests.chain_anchor.reference import Reference

EXHAUSTIVE_INCLUSION = 130  # every (index, size) up to here
EXHAUSTIVE_CONSISTENCY = 100  # every (size1, size2) up to here
EXHAUSTIVE_PLANS = 300  # every plan up to here, against the reference through all perfect nodes


def test_root_of_every_size_matches_reference(leaves: list[bytes], reference: Reference) -> None:
    for n in range(0, 2001):
        assert merkle.root(leaves[:n]) == reference.mth(0, n), n


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root([]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_every_inclusion_proof_of_small_trees(leaves: list[bytes], reference: Reference) -> None:
    for n in range(1, EXHAUSTIVE_INCLUSION + 1):
        tree = leaves[:n]
        tree_root = reference.mth(0, n)
        for m in range(n):
            proof = merkle.inclusion_proof(index=m, leaf_hashes=tree)
            assert proof == reference.path(m, 0, n), (m, n)
            merkle.verify_inclusion(leaf_hash=tree[m], index=m, tree_size=n, proof=proof, root=tree_root)


def test_every_consistency_proof_of_small_trees(leaves: list[bytes], reference: Reference) -> None:
    for n in range(0, EXHAUSTIVE_CONSISTENCY + 1):
        tree = leaves[:n]
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(size1=m, leaf_hashes=tree)
            assert proof == reference.proof(m, n), (m, n)
            merkle.verify_consistency(
                size1=m, size2=n, root1=reference.mth(0, m), root2=reference.mth(0, n), proof=proof
            )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_of_large_trees(data: st.DataObject, leaves: list[bytes], reference: Reference) -> None:
    n = data.draw(st.integers(1, 2000), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = merkle.inclusion_proof(index=m, leaf_hashes=leaves[:n])
    assert proof == reference.path(m, 0, n)
    merkle.verify_inclusion(leaf_hash=leaves[m], index=m, tree_size=n, proof=proof, root=reference.mth(0, n))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_consistency_proofs_of_large_trees(data: st.DataObject, leaves: list[bytes], reference: Reference) -> None:
    n = data.draw(st.integers(0, 2000), label="size2")
    m = data.draw(st.integers(0, n), label="size1")
    proof = merkle.consistency_proof(size1=m, leaf_hashes=leaves[:n])
    assert proof == reference.proof(m, n)
    merkle.verify_consistency(size1=m, size2=n, root1=reference.mth(0, m), root2=reference.mth(0, n), proof=proof)


# --- plans over a store of perfect nodes ---------------------------------------------------------------


def test_every_inclusion_plan_up_to_300(all_nodes: dict[NodeId, bytes], reference: Reference) -> None:
    for n in range(1, EXHAUSTIVE_PLANS + 1):
        for m in range(n):
            plan = inclusion_proof_plan(index=m, tree_size=n)
            assert proof_from_plan(plan, all_nodes) == reference.path(m, 0, n), (m, n)


def test_every_consistency_plan_up_to_300(all_nodes: dict[NodeId, bytes], reference: Reference) -> None:
    for n in range(0, EXHAUSTIVE_PLANS + 1):
        for m in range(0, n + 1):
            plan = consistency_proof_plan(size1=m, size2=n)
            assert proof_from_plan(plan, all_nodes) == reference.proof(m, n), (m, n)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_plans_of_large_trees(data: st.DataObject, all_nodes: dict[NodeId, bytes], reference: Reference) -> None:
    n = data.draw(st.integers(1, MAX_LEAVES), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    k = data.draw(st.integers(0, n), label="size1")
    assert proof_from_plan(inclusion_proof_plan(index=m, tree_size=n), all_nodes) == reference.path(m, 0, n)
    assert proof_from_plan(consistency_proof_plan(size1=k, size2=n), all_nodes) == reference.proof(k, n)


def test_plans_use_only_perfect_nodes_inside_the_tree() -> None:
    for n in range(1, 200):
        plans = [inclusion_proof_plan(index=m, tree_size=n) for m in range(n)]
        plans += [consistency_proof_plan(size1=m, size2=n) for m in range(n + 1)]
        for plan in plans:
            for ids in plan:
                for level, index in ids:
                    assert (index + 1) << level <= n


def test_all_nodes_fixture_matches_reference(all_nodes: dict[NodeId, bytes], reference: Reference) -> None:
    for (level, index), h in all_nodes.items():
        assert h == reference.mth(index << level, (index + 1) << level)


# --- verification failures -----------------------------------------------------------------------------


def _setup(leaves: list[bytes], n: int, m: int) -> tuple[list[bytes], bytes]:
    return merkle.inclusion_proof(index=m, leaf_hashes=leaves[:n]), merkle.root(leaves[:n])


def test_inclusion_rejects_each_single_bit_flip(leaves: list[bytes]) -> None:
    n, m = 21, 13
    proof, tree_root = _setup(leaves, n, m)
    for i in range(len(proof)):
        for bit in (0, 77, 255):
            bad = [bytearray(p) for p in proof]
            bad[i][bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(RootMismatch):
                merkle.verify_inclusion(
                    leaf_hash=leaves[m], index=m, tree_size=n, proof=[bytes(b) for b in bad], root=tree_root
                )


def test_inclusion_root_mismatch_carries_both_roots(leaves: list[bytes]) -> None:
    proof, tree_root = _setup(leaves, 8, 3)
    with pytest.raises(RootMismatch) as info:
        merkle.verify_inclusion(leaf_hash=leaves[4], index=3, tree_size=8, proof=proof, root=tree_root)
    assert info.value.expected == tree_root
    assert info.value.calculated != tree_root
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("index", "tree_size", "proof_len", "leaf_len", "root_len"),
    [
        (8, 8, 3, 32, 32),  # index beyond size
        (-1, 8, 3, 32, 32),  # negative index
        (0, 0, 0, 32, 32),  # empty tree
        (3, 8, 2, 32, 32),  # truncated
        (3, 8, 4, 32, 32),  # extended
        (3, 8, 3, 31, 32),  # short leaf hash
        (3, 8, 3, 32, 33),  # long root
    ],
)
def test_inclusion_malformed(
    leaves: list[bytes], index: int, tree_size: int, proof_len: int, leaf_len: int, root_len: int
) -> None:
    proof, tree_root = _setup(leaves, 8, 3)
    proof = (proof * 2)[:proof_len]
    with pytest.raises(InclusionProofError):
        merkle.verify_inclusion(
            leaf_hash=(leaves[3] * 2)[:leaf_len],
            index=index,
            tree_size=tree_size,
            proof=proof,
            root=(tree_root * 2)[:root_len],
        )


def test_inclusion_rejects_proof_element_of_wrong_size(leaves: list[bytes]) -> None:
    proof, tree_root = _setup(leaves, 8, 3)
    proof[1] = proof[1][:31]
    with pytest.raises(InclusionProofError):
        merkle.verify_inclusion(leaf_hash=leaves[3], index=3, tree_size=8, proof=proof, root=tree_root)


def test_consistency_rejections(leaves: list[bytes]) -> None:
    r = [merkle.root(leaves[:n]) for n in range(12)]
    good = merkle.consistency_proof(size1=6, leaf_hashes=leaves[:11])
    merkle.verify_consistency(size1=6, size2=11, root1=r[6], root2=r[11], proof=good)
    cases: list[tuple[type[Exception], dict[str, object]]] = [
        (RootMismatch, {"root1": r[5]}),
        (RootMismatch, {"root2": r[10]}),
        (RootMismatch, {"proof": good[::-1]}),
        (ConsistencyProofError, {"proof": good[:-1]}),
        (ConsistencyProofError, {"proof": [*good, good[0]]}),
        (ConsistencyProofError, {"proof": []}),
        (ConsistencyProofError, {"size1": 12}),
        (ConsistencyProofError, {"size1": -1}),
        (ConsistencyProofError, {"root1": r[6][:16]}),
        (ConsistencyProofError, {"root2": b""}),
        (ConsistencyProofError, {"proof": [good[0][:31], *good[1:]]}),
    ]
    for error, change in cases:
        args: dict[str, object] = {"size1": 6, "size2": 11, "root1": r[6], "root2": r[11], "proof": good, **change}
        with pytest.raises(error):
            merkle.verify_consistency(**args)  # type: ignore[arg-type]


def test_consistency_edge_sizes(leaves: list[bytes]) -> None:
    r4, r8 = merkle.root(leaves[:4]), merkle.root(leaves[:8])
    merkle.verify_consistency(size1=0, size2=8, root1=EMPTY_ROOT, root2=r8, proof=[])
    merkle.verify_consistency(size1=8, size2=8, root1=r8, root2=r8, proof=[])
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(size1=0, size2=8, root1=r4, root2=r8, proof=[])
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(size1=8, size2=8, root1=r4, root2=r8, proof=[])
    with pytest.raises(ConsistencyProofError):
        merkle.verify_consistency(size1=8, size2=8, root1=r8, root2=r8, proof=[r4])
    with pytest.raises(ConsistencyProofError):  # size1 a power of two: proof must not repeat root1
        merkle.verify_consistency(size1=4, size2=8, root1=r4, root2=r8, proof=[r4, merkle.root(leaves[4:8])])


def test_root_from_inclusion_proof(leaves: list[bytes]) -> None:
    proof, tree_root = _setup(leaves, 13, 12)
    assert merkle.root_from_inclusion_proof(leaf_hash=leaves[12], index=12, tree_size=13, proof=proof) == tree_root


def test_proof_generation_rejects_bad_arguments(leaves: list[bytes]) -> None:
    with pytest.raises(InclusionProofError):
        merkle.inclusion_proof(index=3, leaf_hashes=leaves[:3])
    with pytest.raises(ConsistencyProofError):
        merkle.consistency_proof(size1=4, leaf_hashes=leaves[:3])
