"""One shipment as the ledger tells it: which sealed events describe it, and what they say together.

Pure: no I/O. The same model serves the pending-receipts list, the bundle builder and the offline verifier,
so all three read the events the same way. Which catalogue events play which part (``kind``):

=============  ===========================  ======================================================
kind           event (catalogue name)        part
=============  ===========================  ======================================================
``order``      DemandPosted                 the buyer's order (``buyer_id`` = the buyer of the order)
``loading``    WagonsLoaded                 the shipment leaves: wagons, waybills, loaded net weight
``unloading``  WagonsUnloaded               the shipment arrives: net weight per wagon at arrival
``truck``      TruckWeighed                 an outbound weigh ticket naming the shipment
``assay``      LotAssayed                   the mine's lab report of the shipped lot (latest sealed)
``receipt``    DeliveryConfirmed / …Disputed the buyer's signed answer
=============  ===========================  ======================================================

A shipment that has a WagonsLoaded or WagonsUnloaded is a *rail* shipment: delivered once its
WagonsUnloaded is sealed. A shipment known only from weigh tickets is a *truck* shipment: the coal is
handed over on the weighbridge (``direction: outbound``, coal collected), so those tickets are its delivery.
Inbound tickets (coal trucked *to* a railhead, most of the simulated traffic) make no receipt figure and
are not part of a receipt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENT_PREFIX",
    "KIND_BY_NAME",
    "RECEIPT_NAMES",
    "LedgerEvent",
    "Shipment",
    "event_name",
    "kind_of",
]

EVENT_PREFIX = "cn.taijiao.coal."
KIND_BY_NAME: Mapping[str, str] = {
    "DemandPosted": "order",
    "WagonsLoaded": "loading",
    "WagonsUnloaded": "unloading",
    "TruckWeighed": "truck",
    "LotAssayed": "assay",
    "DeliveryConfirmed": "receipt",
    "DeliveryDisputed": "receipt",
}
RECEIPT_NAMES = ("DeliveryConfirmed", "DeliveryDisputed")
KINDS = ("order", "loading", "unloading", "truck", "assay", "receipt")


def event_name(event_type: object) -> str | None:
    """``cn.taijiao.coal.<area>.<Name>.v<k>`` → ``Name`` (None for anything else)."""
    if not isinstance(event_type, str) or not event_type.startswith(EVENT_PREFIX):
        return None
    parts = event_type.split(".")
    if len(parts) != 6 or not parts[5].startswith("v") or not parts[5][1:].isdigit():
        return None
    return parts[4]


def kind_of(event_type: object) -> str | None:
    """The part an event type plays in a receipt (None: none)."""
    name = event_name(event_type)
    return KIND_BY_NAME.get(name) if name else None


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """A sealed event: the signed envelope, where it sits in the log and in which block."""

    envelope: Mapping[str, Any]
    leaf_index: int
    height: int

    @property
    def kind(self) -> str | None:
        return kind_of(self.envelope.get("type"))

    @property
    def name(self) -> str:
        return event_name(self.envelope.get("type")) or str(self.envelope.get("type"))

    @property
    def id(self) -> str:
        return str(self.envelope.get("id"))

    @property
    def data(self) -> Mapping[str, Any]:
        data = self.envelope.get("data")
        return data if isinstance(data, Mapping) else {}

    @property
    def participant(self) -> str:
        source = str(self.envelope.get("source", ""))
        return source.removeprefix("/participants/")

    @property
    def key_id(self) -> str:
        return str(self.envelope.get("sigkeyid", ""))

    def ref(self) -> dict[str, Any]:
        """Where to find it: event id, type, publisher, key, leaf index, block height."""
        return {"kind": self.kind, "event_id": self.id, "type": self.envelope.get("type"),
                "participant": self.participant, "sigkeyid": self.key_id, "leaf_index": self.leaf_index,
                "height": self.height}


def _first(events: Iterable[LedgerEvent]) -> LedgerEvent | None:
    return min(events, key=lambda e: e.leaf_index, default=None)


def _last(events: Iterable[LedgerEvent]) -> LedgerEvent | None:
    return max(events, key=lambda e: e.leaf_index, default=None)


def _sum_kg(tickets: Sequence[LedgerEvent]) -> int | None:
    return sum(int(t.data["net_weight_kg"]) for t in tickets) if tickets else None


@dataclass(frozen=True)
class Shipment:
    """The events of one shipment, each part at most once (the earliest sealed; the latest lot assay)."""

    shipment_id: str
    order: LedgerEvent | None = None
    loading: LedgerEvent | None = None
    unloading: LedgerEvent | None = None
    assay: LedgerEvent | None = None
    receipt: LedgerEvent | None = None
    trucks: tuple[LedgerEvent, ...] = field(default=())

    @classmethod
    def from_events(cls, shipment_id: str, events: Iterable[LedgerEvent]) -> Shipment:
        """Sort sealed events into their parts; events of other kinds are ignored."""
        by_kind: dict[str, list[LedgerEvent]] = {k: [] for k in KINDS}
        for e in events:
            if e.kind is not None:
                by_kind[e.kind].append(e)
        return cls(
            shipment_id=shipment_id,
            order=_first(by_kind["order"]),
            loading=_first(by_kind["loading"]),
            unloading=_first(by_kind["unloading"]),
            assay=_last(by_kind["assay"]),
            receipt=_first(by_kind["receipt"]),
            trucks=tuple(sorted(by_kind["truck"], key=lambda e: e.leaf_index)),
        )

    # --- what the events say together -------------------------------------------------------------------

    @property
    def transport(self) -> str:
        return "rail" if self.loading or self.unloading else "truck"

    @property
    def delivered(self) -> bool:
        """Rail: the WagonsUnloaded is sealed. Truck: an (outbound) weigh ticket is sealed."""
        return self.unloading is not None if self.transport == "rail" else bool(self.trucks)

    @property
    def order_id(self) -> str | None:
        for e in (self.loading, self.unloading, self.receipt, self.order, *self.trucks):
            if e is not None and e.data.get("order_id"):
                return str(e.data["order_id"])
        return None

    @property
    def buyer_id(self) -> str | None:
        """The buyer of the order: its DemandPosted's ``buyer_id``, else the WagonsLoaded's consignee."""
        for e in (self.order, self.loading):
            if e is not None and e.data.get("buyer_id"):
                return str(e.data["buyer_id"])
        return None

    @property
    def lot_id(self) -> str | None:
        return str(self.loading.data["lot_id"]) if self.loading and self.loading.data.get("lot_id") else None

    @property
    def waybills(self) -> list[str]:
        if self.loading is None:
            return []
        return [str(w.get("waybill_no")) for w in self.loading.data.get("wagons", ()) if isinstance(w, Mapping)]

    @property
    def loaded_net_weight_kg(self) -> int | None:
        return int(self.loading.data["total_net_weight_kg"]) if self.loading is not None else None

    @property
    def unloaded_net_weight_kg(self) -> int | None:
        """Rail: the WagonsUnloaded total. Truck: the weigh tickets' total."""
        if self.unloading is not None:
            return int(self.unloading.data["total_net_weight_kg"])
        return _sum_kg(self.trucks) if self.transport == "truck" else None

    @property
    def assay_on_record(self) -> tuple[Mapping[str, Any] | None, LedgerEvent | None]:
        """The mine's latest lab report of the lot (LotAssayed), else the loading's quality certificate."""
        if self.assay is not None and isinstance(self.assay.data.get("assay"), Mapping):
            return self.assay.data["assay"], self.assay
        if self.loading is not None and isinstance(self.loading.data.get("assay"), Mapping):
            return self.loading.data["assay"], self.loading
        return None, None

    @property
    def received_assay(self) -> Mapping[str, Any] | None:
        """The buyer's own assay, if its receipt carries one."""
        assay = self.receipt.data.get("assay") if self.receipt is not None else None
        return assay if isinstance(assay, Mapping) else None

    def events(self) -> list[LedgerEvent]:
        """Every event of the shipment, in ledger order."""
        parts = [self.order, self.assay, self.loading, self.unloading, self.receipt, *self.trucks]
        return sorted((e for e in parts if e is not None), key=lambda e: e.leaf_index)

    def receipt_events(self) -> list[LedgerEvent]:
        """The events a receipt bundle holds: all of them, except weigh tickets of a rail shipment (they
        make none of its figures)."""
        return [e for e in self.events() if not (e.kind == "truck" and self.transport == "rail")]
