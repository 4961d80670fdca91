"""Buyers: demand posted, amended and withdrawn; deliveries confirmed (most) or disputed (some)."""

from __future__ import annotations

from functools import partial
from typing import Any

from schemas.units import format_hundredths, hundredths
from services.simulator.engine import DAY_MS, HOUR_MS, MINUTE_MS, Engine
from services.simulator.scenario import BuyerProfile, Scenario
from services.simulator.state import Order, Shipment
from services.simulator.world import World

__all__ = ["Demand"]


class Demand:
    """The open orders of every buyer, and what buyers publish about them."""

    def __init__(self, engine: Engine, world: World, scenario: Scenario) -> None:
        self.e = engine
        self.world = world
        self.scenario = scenario
        self.orders: list[Order] = []

    def plannable(self) -> list[Order]:
        return [o for o in self.orders if o.plannable_kg > 0]

    def daily(self, day_ms: int) -> None:
        """Schedule the day's buyer activity: new orders from 08:00, amendments and cancellations from 10:00."""
        for buyer in self.scenario.buyers:
            open_orders = [o for o in self.orders if o.buyer is buyer and o.plannable_kg > 0]
            for _ in range(buyer.open_orders - len(open_orders)):
                offset = 8 * HOUR_MS if day_ms else 30 * MINUTE_MS
                self.e.at(day_ms + offset + self.e.minutes((0, 180)), partial(self._post, buyer))
        for order in self.plannable():
            if self.e.chance(self.scenario.order_cancel_rate_bp):
                self.e.at(day_ms + 10 * HOUR_MS + self.e.minutes((0, 300)), partial(self._cancel, order))
            elif self.e.chance(self.scenario.order_amend_rate_bp):
                self.e.at(day_ms + 10 * HOUR_MS + self.e.minutes((0, 300)), partial(self._amend, order))

    def _post(self, buyer: BuyerProfile) -> None:
        product = self.e.pick(buyer.products)
        mines = self.world.mines_for_product[product]
        mine = self.e.rng.choices(mines, weights=[m.capacity_kt_per_year for m in mines])[0]
        quantity = self.e.between(buyer.order_kt) * 1_000_000
        now = self.e.now_ms
        end = self.e.date_text(now + self.e.between(buyer.window_days) * DAY_MS)
        order = Order(self.e.ident("ORD", 5), buyer, product, mine, quantity, end)
        self.orders.append(order)
        self.e.emit("DemandPosted", buyer.participant_id, {
            "order_id": order.order_id, "buyer_id": buyer.participant_id, "product": product,
            "quantity_kg": quantity, "quality": self._requirement(product),
            "delivery_start_date": self.e.date_text(now + DAY_MS), "delivery_end_date": end,
            "destination_station": buyer.destination_station, "transport_mode": "rail",
            "max_price_cny_per_t": self.e.between(buyer.max_price_cny_per_t),
        })

    def _requirement(self, product: str) -> dict[str, Any]:
        ref = self.world.ref
        info = ref.product_by_code[product]
        profile = ref.quality_profiles[info.coal_class]
        req: dict[str, Any] = {
            "qnet_ar_kcal_per_kg": {"min": int(profile["qnet_ar_kcal_per_kg"][0]) - 200},
            "ad_pct": {"max": format_hundredths(hundredths(str(profile["ad_pct"][1])) + 100)},
            "st_d_pct": {"max": format_hundredths(hundredths(str(profile["st_d_pct"][1])) + 20)},
        }
        if info.category == "pci":
            req["vdaf_pct"] = {"max": format_hundredths(hundredths(str(profile["vdaf_pct"][1])) + 200)}
        if info.size_max_mm is not None and info.size_min_mm is not None:
            req["size_mm"] = {"min": info.size_min_mm, "max": info.size_max_mm}
        return req

    def _amend(self, order: Order) -> None:
        if order.plannable_kg <= 0:
            return
        changes: dict[str, Any]
        if self.e.chance(5000):
            order.quantity_kg += self.e.between((10, 25)) * order.quantity_kg // 100
            changes = {"quantity_kg": order.quantity_kg}
        else:
            order.end_date = max(order.end_date, self.e.date_text(self.e.now_ms + self.e.between((5, 10)) * DAY_MS))
            changes = {"delivery_end_date": order.end_date}
        self.e.emit("DemandAmended", order.buyer.participant_id, {
            "order_id": order.order_id, "buyer_id": order.buyer.participant_id, "changes": changes,
        })

    def _cancel(self, order: Order) -> None:
        if order.withdrawn or order.plannable_kg <= 0:
            return
        order.withdrawn = True
        self._withdrawn(order, "cancelled")

    def _withdrawn(self, order: Order, reason: str) -> None:
        self.e.emit("DemandWithdrawn", order.buyer.participant_id, {
            "order_id": order.order_id, "buyer_id": order.buyer.participant_id, "reason_code": reason,
        })

    # ---- receipts

    def receive(self, shipment: Shipment, unloaded: list[dict[str, Any]], station: str) -> None:
        """Schedule the buyer's receipt for an unloaded shipment (called at unloading time)."""
        delay = self.e.minutes(self.scenario.receipt_delay_min)
        self.e.after(delay, partial(self._receipt, shipment, unloaded, station))

    def _receipt(self, shipment: Shipment, unloaded: list[dict[str, Any]], station: str) -> None:
        order = shipment.chunk.order
        total = sum(int(w["net_weight_kg"]) for w in unloaded)
        data: dict[str, Any] = {
            "shipment_id": shipment.shipment_id, "order_id": order.order_id,
            "buyer_id": order.buyer.participant_id, "station": station,
        }
        if self.e.chance(self.scenario.dispute_rate_bp):
            self._dispute(shipment, data, total)
        else:
            data |= {"accepted_net_weight_kg": total, "waybill_net_weight_kg": shipment.total_kg,
                     "wagon_count": len(unloaded)}
            if self.e.chance(self.scenario.buyer_assay_rate_bp):
                data["assay"] = self._buyer_assay(shipment, 0)
            if order.buyer.signs_receipts:
                self.e.emit("DeliveryConfirmed", order.buyer.participant_id, data)
        order.outstanding_shipments -= 1
        if not order.withdrawn and order.plannable_kg <= 0 and order.outstanding_shipments == 0:
            order.withdrawn = True
            self.e.after(HOUR_MS, partial(self._withdrawn, order, "fulfilled"))

    def _dispute(self, shipment: Shipment, data: dict[str, Any], total: int) -> None:
        reason = self.e.pick(self.scenario.dispute_reasons)
        measured = total
        if reason == "weight_shortfall":
            measured = total * (10_000 - self.e.between(self.scenario.dispute_shortfall_bp)) // 10_000
        data |= {"reason_code": reason, "measured_net_weight_kg": measured, "accepted_net_weight_kg": measured,
                 "waybill_net_weight_kg": shipment.total_kg}
        if reason == "quality_below_contract":
            data["assay"] = self._buyer_assay(shipment, 400)
        if shipment.chunk.order.buyer.signs_receipts:  # else left for a person to answer (same random draws)
            self.e.emit("DeliveryDisputed", shipment.chunk.order.buyer.participant_id, data)

    def _buyer_assay(self, shipment: Shipment, kcal_drop: int) -> dict[str, Any]:
        lot = shipment.chunk.lot.assay
        mt = min(9_900, hundredths(lot["mt_pct"]) + self.e.between((10, 60)))
        kcal = max(1000, int(lot["qnet_ar_kcal_per_kg"]) - self.e.between((0, 60)) - kcal_drop)
        return {
            "assay_no": self.e.ident("QC", 5), "assayed_on": self.e.date_text(self.e.now_ms),
            "lab": "买方化验室", "mt_pct": format_hundredths(mt), "ad_pct": lot["ad_pct"],
            "vdaf_pct": lot["vdaf_pct"], "st_d_pct": lot["st_d_pct"], "qnet_ar_kcal_per_kg": kcal,
        }
