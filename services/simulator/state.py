"""What the simulation remembers between actions: lots, orders, shipments and trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.refdata import Mine
from services.simulator.scenario import BuyerProfile

__all__ = ["Chunk", "Lot", "Order", "Shipment", "Train"]


@dataclass
class Lot:
    """A quality-graded lot (分质堆存) at a mine's railhead yard, with its assay."""

    lot_id: str
    mine: Mine
    product: str
    coal_class: str
    size_kg: int
    remaining_kg: int
    assay: dict[str, Any]
    reported_empty: bool = False


@dataclass
class Order:
    """A buyer's demand and how much of it is planned, in transit and received."""

    order_id: str
    buyer: BuyerProfile
    product: str
    mine: Mine
    quantity_kg: int
    end_date: str
    planned_kg: int = 0
    outstanding_shipments: int = 0
    withdrawn: bool = False

    @property
    def plannable_kg(self) -> int:
        return 0 if self.withdrawn else max(0, self.quantity_kg - self.planned_kg)


@dataclass
class Chunk:
    """Wagons allocated to an order for one plan date, drawn from one lot."""

    order: Order
    lot: Lot
    wagons: int
    request_id: str
    station: str
    wagon_type: str


@dataclass
class Shipment:
    """Wagons of one order and lot loaded together (one WagonsLoaded)."""

    shipment_id: str
    chunk: Chunk
    wagon_count: int
    pickup_order_no: str
    wagons: list[dict[str, Any]] = field(default_factory=list)
    total_kg: int = 0

    @property
    def destination(self) -> str:
        return self.chunk.order.buyer.destination_station


@dataclass
class Train:
    """One run of a train between two stations."""

    train_id: str
    train_no: str
    station: str
    destination: str
    shipments: list[Shipment]

    @property
    def wagon_count(self) -> int:
        return sum(s.wagon_count for s in self.shipments)
