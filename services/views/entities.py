"""What the fold remembers between events: one record per order, wagon request, shipment, train, published
section capacity, lot and supply offer.

Each record is the latest known state of one business object, built only from sealed events. Its
contribution to the view rows is a pure function of it (:mod:`services.views.contrib`), so a later event
about the same object *replaces* its contribution instead of adding to it: a re-sent request or a
corrected loading changes the figures once, never twice. Records are stored as JSON next to the rows
(``views_entities``) so a restarted worker carries on where it stopped.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Entity(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class Order(Entity, kw_only=True):
    """A buyer's demand (DemandPosted, changed by DemandAmended, closed by DemandWithdrawn)."""

    buyer_id: str | None = None
    product: str | None = None
    quantity_kg: int = 0
    start: str | None = None
    end: str | None = None
    destination: str | None = None
    transport_mode: str = "rail"
    status: str = "open"  # open | withdrawn
    reason: str | None = None
    withdrawn_day: str | None = None
    posted_at: str | None = None


class Request(Entity, kw_only=True):
    """A daily wagon request (WagonsRequested) and its allocation (WagonsAllocated)."""

    station: str
    plan_date: str
    order_id: str | None = None
    mine_id: str | None = None
    product: str | None = None
    destination: str | None = None
    wagon_type: str | None = None
    requested: int = 0
    allocated: int = 0


class Shipment(Entity, kw_only=True):
    """One shipment from loading to the buyer's receipt."""

    order_id: str | None = None
    buyer_id: str | None = None
    mine_id: str | None = None
    lot_id: str | None = None
    product: str | None = None
    station: str | None = None
    destination: str | None = None
    loaded_day: str | None = None
    loaded_at: str | None = None
    wagons: int = 0
    loaded_kg: int = 0
    trains: list[str] = msgspec.field(default_factory=list)  # every train run it rode (to 月山, then beyond)
    unloaded_station: str | None = None
    unloaded_day: str | None = None
    unloaded_wagons: int = 0
    unloaded_kg: int = 0
    receipt: str | None = None  # confirmed | disputed
    receipt_at: str | None = None
    receipt_station: str | None = None
    accepted_kg: int = 0
    measured_kg: int = 0
    waybill_kg: int = 0
    dispute_reason: str | None = None
    ever_disputed: bool = False
    flags: list[str] = msgspec.field(default_factory=list)


class Train(Entity, kw_only=True):
    """One run of a train (TrainDeparted, TrainArrived)."""

    train_no: str | None = None
    station: str | None = None
    destination: str | None = None
    departed_day: str | None = None
    departed_at: str | None = None
    wagons: int = 0
    shipments: int = 0
    arrived_station: str | None = None
    arrived_day: str | None = None
    arrived_at: str | None = None
    origin_station: str | None = None
    arrived_wagons: int = 0


class Section(Entity, kw_only=True):
    """Published capacity of one section, day and direction (CapacityPublished; the latest one counts)."""

    from_station: str
    to_station: str
    plan_date: str
    direction: str
    trains: int = 0
    wagons: int = 0
    net_kg: int = 0


class Lot(Entity, kw_only=True):
    """A lot on hand: the latest report by event time (LotAssayed, StockReported), drawn down by the loadings
    from it that happened after that report. Loadings and reports reach the ledger in any order (they have
    different subjects, so different partitions): event times, not arrival, decide what a report covers."""

    mine_id: str | None = None
    product: str | None = None
    station: str | None = None
    reported_kg: int = 0
    reported_at: str | None = None
    loadings: dict[str, tuple[str, int]] = msgspec.field(default_factory=dict)  # shipment -> (time, kg)
    assay: dict[str, Any] | None = None
    flags: list[str] = msgspec.field(default_factory=list)
    loading_flags: list[str] = msgspec.field(default_factory=list)
    # the lot's whole history, for the stock at the end of each day: every report (time -> kg) and loading
    reports: dict[str, int] = msgspec.field(default_factory=dict)
    loaded: dict[str, tuple[str, int]] = msgspec.field(default_factory=dict)  # shipment -> (time, kg)

    @property
    def loaded_since_kg(self) -> int:
        return sum(kg for _, kg in self.loadings.values())

    @property
    def on_hand_kg(self) -> int:
        return max(0, self.reported_kg - self.loaded_since_kg)

    def on_hand_at(self, before: str) -> int:
        """Stock on hand just before the instant ``before`` (RFC 3339 UTC text, as events' ``at``): the latest
        report before it, minus the loadings after that report and before the instant."""
        reports = [(at, kg) for at, kg in self.reports.items() if at < before]
        since, kg = max(reports) if reports else ("", 0)
        out = sum(w for at, w in self.loaded.values() if since < at < before)
        return max(0, kg - out)

    def event_times(self) -> list[str]:
        return [*self.reports, *(at for at, _ in self.loaded.values())]

    def all_flags(self) -> list[str]:
        return sorted(set(self.flags) | set(self.loading_flags))


class Offer(Entity, kw_only=True):
    """A mine's supply offer (SupplyOffered; the latest one per offer id counts)."""

    mine_id: str
    product: str
    station: str
    quantity_kg: int
    from_date: str
    to_date: str


KINDS: dict[str, type[Entity]] = {
    "order": Order, "request": Request, "shipment": Shipment, "train": Train, "section": Section,
    "lot": Lot, "offer": Offer,
}
EntityRef = tuple[str, str]  # (kind, key)

_encoder = msgspec.json.Encoder()


def encode(entity: Entity) -> bytes:
    return _encoder.encode(entity)


def decode(kind: str, data: bytes | str) -> Entity:
    return msgspec.json.decode(data, type=KINDS[kind])


def copy(entity: Entity) -> Entity:
    """A deep copy (entities hold lists and dicts)."""
    return msgspec.json.decode(_encoder.encode(entity), type=type(entity))
