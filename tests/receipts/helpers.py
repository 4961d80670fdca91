"""The demo consortium (the simulator's, keys from its seed), and hand-made shipments for precise cases.

Hand-made shipments start from the catalogue's own valid examples (``schemas/examples/valid``) with fresh
ids (``SHP-T<n>-CBF``, never the simulator's), so they pass the validators next to simulated traffic.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from schemas.resources import load_json
from services.simulator import genesis, participant_signer

SEED = 7
BUYER = "rizhao-steel"
OTHER_BUYER = "jiaozuo-power"
AUDITOR = "consortium-admin"
MINE = "luan-coal-sales"
RAILWAY_ORIGIN = "railway-zhengzhou"
RAILWAY_DESTINATION = "railway-jinan"
_NS = uuid.UUID("2b6f1f0e-6c1d-4f55-9d0e-7a3c5e1f0a11")


class Consortium:
    """The simulator's demo consortium: its participants, their keys derived from ``seed``, its genesis."""

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed

    def signer(self, participant: str) -> Signer:
        return participant_signer(self.seed, participant)

    def genesis(self) -> dict[str, Any]:
        return genesis(self.seed, created=datetime(2025, 3, 1, tzinfo=UTC))


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(load_json("examples", "valid", f"{name}.json"))
    for attribute in ("sigkeyid", "signature"):
        doc.pop(attribute, None)
    return doc


def event_id(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


@dataclass
class ShipmentEvents:
    """The signed events of one shipment, in publishing order."""

    shipment_id: str
    order_id: str
    lot_id: str
    order: dict[str, Any]
    assay: dict[str, Any]
    loading: dict[str, Any]
    unloading: dict[str, Any]

    def before_unloading(self) -> list[dict[str, Any]]:
        return [self.order, self.assay, self.loading]

    def all(self) -> list[dict[str, Any]]:
        return [*self.before_unloading(), self.unloading]


def shipment(c: Consortium, n: int, *, buyer: str = BUYER, loss_kg_per_wagon: int = 150) -> ShipmentEvents:
    """Order → lot assay → loading (4 C80 wagons at CBF) → unloading at RZK, ``loss_kg_per_wagon`` lighter."""
    sid, oid, lot = f"SHP-T{n}-CBF", f"ORD-T{n}", f"LOT-T{n}"
    order = _example("demand.DemandPosted")
    order.update(id=event_id(n, "order"), subject=oid, source=f"/participants/{buyer}")
    order["data"].update(order_id=oid, buyer_id=buyer)
    assay = _example("inventory.LotAssayed")
    assay.update(id=event_id(n, "assay"), subject=lot)
    assay["data"]["lot_id"] = lot
    loading = _example("transport.WagonsLoaded")
    loading.update(id=event_id(n, "loading"), subject=sid)
    data = loading["data"]
    data.update(shipment_id=sid, order_id=oid, buyer_id=buyer, lot_id=lot, request_id=f"REQ-T{n}")
    for i, wagon in enumerate(data["wagons"]):
        wagon.update(wagon_no=f"{n:03d}{i:04d}", waybill_no=f"WB-T{n}-{i:03d}")
    data["total_net_weight_kg"] = sum(w["net_weight_kg"] for w in data["wagons"])
    unloading = _example("transport.WagonsUnloaded")
    unloading.update(id=event_id(n, "unloading"), subject=sid)
    wagons = [{"wagon_no": w["wagon_no"], "net_weight_kg": w["net_weight_kg"] - loss_kg_per_wagon}
              for w in data["wagons"]]
    unloading["data"].update(shipment_id=sid, order_id=oid, wagons=wagons,
                             total_net_weight_kg=sum(w["net_weight_kg"] for w in wagons))
    signed = {name: sign_event(e, c.signer(e["source"].removeprefix("/participants/")))
              for name, e in (("order", order), ("assay", assay), ("loading", loading), ("unloading", unloading))}
    return ShipmentEvents(sid, oid, lot, **signed)


def confirmation_args(s: ShipmentEvents) -> dict[str, Any]:
    """What a buyer passes to ``sign_confirmation`` for this shipment (it received what was unloaded)."""
    return {"buyer_id": s.loading["data"]["buyer_id"], "shipment_id": s.shipment_id, "order_id": s.order_id,
            "station": s.unloading["data"]["station"],
            "accepted_net_weight_kg": s.unloading["data"]["total_net_weight_kg"]}


def forged(c: Consortium, signer: str, s: ShipmentEvents, n: int) -> dict[str, Any]:
    """A DeliveryConfirmed of shipment ``s`` published and signed by ``signer`` in its own name."""
    doc = _example("receipt.DeliveryConfirmed")
    doc.update(id=event_id(n, "forged", signer), subject=s.shipment_id, source=f"/participants/{signer}")
    doc["data"] = {"shipment_id": s.shipment_id, "order_id": s.order_id, "buyer_id": signer,
                   "station": s.unloading["data"]["station"],
                   "accepted_net_weight_kg": s.unloading["data"]["total_net_weight_kg"]}
    return sign_event(doc, c.signer(signer))


@dataclass
class TruckShipment:
    """A buyer's order collected by trucks on a railhead weighbridge (outbound tickets)."""

    shipment_id: str
    order_id: str
    order: dict[str, Any]
    tickets: list[dict[str, Any]]

    def all(self) -> list[dict[str, Any]]:
        return [self.order, *self.tickets]


def truck_shipment(c: Consortium, n: int, *, buyer: str = BUYER, trucks: int = 2) -> TruckShipment:
    sid, oid = f"SHP-T{n}-JCF", f"ORD-T{n}"
    order = _example("demand.DemandPosted")
    order.update(id=event_id(n, "order"), subject=oid, source=f"/participants/{buyer}")
    order["data"].update(order_id=oid, buyer_id=buyer)
    tickets = []
    for k in range(trucks):
        ticket = _example("transport.TruckWeighed")
        number = f"BD-T{n}-{k:03d}"
        ticket.update(id=event_id(n, "ticket", k), subject=number)
        ticket["data"].update(ticket_no=number, direction="outbound", order_id=oid, shipment_id=sid)
        tickets.append(ticket)
    signed = [sign_event(e, c.signer(e["source"].removeprefix("/participants/"))) for e in [order, *tickets]]
    return TruckShipment(sid, oid, signed[0], signed[1:])
