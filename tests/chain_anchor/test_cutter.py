"""Fabric-style block cutter: every documented return, limits, and invariants under random input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor.cutter import BlockCutter
from chain_anchor.errors import CutterConfigError, CutterError, ItemTooLarge


def _cutter(max_events: int = 3, preferred: int = 100, absolute: int = 1000) -> BlockCutter[str]:
    return BlockCutter(max_events=max_events, preferred_max_bytes=preferred, absolute_max_bytes=absolute)


def test_joins_pending() -> None:
    c = _cutter()
    assert c.ordered("a", 10) == ([], True)
    assert (c.pending_count, c.pending_bytes) == (1, 10)


def test_cut_by_count() -> None:
    c = _cutter(max_events=2)
    c.ordered("a", 10)
    assert c.ordered("b", 10) == ([["a", "b"]], False)
    assert c.pending_count == 0


def test_cut_by_preferred_size_keeps_new_item_pending() -> None:
    c = _cutter()
    c.ordered("a", 60)
    assert c.ordered("b", 50) == ([["a"]], True)
    assert c.cut() == ["b"]


def test_exactly_preferred_size_fits() -> None:
    c = _cutter()
    c.ordered("a", 60)
    assert c.ordered("b", 40) == ([], True)


def test_oversized_item_is_isolated() -> None:
    c = _cutter()
    assert c.ordered("big", 101) == ([["big"]], False)
    c.ordered("a", 10)
    assert c.ordered("big", 500) == ([["a"], ["big"]], False)
    assert c.pending_count == 0


def test_item_above_absolute_limit_is_refused_without_side_effects() -> None:
    c = _cutter()
    c.ordered("a", 10)
    with pytest.raises(ItemTooLarge) as info:
        c.ordered("huge", 1001)
    assert (info.value.size_bytes, info.value.limit_bytes) == (1001, 1000)
    assert c.cut() == ["a"]


def test_negative_size_is_refused() -> None:
    with pytest.raises(CutterError):
        _cutter().ordered("a", -1)


def test_cut_empty() -> None:
    assert _cutter().cut() == []


def test_max_events_one() -> None:
    c = _cutter(max_events=1)
    assert c.ordered("a", 10) == ([["a"]], False)


@pytest.mark.parametrize(("max_events", "preferred", "absolute"), [(0, 10, 10), (1, 0, 10), (1, 10, 9)])
def test_bad_config(max_events: int, preferred: int, absolute: int) -> None:
    with pytest.raises(CutterConfigError):
        BlockCutter[str](max_events=max_events, preferred_max_bytes=preferred, absolute_max_bytes=absolute)


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 150), max_size=60),
    max_events=st.integers(1, 6),
    preferred=st.integers(1, 120),
)
def test_invariants(sizes: list[int], max_events: int, preferred: int) -> None:
    c: BlockCutter[int] = BlockCutter(max_events=max_events, preferred_max_bytes=preferred, absolute_max_bytes=150)
    out: list[list[int]] = []
    for i, size in enumerate(sizes):
        batches, pending = c.ordered(i, size)
        assert pending == (c.pending_count > 0)
        assert all(batches)
        out.extend(batches)
    out.append(c.cut())
    assert [i for batch in out for i in batch] == list(range(len(sizes)))  # order kept, nothing lost
    for batch in out[:-1]:
        assert 1 <= len(batch) <= max_events
        total = sum(sizes[i] for i in batch)
        assert total <= preferred or len(batch) == 1


def test_weighted_item_counts_its_events() -> None:
    c = _cutter(max_events=10)
    assert c.ordered("a", 10, 4) == ([], True)
    assert (c.pending_count, c.pending_items) == (4, 1)
    assert c.ordered("b", 10, 6) == ([["a", "b"]], False)  # exactly max_events: cut with the item
    assert (c.pending_count, c.pending_items) == (0, 0)


def test_weighted_item_that_would_overflow_max_events_starts_the_next_batch() -> None:
    c = _cutter(max_events=10)
    c.ordered("a", 10, 7)
    assert c.ordered("b", 10, 4) == ([["a"]], True)
    assert c.pending_count == 4
    assert c.ordered("c", 10, 6) == ([["b", "c"]], False)


def test_weighted_overflow_then_the_item_alone_fills_the_block() -> None:
    c = _cutter(max_events=10)
    c.ordered("a", 10, 3)
    assert c.ordered("b", 10, 10) == ([["a"], ["b"]], False)


def test_item_heavier_than_max_events_is_isolated() -> None:
    c = _cutter(max_events=10)
    assert c.ordered("big", 10, 11) == ([["big"]], False)
    c.ordered("a", 10, 2)
    assert c.ordered("big", 10, 25) == ([["a"], ["big"]], False)
    assert c.pending_count == 0


def test_count_below_one_is_refused() -> None:
    with pytest.raises(CutterError):
        _cutter().ordered("a", 10, 0)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(0, 150), st.integers(1, 8)), max_size=60),
    max_events=st.integers(1, 6),
    preferred=st.integers(1, 120),
)
def test_weighted_invariants(items: list[tuple[int, int]], max_events: int, preferred: int) -> None:
    c: BlockCutter[int] = BlockCutter(max_events=max_events, preferred_max_bytes=preferred, absolute_max_bytes=150)
    out: list[list[int]] = []
    for i, (size, count) in enumerate(items):
        batches, pending = c.ordered(i, size, count)
        assert pending == (c.pending_count > 0)
        assert all(batches)
        out.extend(batches)
    out.append(c.cut())
    assert [i for batch in out for i in batch] == list(range(len(items)))
    for batch in out[:-1]:
        events = sum(items[i][1] for i in batch)
        assert events <= max_events or len(batch) == 1
        assert sum(items[i][0] for i in batch) <= preferred or len(batch) == 1
