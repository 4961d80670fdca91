"""CompactRange appends, persistence, completed nodes; range decomposition; plan materialisation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor.compact import CompactRange, NodeId, fold_right, proof_from_plan, range_nodes
from chain_anchor.errors import CompactRangeError, MissingNode, TreeError
from chain_anchor.hashing import EMPTY_ROOT
from chain_anchor.merkle import inclusion_proof_plan
from tests.chain_anchor.reference import Reference


def _perfect_nodes_ending_in(old: int, new: int) -> set[NodeId]:
    """Perfect nodes of level >= 1 whose last leaf is in [old, new)."""
    out: set[NodeId] = set()
    level = 1
    while (1 << level) <= new:
        for index in range(old >> level, new >> level):
            end = (index + 1) << level
            if old < end <= new:
                out.add((level, index))
        level += 1
    return out


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.integers(0, 300), min_size=1, max_size=12))
def test_extend_in_random_batches(batches: list[int], leaves: list[bytes], reference: Reference) -> None:
    cr = CompactRange()
    size = 0
    for batch in batches:
        batch = min(batch, 2000 - size)
        nodes = cr.extend(leaves[size : size + batch])
        assert {(lvl, idx) for lvl, idx, _ in nodes} == _perfect_nodes_ending_in(size, size + batch)
        for lvl, idx, h in nodes:
            assert h == reference.mth(idx << lvl, (idx + 1) << lvl)
        size += batch
        assert cr.size == size
        assert cr.root() == reference.mth(0, size)
        assert [lvl for lvl, _ in cr.node_ids()] == sorted((lvl for lvl, _ in cr.node_ids()), reverse=True)
        restored = CompactRange(cr.size, cr.hashes)
        assert restored == cr
        assert restored.root() == cr.root()


def test_every_size_up_to_2000_by_single_appends(leaves: list[bytes], reference: Reference) -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    for n, h in enumerate(leaves[:2000], start=1):
        cr.append(h)
        assert cr.root() == reference.mth(0, n)
        assert len(cr.hashes) == n.bit_count()


def test_restore_from_node_store(all_nodes: dict[NodeId, bytes], reference: Reference) -> None:
    for size in (0, 1, 2, 3, 7, 8, 1000, 2047):
        cr = CompactRange(size, [all_nodes[i] for i in range_nodes(0, size)])
        assert cr.root() == reference.mth(0, size)
        assert cr.node_ids() == range_nodes(0, size)


def test_copy_and_assign_are_independent(leaves: list[bytes]) -> None:
    cr = CompactRange()
    cr.extend(leaves[:5])
    clone = cr.copy()
    clone.append(leaves[5])
    assert cr.size == 5 and clone.size == 6
    cr.assign(clone)
    clone.append(leaves[6])
    assert cr.size == 6 and clone.size == 7
    assert cr != clone
    assert cr.__eq__(object()) is NotImplemented
    assert "size=6" in repr(cr)


def test_extend_is_all_or_nothing(leaves: list[bytes]) -> None:
    cr = CompactRange()
    cr.extend(leaves[:3])
    before = cr.copy()
    with pytest.raises(CompactRangeError):
        cr.extend([leaves[3], leaves[4][:31], leaves[5]])
    assert cr == before


@pytest.mark.parametrize(
    ("size", "hashes"),
    [(-1, []), (3, [b"\x00" * 32]), (1, [b"\x00" * 31]), (2, ["x" * 32]), (0, [b"\x00" * 32])],
)
def test_malformed_compact_range(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(CompactRangeError):
        CompactRange(size, hashes)


def test_compact_range_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(CompactRange())


def test_range_nodes_decomposition() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]
    assert range_nodes(8, 16) == [(3, 1)]
    for begin in range(0, 70):
        for end in range(begin, 70):
            nodes = range_nodes(begin, end)
            covered = [leaf for lvl, idx in nodes for leaf in range(idx << lvl, (idx + 1) << lvl)]
            assert covered == list(range(begin, end))
            # maximal: no two neighbours could merge into one aligned perfect node
            for (l1, i1), (l2, i2) in itertools.pairwise(nodes):
                assert not (l1 == l2 and i1 % 2 == 0 and i2 == i1 + 1)
    with pytest.raises(TreeError):
        range_nodes(5, 4)
    with pytest.raises(TreeError):
        range_nodes(-1, 4)


def test_fold_right() -> None:
    assert fold_right([]) == EMPTY_ROOT
    assert fold_right([b"a" * 32]) == b"a" * 32


def test_proof_from_plan_reports_missing_node(all_nodes: dict[NodeId, bytes]) -> None:
    plan = inclusion_proof_plan(index=5, tree_size=12)
    partial = {k: v for k, v in all_nodes.items() if k != plan[-1][0]}
    with pytest.raises(MissingNode) as info:
        proof_from_plan(plan, partial)
    assert (info.value.level, info.value.index) == plan[-1][0]
    assert isinstance(info.value, LookupError)
