"""Fixtures shared by the chain_anchor tests: a fixed set of leaves, the reference tree, all perfect nodes."""

from __future__ import annotations

import hashlib

import pytest

from chain_anchor.compact import CompactRange, NodeId
from chain_anchor.hashing import leaf_hash
from tests.chain_anchor.reference import Reference

MAX_LEAVES = 2048


@pytest.fixture(scope="session")
def leaves() -> list[bytes]:
    """MAX_LEAVES deterministic leaf hashes."""
    return [leaf_hash(hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(MAX_LEAVES)]


@pytest.fixture(scope="session")
def reference(leaves: list[bytes]) -> Reference:
    return Reference(leaves)


@pytest.fixture(scope="session")
def all_nodes(leaves: list[bytes]) -> dict[NodeId, bytes]:
    """Every perfect node of the tree over all the leaves: level 0 = leaves, the rest from CompactRange."""
    nodes: dict[NodeId, bytes] = {(0, i): h for i, h in enumerate(leaves)}
    for level, index, h in CompactRange().extend(leaves):
        nodes[(level, index)] = h
    return nodes
