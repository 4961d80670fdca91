"""The fold: one block's validated events + the entities they touch -> a :class:`BlockDelta`. Pure.

No I/O, no clock: the same events over the same entities always give the same delta, which is why the
views rebuilt from block 0 equal the live ones. The caller first asks :func:`needs` which entities a
block touches and supplies them (``None`` for an entity never seen); the fold updates them in place and
returns, per entity, the change of its contribution to the rows, plus the few row updates no single entity
owns (truck weighings, the latest assay per mine and product).
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET

from schemas import Event, SchemaError, models, validate
from services.views import contrib
from services.views.entities import Entity, EntityRef, Lot, Offer, Order, Request, Section, Shipment, Train, copy
from services.views.model import Line, Ref, business_day

log = logging.getLogger(__name__)

Entities = MutableMapping[EntityRef, Entity | None]
Latest = dict[Ref, dict[str, dict[str, Any]]]  # row -> field -> value with an "at" (the latest wins, see rank)


def rank(value: dict[str, Any]) -> tuple[str, str]:
    """Which of two "latest" values wins: the later event time, then (a tie) the value itself — so the
    winner does not depend on which of the two reached the ledger first."""
    return value["at"], json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class BlockDelta:
    height: int
    adds: contrib.Adds = field(default_factory=dict)
    attrs: contrib.Attrs = field(default_factory=dict)
    latest: Latest = field(default_factory=dict)
    entities: dict[EntityRef, Entity] = field(default_factory=dict)
    latest_day: str | None = None
    events_applied: int = 0
    events_skipped: int = 0

    def refs(self) -> set[Ref]:
        return set(self.adds) | set(self.attrs) | set(self.latest)


@dataclass(frozen=True)
class Indexed:
    """A validated event with its position in the ledger (leaf index): ties in event time break by it."""

    seq: int
    event: Event

    @property
    def at(self) -> str:
        return _iso(self.event.time)

    @property
    def day(self) -> str:
        return business_day(self.event.time)


def _iso(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def parse(events: Iterable[dict[str, Any]], first_leaf_index: int) -> tuple[list[Indexed], int]:
    """Validate a block's events; return the catalogued ones and how many were skipped (not a view event)."""
    out: list[Indexed] = []
    skipped = 0
    for i, envelope in enumerate(events):
        try:
            out.append(Indexed(first_leaf_index + i, validate(envelope)))
        except SchemaError as e:
            skipped += 1
            log.debug("leaf %d is not a catalogued event, not in the views: %s", first_leaf_index + i, e)
    return out, skipped


def needs(events: Iterable[Indexed]) -> list[EntityRef]:
    """The entities the fold of these events reads or writes, in first-use order, without repeats."""
    seen: dict[EntityRef, None] = {}
    for ix in events:
        for ref in _needs(ix.event.data):
            seen.setdefault(ref, None)
    return list(seen)


def _d(day: datetime.date) -> str:
    return day.isoformat()


def section_key(d: models.CapacityPublishedV1) -> str:
    return f"{d.from_station}>{d.to_station}@{d.plan_date}/{d.direction}"


def _needs(d: object) -> list[EntityRef]:
    if isinstance(d, models.DemandPostedV1 | models.DemandAmendedV1 | models.DemandWithdrawnV1):
        return [("order", d.order_id)]
    if isinstance(d, models.WagonsRequestedV1 | models.WagonsAllocatedV1):
        return [("request", d.request_id)]
    if isinstance(d, models.WagonsLoadedV1):
        return [("shipment", d.shipment_id), ("lot", d.lot_id)]
    if isinstance(d, models.TrainDepartedV1):
        return [("train", d.train_id), *(("shipment", s) for s in d.shipment_ids)]
    if isinstance(d, models.TrainArrivedV1):
        return [("train", d.train_id)]
    if isinstance(d, models.WagonsUnloadedV1 | models.DeliveryConfirmedV1 | models.DeliveryDisputedV1):
        return [("shipment", d.shipment_id)]
    if isinstance(d, models.CapacityPublishedV1):
        return [("section", section_key(d))]
    if isinstance(d, models.LotAssayedV1 | models.StockReportedV1):
        return [("lot", d.lot_id)]
    if isinstance(d, models.SupplyOfferedV1):
        return [("offer", d.offer_id)]
    return []


