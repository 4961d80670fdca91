"""What each entity contributes to the view rows — a pure function of the entity.

Two kinds of contribution:

* ``adds``: integers summed into a row (wagons, kg, counts). A row's figure is the sum over every entity
  contributing to it, so when an entity changes, the fold adds (new − old) and nothing is ever counted
  twice, whatever order the events came in.
* ``attrs``: descriptive fields of a row that exactly one entity owns (an order's buyer and status, a
  train's route, a lot's assay).

Where each figure comes from, for people: ``docs/dispatchers.md``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from services.receipts.discrepancy import Tolerances, weight_marks
from services.views.entities import Entity, Lot, Offer, Order, Request, Section, Shipment, Train
from services.views.model import Line, Ref, business_day_of, day_end, days

Adds = dict[Ref, dict[str, int]]
Attrs = dict[Ref, dict[str, Any]]


@dataclass
class Contribution:
    adds: Adds = field(default_factory=lambda: defaultdict(dict))
    attrs: Attrs = field(default_factory=dict)

    def add(self, ref: Ref, **figures: int) -> None:
        row = self.adds[ref]
        for name, value in figures.items():
            if value:
                row[name] = row.get(name, 0) + value


def contribution(kind: str, key: str, entity: Entity | None, line: Line) -> Contribution:
    c = Contribution()
    if entity is not None:
        _BY_KIND[kind](c, key, entity, line)
    return c


def _order(c: Contribution, order_id: str, o: Entity, line: Line) -> None:
    assert isinstance(o, Order)
    c.attrs[("demand", (order_id,))] = {
        "buyer_id": o.buyer_id, "product": o.product, "destination": o.destination, "start": o.start,
        "end": o.end, "ordered_kg": o.quantity_kg, "status": o.status, "reason": o.reason,
        "transport_mode": o.transport_mode, "posted_at": o.posted_at,
    }
    if o.transport_mode == "truck" or not (o.destination and o.product and o.start and o.end and o.quantity_kg):
        return
    window = days(o.start, o.end)
    share, extra = divmod(o.quantity_kg, len(window)) if window else (0, 0)
    for i, day in enumerate(window):
        if o.withdrawn_day is not None and day > o.withdrawn_day:
            break
        c.add(("gaps", (o.destination, o.product, day)), demand_kg=share + (1 if i < extra else 0))


def _request(c: Contribution, _key: str, r: Entity, line: Line) -> None:
    assert isinstance(r, Request)
    c.add(("capacity", (r.station, r.plan_date)), wagons_requested=r.requested, wagons_allocated=r.allocated)
    if r.destination and r.product:
        c.add(("gaps", (r.destination, r.product, r.plan_date)),
              requested_kg=line.load_kg(r.wagon_type, r.requested), capacity_kg=line.load_kg(r.wagon_type, r.allocated))
    if r.order_id:
        c.add(("demand", (r.order_id,)), wagons_requested=r.requested, wagons_allocated=r.allocated)


def _shipment(c: Contribution, shipment_id: str, s: Entity, line: Line) -> None:
    assert isinstance(s, Shipment)
    order = ("demand", (s.order_id,)) if s.order_id else None
    if s.loaded_day is not None and s.station:
        c.add(("capacity", (s.station, s.loaded_day)), wagons_loaded=s.wagons, loaded_kg=s.loaded_kg)
        if s.destination and s.product:
            c.add(("gaps", (s.destination, s.product, s.loaded_day)), supply_kg=s.loaded_kg)
        if s.mine_id and s.product:
            c.add(("stock_day", (s.mine_id, s.product, s.loaded_day)), loaded_kg=s.loaded_kg)
        if order:
            c.add(order, shipments=1, loaded_kg=s.loaded_kg,
                  in_transit_kg=s.loaded_kg if s.unloaded_day is None else 0)
    if s.unloaded_day is not None and s.unloaded_station:
        c.add(("capacity", (s.unloaded_station, s.unloaded_day)), wagons_unloaded=s.unloaded_wagons,
              unloaded_kg=s.unloaded_kg)
        if order:
            c.add(order, delivered_kg=s.unloaded_kg)
    if order and s.receipt == "confirmed":
        c.add(order, confirmed_kg=s.accepted_kg)
    if order and s.receipt == "disputed":
        c.add(order, disputed_kg=s.measured_kg, disputes=1)
    if order and s.unloaded_day is not None and s.loaded_kg:
        # the same marks (and default tolerance) as receipt bundles: services/receipts/discrepancy.py
        marks = weight_marks(s.loaded_kg, s.unloaded_kg, s.accepted_kg if s.receipt else None, Tolerances())
        if marks:
            c.add(order, weight_discrepancies=1)
    for train_id in s.trains:
        c.add(("trains", (train_id,)), loaded_kg=s.loaded_kg, shipments_loaded=1 if s.loaded_day else 0)
    if s.ever_disputed:
        c.attrs[("disputes", (shipment_id,))] = {
            "order_id": s.order_id, "buyer_id": s.buyer_id, "product": s.product, "origin": s.station,
            "station": s.receipt_station, "reason_code": s.dispute_reason, "measured_kg": s.measured_kg,
            "accepted_kg": s.accepted_kg, "waybill_kg": s.waybill_kg or s.loaded_kg, "at": s.receipt_at,
            "open": s.receipt == "disputed",
        }


def _train(c: Contribution, train_id: str, t: Entity, line: Line) -> None:
    assert isinstance(t, Train)
    if t.departed_day is not None and t.station:
        c.add(("capacity", (t.station, t.departed_day)), trains_departed=1, wagons_departed=t.wagons)
        for start, direction in line.segments(t.station, t.destination or ""):
            c.add(("capacity", (start, t.departed_day)), **{f"used_{direction}_trains": 1,
                                                              f"used_{direction}_wagons": t.wagons})
        link = line.link(t.station, t.destination or "")
        if link is not None:  # off the line (月山 → 新乡 …): counted at the link's start, by where the train goes
            far = t.destination if link[1] == t.destination else link[0]
            c.add(("capacity", (link[0], t.departed_day)), **{f"onward_{far}_trains": 1,
                                                                f"onward_{far}_wagons": t.wagons})
    if t.arrived_day is not None and t.arrived_station:
        c.add(("capacity", (t.arrived_station, t.arrived_day)), trains_arrived=1, wagons_arrived=t.arrived_wagons)
    arrived = t.arrived_station is not None and t.arrived_station == t.destination
    c.attrs[("trains", (train_id,))] = {
        "train_no": t.train_no, "origin": t.station or t.origin_station, "destination": t.destination,
        "departed_at": t.departed_at, "wagons": t.wagons or t.arrived_wagons, "shipments": t.shipments,
        "last_station": t.arrived_station, "arrived_at": t.arrived_at,
        "status": "arrived" if arrived or t.departed_at is None else "in_transit",
    }


def _section(c: Contribution, _key: str, s: Entity, line: Line) -> None:
    assert isinstance(s, Section)
    d = s.direction
    ref = ("capacity", (s.from_station, s.plan_date))
    c.add(ref, **{f"capacity_{d}_trains": s.trains, f"capacity_{d}_wagons": s.wagons, f"capacity_{d}_kg": s.net_kg})
    c.attrs[ref] = {f"section_{d}_to": s.to_station}


def _lot(c: Contribution, lot_id: str, lot: Entity, line: Line) -> None:
    assert isinstance(lot, Lot)
    flags = lot.all_flags()
    on_hand = lot.on_hand_kg
    if lot.mine_id and lot.product:
        flagged = bool(flags) and on_hand > 0
        c.add(("stock", (lot.mine_id, lot.product)), stock_kg=on_hand, lots=1 if on_hand else 0,
              flagged_lots=1 if flagged else 0, flagged_kg=on_hand if flagged else 0)
    if lot.mine_id and lot.product:
        _stock_history(c, lot)
    c.attrs[("lots", (lot_id,))] = {
        "mine_id": lot.mine_id, "product": lot.product, "station": lot.station, "on_hand_kg": on_hand,
        "reported_kg": lot.reported_kg, "loaded_since_kg": lot.loaded_since_kg, "assay": lot.assay,
        "flags": flags, "flagged": bool(flags), "reported_at": lot.reported_at,
    }


def _stock_history(c: Contribution, lot: Lot) -> None:
    """The lot's stock at the end of each day from its first event to its last, as the day's change: the stock
    at the end of day D is the sum of the changes up to D (the lot's last figure carries on after its last day)."""
    times = lot.event_times()
    if not times:
        return
    first, last = business_day_of(min(times)), business_day_of(max(times))
    before = 0
    for day in days(first, last):
        now = lot.on_hand_at(day_end(day))
        c.add(("stock_day", (lot.mine_id or "", lot.product or "", day)), change_kg=now - before)
        before = now


def _offer(c: Contribution, _key: str, o: Entity, line: Line) -> None:
    assert isinstance(o, Offer)
    c.add(("stock", (o.mine_id, o.product)), offered_kg=o.quantity_kg)


_BY_KIND = {
    "order": _order, "request": _request, "shipment": _shipment, "train": _train, "section": _section,
    "lot": _lot, "offer": _offer,
}


def diff(old: Contribution, new: Contribution) -> Contribution:
    """What changes when an entity's contribution goes from ``old`` to ``new``."""
    out = Contribution()
    for ref in old.adds.keys() | new.adds.keys():
        before, after = old.adds.get(ref, {}), new.adds.get(ref, {})
        out.add(ref, **{f: after.get(f, 0) - before.get(f, 0) for f in before.keys() | after.keys()})
    for ref, before_attrs in old.attrs.items():
        if ref not in new.attrs:
            out.attrs[ref] = dict.fromkeys(before_attrs)
    for ref, after_attrs in new.attrs.items():
        if old.attrs.get(ref) != after_attrs:
            out.attrs[ref] = after_attrs
    return out
