"""Proofs served from stored perfect-subtree nodes: O(log n) rows per proof, one round trip."""

from __future__ import annotations

from chain_anchor.compact import (
    consistency_proof_plan,
    fold_right,
    inclusion_proof_plan,
    proof_from_plan,
    range_nodes,
)
from chain_anchor.hashing import EMPTY_ROOT
from services.store.postgres import LedgerStore


async def root_at(store: LedgerStore, tree_size: int) -> bytes:
    """The RFC 6962 root of the first ``tree_size`` leaves."""
    if tree_size == 0:
        return EMPTY_ROOT
    ids = range_nodes(0, tree_size)
    nodes = await store.nodes(ids)
    return fold_right([nodes[i] for i in ids])


async def inclusion(store: LedgerStore, *, index: int, tree_size: int) -> tuple[list[bytes], bytes]:
    """(proof, root at tree_size) for leaf ``index``."""
    plan = inclusion_proof_plan(index=index, tree_size=tree_size)
    root_ids = range_nodes(0, tree_size)
    nodes = await store.nodes({i for step in plan for i in step} | set(root_ids))
    return proof_from_plan(plan, nodes), fold_right([nodes[i] for i in root_ids])


async def consistency(store: LedgerStore, *, size1: int, size2: int) -> tuple[list[bytes], bytes, bytes]:
    """(proof, root1, root2) between two tree sizes."""
    plan = consistency_proof_plan(size1=size1, size2=size2)
    r1, r2 = range_nodes(0, size1), range_nodes(0, size2)
    nodes = await store.nodes({i for step in plan for i in step} | set(r1) | set(r2))
    root1 = fold_right([nodes[i] for i in r1]) if size1 else EMPTY_ROOT
    root2 = fold_right([nodes[i] for i in r2]) if size2 else EMPTY_ROOT
    return proof_from_plan(plan, nodes), root1, root2