class Fold:
    """Folds one block. Use: ``Fold(height, entities, line).apply(events)`` -> :class:`BlockDelta`."""

    def __init__(self, height: int, entities: Entities, line: Line) -> None:
        self.entities = entities
        self.line = line
        self.delta = BlockDelta(height)
        self._before: dict[EntityRef, contrib.Contribution] = {}

    def apply(self, events: Iterable[Indexed], skipped: int = 0) -> BlockDelta:
        self.delta.events_skipped = skipped
        for ix in events:
            handler = _HANDLERS.get(type(ix.event.data))
            if handler is None:
                self.delta.events_skipped += 1
                continue
            handler(self, ix, ix.event.data)
            self.delta.events_applied += 1
            if self.delta.latest_day is None or ix.day > self.delta.latest_day:
                self.delta.latest_day = ix.day
        return self._finish()

    # -- entity access ---------------------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Entity | None:
        ref = (kind, key)
        if ref not in self.entities:
            raise KeyError(f"entity {ref} was not supplied to the fold (see needs())")
        return self.entities[ref]

    def put(self, kind: str, key: str, entity: Entity) -> Entity:
        """Make ``entity`` the new state of (kind, key); remember the old contribution on first touch."""
        ref = (kind, key)
        if ref not in self._before:
            self._before[ref] = contrib.contribution(kind, key, self.entities.get(ref), self.line)
        self.entities[ref] = entity
        return entity

    def edit(self, kind: str, key: str, make: Callable[[], Entity]) -> Any:
        """The entity (kind, key) ready to be changed in place; created by ``make`` if never seen."""
        current = self.get(kind, key)
        if current is None:
            return self.put(kind, key, make())
        if (kind, key) not in self._before:
            return self.put(kind, key, copy(current))
        return current

    def add_direct(self, ref: Ref, **figures: int) -> None:
        row = self.delta.adds.setdefault(ref, {})
        for name, value in figures.items():
            row[name] = row.get(name, 0) + value

    def set_latest(self, ref: Ref, name: str, value: dict[str, Any]) -> None:
        fields = self.delta.latest.setdefault(ref, {})
        old = fields.get(name)
        if old is None or rank(old) <= rank(value):
            fields[name] = value

    def _finish(self) -> BlockDelta:
        for ref, before in self._before.items():
            entity = self.entities[ref]
            assert entity is not None
            self.delta.entities[ref] = entity
            change = contrib.diff(before, contrib.contribution(ref[0], ref[1], entity, self.line))
            for row_ref, figures in change.adds.items():
                if figures:
                    self.add_direct(row_ref, **figures)
            for row_ref, attrs in change.attrs.items():
                self.delta.attrs.setdefault(row_ref, {}).update(attrs)
        self.delta.adds = {ref: f for ref, f in self.delta.adds.items() if any(f.values())}
        return self.delta


# -- handlers: one per event type; each only updates entities (or direct figures) -----------------------------


def _demand_posted(f: Fold, ix: Indexed, d: models.DemandPostedV1) -> None:
    o: Order = f.edit("order", d.order_id, Order)
    o.buyer_id, o.product, o.quantity_kg = d.buyer_id, d.product, d.quantity_kg
    o.start, o.end, o.destination = _d(d.delivery_start_date), _d(d.delivery_end_date), d.destination_station
    o.transport_mode = d.transport_mode if d.transport_mode is not UNSET else "rail"
    o.posted_at = o.posted_at or ix.at


def _demand_amended(f: Fold, ix: Indexed, d: models.DemandAmendedV1) -> None:
    o: Order = f.edit("order", d.order_id, lambda: Order(buyer_id=d.buyer_id))
    c = d.changes
    if c.quantity_kg is not UNSET:
        o.quantity_kg = c.quantity_kg
    if c.delivery_start_date is not UNSET:
        o.start = _d(c.delivery_start_date)
    if c.delivery_end_date is not UNSET:
        o.end = _d(c.delivery_end_date)
    if c.destination_station is not UNSET:
        o.destination = c.destination_station


def _demand_withdrawn(f: Fold, ix: Indexed, d: models.DemandWithdrawnV1) -> None:
    o: Order = f.edit("order", d.order_id, lambda: Order(buyer_id=d.buyer_id))
    o.status, o.reason, o.withdrawn_day = "withdrawn", d.reason_code, ix.day


