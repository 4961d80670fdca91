"""Building a receipt bundle (format: ``docs/receipts.md``; checked by :mod:`services.receipts.verify`).

The bundle is anchored at ONE tree size: by default the size after the block that sealed the latest of the
shipment's order, loading, unloading, (truck shipments) weigh tickets and receipt — so the same shipment
always gives the same bundle, byte for byte, however late it is fetched. A caller may ask for a later block
boundary instead (``tree_size``), e.g. to match a checkpoint its witnesses cosigned.
"""

from __future__ import annotations

import logging
from typing import Any

from chain_anchor.compact import inclusion_proof_plan, proof_from_plan
from schemas import ijson
from services.receipts.discrepancy import Tolerances, discrepancies
from services.receipts.errors import ShipmentNotFound
from services.receipts.shipment import LedgerEvent
from services.receipts.store import first_block_reaching, load_shipment, unavailable_as_store_error
from services.receipts.verify import BUNDLE_FORMAT, key_ids
from services.store.postgres import BlockRow, LedgerStore
from services.witness.store import cosigned_at_or_after

log = logging.getLogger(__name__)

__all__ = ["build_bundle"]


async def build_bundle(store: LedgerStore, shipment_id: str, *, ledger_id: str, tolerances: Tolerances,
                       tree_size: int | None = None) -> dict[str, Any]:
    """The bundle of ``shipment_id``'s sealed receipt. Raises :class:`ShipmentNotFound` (no sealed receipt,
    or ``tree_size`` is not the end of a block at or after it) and ``StoreUnavailable``."""
    with unavailable_as_store_error():
        return await _build(store, shipment_id, ledger_id=ledger_id, tolerances=tolerances, tree_size=tree_size)


async def _build(store: LedgerStore, shipment_id: str, *, ledger_id: str, tolerances: Tolerances,
                 tree_size: int | None) -> dict[str, Any]:
    latest = await load_shipment(store, shipment_id)
    if latest.receipt is None:
        raise ShipmentNotFound(shipment_id, "no DeliveryConfirmed or DeliveryDisputed is sealed")
    needed = max(e.leaf_index for e in latest.receipt_events() if e.kind != "assay") + 1
    cosigned = await cosigned_at_or_after(store.pool, needed if tree_size is None else tree_size)
    if tree_size is None and cosigned is not None:
        tree_size = cosigned.tree_size  # anchor at the first checkpoint the witnesses cosigned after the receipt
    anchor = await _anchor_block(store, shipment_id, needed, tree_size)
    shipment = await load_shipment(store, shipment_id, below=anchor.tree_size)
    events = shipment.receipt_events()
    blocks = await _blocks(store, {e.height for e in events} | {anchor.height})
    proofs = await _proofs(store, [e.leaf_index for e in events], anchor.tree_size)
    return {
        "format": BUNDLE_FORMAT,
        "ledger_id": ledger_id,
        "shipment_id": shipment_id,
        "tree_size": anchor.tree_size,
        "checkpoint": (cosigned.note if cosigned and cosigned.tree_size == anchor.tree_size
                       else anchor.checkpoint).decode("utf-8"),
        "blocks": blocks,
        "events": [_entry(e, proofs[e.leaf_index]) for e in events],
        "key_ids": key_ids(blocks_signatures=[s["key_id"] for b in blocks for s in b["signatures"]], events=events),
        "tolerances": tolerances.to_json(),
        "discrepancies": discrepancies(shipment, tolerances),
    }


def _entry(event: LedgerEvent, proof: list[bytes]) -> dict[str, Any]:
    return {"kind": event.kind, "leaf_index": event.leaf_index, "height": event.height,
            "event": dict(event.envelope), "inclusion_proof": [p.hex() for p in proof]}


async def _anchor_block(store: LedgerStore, shipment_id: str, needed: int, tree_size: int | None) -> BlockRow:
    if tree_size is not None and tree_size < needed:
        raise ShipmentNotFound(shipment_id, f"tree_size {tree_size} is before the receipt (needs >= {needed})")
    want = needed if tree_size is None else tree_size
    height = await first_block_reaching(store, want)
    block = await store.block(height) if height is not None else None
    if block is None or (tree_size is not None and block.tree_size != tree_size):
        raise ShipmentNotFound(shipment_id, f"no block ends at tree size {want}")
    return block


async def _blocks(store: LedgerStore, heights: set[int]) -> list[dict[str, Any]]:
    out = []
    for height in sorted(heights):
        row = await store.block(height)
        assert row is not None, f"block {height} holds a stored event but is missing"
        out.append({"height": height, "header": ijson.loads(row.header), "signatures": ijson.loads(row.signatures)})
    return out


async def _proofs(store: LedgerStore, indices: list[int], tree_size: int) -> dict[int, list[bytes]]:
    """Inclusion proofs of several leaves at one tree size, from one read of the stored nodes."""
    plans = {i: inclusion_proof_plan(index=i, tree_size=tree_size) for i in indices}
    nodes = await store.nodes({node for plan in plans.values() for step in plan for node in step})
    return {i: proof_from_plan(plan, nodes) for i, plan in plans.items()}

