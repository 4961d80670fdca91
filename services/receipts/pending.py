"""Pending receipts: a buyer's delivered shipments that it has neither confirmed nor disputed."""

from __future__ import annotations

import logging
from typing import Any

from services.receipts.discrepancy import Tolerances, discrepancies
from services.receipts.shipment import Shipment
from services.receipts.store import load_shipment, pending_shipment_ids
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

__all__ = ["pending_json", "pending_receipts"]


async def pending_receipts(store: LedgerStore, buyer_id: str, *, tolerances: Tolerances,
                           limit: int = 500) -> list[dict[str, Any]]:
    """The pending receipts of ``buyer_id`` in ledger order (oldest delivery first), at most ``limit``."""
    out: list[dict[str, Any]] = []
    for shipment_id in await pending_shipment_ids(store, buyer_id):
        shipment = await load_shipment(store, shipment_id)
        if shipment.receipt is None and shipment.delivered and shipment.buyer_id == buyer_id:
            out.append(pending_json(shipment, tolerances))
            if len(out) >= limit:
                break
    return out


def pending_json(s: Shipment, tolerances: Tolerances) -> dict[str, Any]:
    """What the buyer needs to decide: the figures, where each comes from, and the marks beyond tolerance."""
    loading = s.loading.data if s.loading else {}
    assay, assay_event = s.assay_on_record
    wagons = loading.get("wagons") or []
    return {
        "shipment_id": s.shipment_id,
        "order_id": s.order_id,
        "buyer_id": s.buyer_id,
        "transport": s.transport,
        "mine_id": loading.get("mine_id") or next((t.data.get("mine_id") for t in s.trucks), None),
        "lot_id": s.lot_id,
        "product": loading.get("product") or next((t.data.get("product") for t in s.trucks), None),
        "origin_station": loading.get("station"),
        "destination_station": loading.get("destination_station"),
        "unloading_station": s.unloading.data.get("station") if s.unloading else None,
        "wagon_count": len(wagons) if wagons else None,
        "waybills": s.waybills,
        "weigh_tickets": [str(t.data.get("ticket_no")) for t in s.trucks] if s.transport == "truck" else [],
        "loaded_net_weight_kg": s.loaded_net_weight_kg,
        "unloaded_net_weight_kg": s.unloaded_net_weight_kg,
        "assay": dict(assay) if assay is not None else None,
        "assay_source": assay_event.ref() if assay_event is not None else None,
        "events": [e.ref() for e in s.events()],
        "discrepancies": discrepancies(s, tolerances),
    }
