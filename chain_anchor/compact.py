"""Compact ranges and proof planning over a store of perfect Merkle nodes.

Node ids: ``(level, index)`` names the perfect subtree covering leaves ``[index·2^level, (index+1)·2^level)``;
level 0 nodes are leaf hashes. In an RFC 6962 tree every node that is not on the right border is perfect
and aligned like this, so a store that keeps each perfect node once (written as the log grows, never
rewritten) can answer any inclusion or consistency proof with O(log n) reads: a right-border
("ephemeral") proof element is the right fold of the perfect nodes covering its range.

:class:`CompactRange` is the O(log n) state of a log being appended to: the roots of the maximal perfect
subtrees covering ``[0, size)``, left to right (largest first) — one per set bit of ``size``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from chain_anchor.errors import (
    CompactRangeError,
    ConsistencyProofError,
    InclusionProofError,
    MissingNode,
    TreeError,
)
from chain_anchor.hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, node_hash

__all__ = [
    "CompactRange",
    "NodeId",
    "Plan",
    "consistency_proof_plan",
    "fold_right",
    "inclusion_proof_plan",
    "proof_from_plan",
    "range_nodes",
]

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect node."""
Plan = list[list[NodeId]]
"""One list of perfect node ids per proof element; the element is their :func:`fold_right`."""

_sha256 = hashlib.sha256


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """``h = hashes[-1]; for x in reversed(hashes[:-1]): h = node_hash(x, h)`` (empty → ``EMPTY_ROOT``)."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """Decompose ``[begin, end)`` into maximal aligned perfect nodes, left to right."""
    if not 0 <= begin <= end:
        raise TreeError(f"invalid leaf range [{begin}, {end})")
    nodes: list[NodeId] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def _path_plan(level: int, index: int, tree_size: int) -> Plan:
    """Siblings (bottom-up) of node ``(level, index)`` on its way to the root of a tree of ``tree_size``."""
    plan: Plan = []
    for current in range(level, (tree_size - 1).bit_length()):
        sibling = (index >> (current - level)) ^ 1
        begin = sibling << current
        if begin >= tree_size:
            continue  # this node is on the right border: promoted without a sibling
        end = begin + (1 << current)
        plan.append([(current, sibling)] if end <= tree_size else range_nodes(begin, tree_size))
    return plan


def inclusion_proof_plan(*, index: int, tree_size: int) -> Plan:
    """Node ids of the RFC 6962 inclusion proof of leaf ``index`` in a tree of ``tree_size`` leaves."""
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"index {index} out of range for tree size {tree_size}")
    return _path_plan(0, index, tree_size)


def consistency_proof_plan(*, size1: int, size2: int) -> Plan:
    """Node ids of the RFC 6962 consistency proof between tree sizes ``size1 <= size2``."""
    if not 0 <= size1 <= size2:
        raise ConsistencyProofError(f"need 0 <= size1 <= size2, got size1={size1}, size2={size2}")
    if size1 == 0 or size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level  # last perfect node of the old tree's compact range
    siblings = _path_plan(level, index, size2)
    if index == 0:
        return siblings  # size1 is a power of two: the verifier already knows that node (root1)
    return [[(level, index)], *siblings]


def proof_from_plan(plan: Plan, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Materialise a plan from stored perfect nodes; raise :class:`MissingNode` for a node not held."""
    proof: list[bytes] = []
    for ids in plan:
        hashes: list[bytes] = []
        for node_id in ids:
            try:
                hashes.append(nodes[node_id])
            except KeyError:
                raise MissingNode(*node_id) from None
        proof.append(fold_right(hashes))
    return proof


class CompactRange:
    """The roots of the maximal perfect subtrees covering leaves ``[0, size)``; appends in O(1) amortised.

    ``hashes`` is what to persist; ``CompactRange(size, hashes)`` restores it. Restoring from a node store:
    ``CompactRange(size, [nodes[i] for i in range_nodes(0, size)])``.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise CompactRangeError(f"size must be >= 0, got {size}")
        if len(hashes) != size.bit_count():
            raise CompactRangeError(f"size {size} needs {size.bit_count()} hashes, got {len(hashes)}")
        for h in hashes:
            _check_hash(h)
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """A copy of the perfect-subtree roots, left to right."""
        return list(self._hashes)

    def node_ids(self) -> list[NodeId]:
        """Ids of :attr:`hashes`, i.e. ``range_nodes(0, size)``."""
        return range_nodes(0, self._size)

    def copy(self) -> CompactRange:
        """An independent copy."""
        clone = CompactRange()
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def assign(self, other: CompactRange) -> None:
        """Replace this range's state with a copy of ``other``'s."""
        self._size = other._size
        self._hashes = list(other._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash."""
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes; return every perfect node completed, level >= 1, as ``(level, index, hash)``.

        Nodes come out in the order they are completed (children before parents, left to right).
        Leaf hashes must be 32 bytes: otherwise :class:`CompactRangeError` and the range is left unchanged.
        """
        start_size, start_hashes = self._size, list(self._hashes)
        hashes = self._hashes
        size = self._size
        completed: list[tuple[int, int, bytes]] = []
        record = completed.append
        pop = hashes.pop
        sha = _sha256
        prefix = NODE_PREFIX
        try:
            for h in leaf_hashes:
                if len(h) != HASH_SIZE:
                    _check_hash(h)
                index = size
                level = 0
                while index & 1:
                    h = sha(prefix + pop() + h).digest()
                    index >>= 1
                    level += 1
                    record((level, index, h))
                hashes.append(h)
                size += 1
        except CompactRangeError:
            self._size, self._hashes = start_size, start_hashes  # all or nothing
            raise
        self._size = size
        return completed

    def root(self) -> bytes:
        """RFC 6962 root of the leaves ``[0, size)``."""
        return fold_right(self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def _check_hash(value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise CompactRangeError(f"hashes must be {HASH_SIZE} bytes")