def _wagons_requested(f: Fold, ix: Indexed, d: models.WagonsRequestedV1) -> None:
    r: Request = f.edit("request", d.request_id, lambda: Request(station=d.station, plan_date=_d(d.plan_date)))
    r.station, r.plan_date, r.order_id, r.mine_id = d.station, _d(d.plan_date), d.order_id, d.mine_id
    r.product, r.destination, r.wagon_type = d.product, d.destination_station, d.wagon_type
    r.requested = d.wagons_requested


def _wagons_allocated(f: Fold, ix: Indexed, d: models.WagonsAllocatedV1) -> None:
    r: Request = f.edit("request", d.request_id, lambda: Request(station=d.station, plan_date=_d(d.plan_date)))
    r.station, r.plan_date, r.order_id, r.wagon_type = d.station, _d(d.plan_date), d.order_id, d.wagon_type
    r.requested, r.allocated = d.wagons_requested, d.wagons_allocated


_LONG_HAUL = "quality-long-haul-"


def _wagons_loaded(f: Fold, ix: Indexed, d: models.WagonsLoadedV1) -> None:
    s: Shipment = f.edit("shipment", d.shipment_id, Shipment)
    s.order_id, s.buyer_id, s.mine_id, s.lot_id, s.product = d.order_id, d.buyer_id, d.mine_id, d.lot_id, d.product
    s.station, s.destination, s.loaded_day, s.loaded_at = d.station, d.destination_station, ix.day, ix.at
    s.wagons, s.loaded_kg = len(d.wagons), d.total_net_weight_kg
    s.flags = sorted({w.code for w in ix.event.warnings})
    lot: Lot = f.edit("lot", d.lot_id, lambda: Lot(mine_id=d.mine_id, product=d.product, station=d.station))
    lot.loadings.pop(d.shipment_id, None)
    lot.loaded[d.shipment_id] = (ix.at, d.total_net_weight_kg)
    if lot.reported_at is None or ix.at > lot.reported_at:
        lot.loadings[d.shipment_id] = (ix.at, d.total_net_weight_kg)
    lot.loading_flags = sorted(set(lot.loading_flags) | {c for c in s.flags if c.startswith(_LONG_HAUL)})


def _train_departed(f: Fold, ix: Indexed, d: models.TrainDepartedV1) -> None:
    t: Train = f.edit("train", d.train_id, Train)
    t.train_no, t.station, t.destination = d.train_no, d.station, d.destination_station
    t.departed_day, t.departed_at, t.wagons, t.shipments = ix.day, ix.at, d.wagon_count, len(d.shipment_ids)
    for sid in d.shipment_ids:
        s: Shipment = f.edit("shipment", sid, Shipment)
        if d.train_id not in s.trains:
            s.trains = sorted([*s.trains, d.train_id])


def _train_arrived(f: Fold, ix: Indexed, d: models.TrainArrivedV1) -> None:
    t: Train = f.edit("train", d.train_id, lambda: Train(train_no=d.train_no, origin_station=d.origin_station))
    t.arrived_station, t.arrived_day, t.arrived_at, t.arrived_wagons = d.station, ix.day, ix.at, d.wagon_count


def _wagons_unloaded(f: Fold, ix: Indexed, d: models.WagonsUnloadedV1) -> None:
    s: Shipment = f.edit("shipment", d.shipment_id, lambda: Shipment(order_id=d.order_id))
    s.unloaded_station, s.unloaded_day = d.station, ix.day
    s.unloaded_wagons, s.unloaded_kg = len(d.wagons), d.total_net_weight_kg


def _delivery_confirmed(f: Fold, ix: Indexed, d: models.DeliveryConfirmedV1) -> None:
    s: Shipment = f.edit("shipment", d.shipment_id, lambda: Shipment(order_id=d.order_id))
    s.buyer_id = s.buyer_id or d.buyer_id
    s.receipt, s.receipt_at, s.receipt_station, s.accepted_kg = "confirmed", ix.at, d.station, d.accepted_net_weight_kg
    s.measured_kg = 0
    if d.waybill_net_weight_kg is not UNSET:
        s.waybill_kg = d.waybill_net_weight_kg


