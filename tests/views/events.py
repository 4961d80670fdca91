"""Signed, catalogued events for the views tests, built with the catalogue's own types and schema ids.

Each builder takes the business facts a test cares about and fills the rest with valid values; every
event passes ``schemas.validate`` (checked by the fold tests, which skip nothing they build here).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from schemas import catalogue, resolve_pointer

SIGNER = Signer.from_seed(bytes(range(100, 132)))
_TYPES = {e.name: e for e in catalogue() if e.version == 1}
_ids = itertools.count(1)

ASSAY = {"assay_no": "HY-1", "assayed_on": "2026-03-09", "mt_pct": "7.00", "ad_pct": "12.00", "vdaf_pct": "7.00",
         "st_d_pct": "0.45", "qnet_ar_kcal_per_kg": 6300}


def event(name: str, data: dict[str, Any], time: str, publisher: str) -> dict[str, Any]:
    """A signed envelope of catalogued type ``name`` (e.g. ``WagonsLoaded``) at ``time`` (RFC 3339 UTC)."""
    et = _TYPES[name]
    env: dict[str, Any] = {
        "specversion": "1.0", "id": str(uuid.UUID(int=(0x5EED << 96) + next(_ids))),
        "source": f"/participants/{publisher}", "type": et.type, "time": time,
        "datacontenttype": "application/json", "dataschema": et.schema_id, "data": data,
    }
    env["subject"] = str(resolve_pointer(env, et.subject_field))
    return dict(sign_event(env, SIGNER))


def demand_posted(order: str, buyer: str, product: str, kg: int, start: str, end: str, dest: str,
                  time: str) -> dict[str, Any]:
    return event("DemandPosted", {
        "order_id": order, "buyer_id": buyer, "product": product, "quantity_kg": kg,
        "quality": {"ad_pct": {"max": "20.00"}}, "delivery_start_date": start, "delivery_end_date": end,
        "destination_station": dest, "transport_mode": "rail"}, time, buyer)


def demand_withdrawn(order: str, buyer: str, time: str, reason: str = "cancelled") -> dict[str, Any]:
    return event("DemandWithdrawn", {"order_id": order, "buyer_id": buyer, "reason_code": reason}, time, buyer)


def lot(name: str, lot_id: str, mine: str, product: str, kg: int, station: str, time: str,
        **assay: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"mine_id": mine, "lot_id": lot_id, "product": product, "quantity_kg": kg,
                            "station": station, "assay": {**ASSAY, **assay}}
    if name == "LotAssayed":
        data["coal_class"] = product.split("-")[0]
    return event(name, data, time, "jincheng-anthracite-sales")


def wagons_requested(req: str, station: str, plan_date: str, order: str, mine: str, product: str, dest: str,
                     wagons: int, time: str) -> dict[str, Any]:
    return event("WagonsRequested", {
        "request_id": req, "station": station, "plan_date": plan_date, "order_id": order, "mine_id": mine,
        "product": product, "destination_station": dest, "wagon_type": "C80", "wagons_requested": wagons},
        time, "railway-zhengzhou")


def wagons_allocated(req: str, station: str, plan_date: str, order: str, requested: int, allocated: int,
                     time: str) -> dict[str, Any]:
    return event("WagonsAllocated", {
        "request_id": req, "station": station, "plan_date": plan_date, "order_id": order, "wagon_type": "C80",
        "wagons_requested": requested, "wagons_allocated": allocated}, time, "railway-zhengzhou")


def wagons_loaded(shipment: str, order: str, buyer: str, mine: str, lot_id: str, product: str, station: str,
                  dest: str, nets: list[int], time: str) -> dict[str, Any]:
    wagons = [{"wagon_no": f"{5000000 + i + 100 * len(shipment)}", "wagon_type": "C80",
               "waybill_no": f"WB-{shipment}-{i}", "gross_weight_kg": net + 20000, "tare_weight_kg": 20000,
               "net_weight_kg": net} for i, net in enumerate(nets)]
    return event("WagonsLoaded", {
        "shipment_id": shipment, "order_id": order, "buyer_id": buyer, "mine_id": mine, "lot_id": lot_id,
        "product": product, "station": station, "destination_station": dest, "wagons": wagons,
        "total_net_weight_kg": sum(nets)}, time, "railway-zhengzhou")


def train_departed(train: str, station: str, dest: str, shipments: list[str], wagons: int,
                   time: str) -> dict[str, Any]:
    return event("TrainDeparted", {
        "train_id": train, "train_no": "85012", "station": station, "destination_station": dest,
        "shipment_ids": shipments, "wagon_count": wagons}, time, "railway-zhengzhou")


def train_arrived(train: str, station: str, origin: str, shipments: list[str], wagons: int,
                  time: str) -> dict[str, Any]:
    return event("TrainArrived", {
        "train_id": train, "train_no": "85012", "station": station, "origin_station": origin,
        "shipment_ids": shipments, "wagon_count": wagons}, time, "railway-zhengzhou")


def wagons_unloaded(shipment: str, order: str, station: str, nets: list[int], time: str) -> dict[str, Any]:
    wagons = [{"wagon_no": f"{5100000 + i}", "net_weight_kg": net} for i, net in enumerate(nets)]
    return event("WagonsUnloaded", {"shipment_id": shipment, "order_id": order, "station": station,
                                    "wagons": wagons, "total_net_weight_kg": sum(nets)}, time, "railway-zhengzhou")


def delivery_confirmed(shipment: str, order: str, buyer: str, station: str, kg: int, time: str) -> dict[str, Any]:
    return event("DeliveryConfirmed", {"shipment_id": shipment, "order_id": order, "buyer_id": buyer,
                                       "station": station, "accepted_net_weight_kg": kg}, time, buyer)


def delivery_disputed(shipment: str, order: str, buyer: str, station: str, measured: int, accepted: int,
                      time: str) -> dict[str, Any]:
    return event("DeliveryDisputed", {
        "shipment_id": shipment, "order_id": order, "buyer_id": buyer, "station": station,
        "reason_code": "weight_shortfall", "measured_net_weight_kg": measured, "accepted_net_weight_kg": accepted},
        time, buyer)


def capacity_published(frm: str, to: str, plan_date: str, trains: int, wagons: int, time: str) -> dict[str, Any]:
    return event("CapacityPublished", {
        "from_station": frm, "to_station": to, "plan_date": plan_date, "direction": "down",
        "trains_capacity": trains, "wagons_capacity": wagons}, time, "railway-zhengzhou")


def truck_weighed(ticket: str, station: str, direction: str, net: int, time: str) -> dict[str, Any]:
    tare = 15000
    return event("TruckWeighed", {
        "ticket_no": ticket, "station": station, "direction": direction, "plate_no": "晋E12345", "axles": 6,
        "product": "WY-MM", "pickup_order_no": "PK-1", "gross_weight_kg": net + tare, "tare_weight_kg": tare,
        "net_weight_kg": net}, time, "jincheng-logistics")