def _delivery_disputed(f: Fold, ix: Indexed, d: models.DeliveryDisputedV1) -> None:
    s: Shipment = f.edit("shipment", d.shipment_id, lambda: Shipment(order_id=d.order_id))
    s.buyer_id = s.buyer_id or d.buyer_id
    s.receipt, s.receipt_at, s.receipt_station, s.ever_disputed = "disputed", ix.at, d.station, True
    s.accepted_kg, s.measured_kg, s.dispute_reason = d.accepted_net_weight_kg, d.measured_net_weight_kg, d.reason_code
    if d.waybill_net_weight_kg is not UNSET:
        s.waybill_kg = d.waybill_net_weight_kg


def _capacity_published(f: Fold, ix: Indexed, d: models.CapacityPublishedV1) -> None:
    net = d.net_capacity_kg if d.net_capacity_kg is not UNSET else 0
    f.put("section", section_key(d), Section(
        from_station=d.from_station, to_station=d.to_station, plan_date=_d(d.plan_date), direction=d.direction,
        trains=d.trains_capacity, wagons=d.wagons_capacity, net_kg=net))


def assay_summary(a: models.Assay) -> dict[str, Any]:
    return {"assay_no": a.assay_no, "assayed_on": _d(a.assayed_on), "qnet_ar_kcal_per_kg": a.qnet_ar_kcal_per_kg,
            "ad_pct": a.ad_pct, "st_d_pct": a.st_d_pct, "vdaf_pct": a.vdaf_pct, "mt_pct": a.mt_pct}


def _lot_reported(f: Fold, ix: Indexed, d: models.LotAssayedV1 | models.StockReportedV1) -> None:
    lot: Lot = f.edit("lot", d.lot_id, Lot)
    lot.mine_id, lot.product, lot.station = d.mine_id, d.product, d.station
    flags = sorted({w.code for w in ix.event.warnings if w.code.startswith("quality-")})
    f.set_latest(("stock", (d.mine_id, d.product)), "last_assay",
                 {**assay_summary(d.assay), "lot_id": d.lot_id, "flags": flags, "at": ix.at})
    lot.reports[ix.at] = max(d.quantity_kg, lot.reports.get(ix.at, d.quantity_kg))  # a tie: the larger stands
    if lot.reported_at is not None and ix.at < lot.reported_at:
        return  # an older report reaching the ledger late: the newer one stands (it is in the history, though)
    lot.reported_kg, lot.reported_at = d.quantity_kg, ix.at
    lot.loadings = {sid: (at, kg) for sid, (at, kg) in lot.loadings.items() if at > ix.at}
    lot.assay, lot.flags = assay_summary(d.assay), flags


def _supply_offered(f: Fold, ix: Indexed, d: models.SupplyOfferedV1) -> None:
    f.put("offer", d.offer_id, Offer(mine_id=d.mine_id, product=d.product, station=d.station,
                                     quantity_kg=d.quantity_kg, from_date=_d(d.available_from_date),
                                     to_date=_d(d.available_to_date)))


def _truck_weighed(f: Fold, ix: Indexed, d: models.TruckWeighedV1) -> None:
    if d.direction == "inbound":
        f.add_direct(("capacity", (d.station, ix.day)), trucks_in=1, truck_in_kg=d.net_weight_kg)
        return
    f.add_direct(("capacity", (d.station, ix.day)), trucks_out=1, truck_out_kg=d.net_weight_kg)
    if d.order_id is not UNSET:
        f.add_direct(("demand", (d.order_id,)), truck_kg=d.net_weight_kg)


_HANDLERS: dict[type, Callable[[Fold, Indexed, Any], None]] = {
    models.DemandPostedV1: _demand_posted,
    models.DemandAmendedV1: _demand_amended,
    models.DemandWithdrawnV1: _demand_withdrawn,
    models.WagonsRequestedV1: _wagons_requested,
    models.WagonsAllocatedV1: _wagons_allocated,
    models.WagonsLoadedV1: _wagons_loaded,
    models.TrainDepartedV1: _train_departed,
    models.TrainArrivedV1: _train_arrived,
    models.WagonsUnloadedV1: _wagons_unloaded,
    models.DeliveryConfirmedV1: _delivery_confirmed,
    models.DeliveryDisputedV1: _delivery_disputed,
    models.CapacityPublishedV1: _capacity_published,
    models.LotAssayedV1: _lot_reported,
    models.StockReportedV1: _lot_reported,
    models.SupplyOfferedV1: _supply_offered,
    models.TruckWeighedV1: _truck_weighed,
}
