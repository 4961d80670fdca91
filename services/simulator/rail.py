"""The railway and the weighbridges: capacity, daily wagon requests and allocations, trucks feeding the
railheads, loading with one waybill per wagon, trains to 月山 (YBF) and beyond, unloading.

Daily cycle for plan date D+1, run on day D: 16:00 requests (报日请求车), 18:00 allocations (配车) with
lots reserved, 20:00 trains packed per station; on D+1 trains depart through the day, each after its
shipments are loaded (and, for mines without a siding, after the trucks have brought the coal).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from services.simulator.demand import Demand
from services.simulator.engine import DAY_MS, HOUR_MS, MINUTE_MS, Engine
from services.simulator.scenario import CapacitySection, Scenario
from services.simulator.state import Chunk, Order, Shipment, Train
from services.simulator.supply import Supply
from services.simulator.world import World

__all__ = ["YARD", "Rail"]

YARD = "YBF"  # 月山 marshalling yard: every train from the line ends here; onward trains leave from here
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


class Rail:
    def __init__(self, engine: Engine, world: World, scenario: Scenario, supply: Supply, demand: Demand) -> None:
        self.e = engine
        self.world = world
        self.s = scenario
        self.supply = supply
        self.demand = demand
        self.pending: dict[str, list[Chunk]] = {}

    # ---- capacity

    def capacity(self, day_ms: int) -> None:
        """Publish each section's capacity for the day, just after midnight."""
        for i, section in enumerate(self.s.capacity_sections):
            self.e.at(day_ms + 5 * MINUTE_MS + i * MINUTE_MS, partial(self._capacity, section))

    def _capacity(self, section: CapacitySection) -> None:
        trains = self.e.between(section.trains)
        if self.e.chance(self.s.capacity_cut_rate_bp):  # a maintenance window: overbooked on purpose
            trains = trains * (10_000 - self.e.between(self.s.capacity_cut_bp)) // 10_000
        wagons = trains * section.wagons_per_train
        self.e.emit("CapacityPublished", self.world.railway_of[section.from_station], {
            "from_station": section.from_station, "to_station": section.to_station,
            "plan_date": self.e.date_text(self.e.now_ms), "direction": "down", "trains_capacity": trains,
            "wagons_capacity": wagons, "net_capacity_kg": wagons * self._kg_per_wagon("C80"),
        })

    # ---- planning: requests and allocations

    def plan(self, day_ms: int) -> None:
        """Schedule the requests (16:00) and allocations (18:00) for the next day, and the dispatch (20:00)."""
        self.e.at(day_ms + 16 * HOUR_MS, lambda: self._plan(day_ms + DAY_MS))
        self.e.at(day_ms + 20 * HOUR_MS, lambda: self._dispatch(day_ms + DAY_MS))

    def _plan(self, plan_day_ms: int) -> None:
        orders = self.demand.plannable()
        if not orders:
            return
        jitter = self.s.daily_volume_jitter_bp
        target = self.s.daily_rail_net_kg * (10_000 + self.e.between((-jitter, jitter))) // 10_000
        spacing = min(3 * MINUTE_MS, 100 * MINUTE_MS // len(orders))
        for i, (order, wagons) in enumerate(self._shares(orders, target)):
            order.planned_kg += wagons * self._per_wagon_of(order)
            request_id = self.e.ident("REQ", 6)
            self.e.after(i * spacing, partial(self._request, order, wagons, request_id, plan_day_ms))
            self.e.after(2 * HOUR_MS + i * spacing, partial(self._allocate, order, wagons, request_id, plan_day_ms))

    def _per_wagon_of(self, order: Order) -> int:
        return self._kg_per_wagon(self.s.station_wagon_type[order.mine.railhead_station])

    def _shares(self, orders: list[Order], target_kg: int) -> list[tuple[Order, int]]:
        """Wagons per order: the day's target split by buyer weight, each capped by what the order still
        needs and by ``max_wagons_per_request``, what a capped order cannot take handed to the others
        (water-filling)."""
        cap = self.s.max_wagons_per_request
        room = {o.order_id: min(cap, math.ceil(o.plannable_kg / self._per_wagon_of(o))) for o in orders}
        wagons = dict.fromkeys(room, 0)
        left = target_kg
        active = [o for o in orders if room[o.order_id] > 0]
        while active and left >= min(self._per_wagon_of(o) for o in active):
            weight = sum(o.buyer.weight for o in active)
            for o in active:
                want = max(1, left * o.buyer.weight // weight // self._per_wagon_of(o))
                give = min(want, room[o.order_id] - wagons[o.order_id])
                wagons[o.order_id] += give
            left = target_kg - sum(wagons[o.order_id] * self._per_wagon_of(o) for o in orders)
            active = [o for o in active if wagons[o.order_id] < room[o.order_id]]
        floor = self.s.min_wagons_per_request
        return [(o, min(room[o.order_id], max(floor, wagons[o.order_id]))) for o in orders if wagons[o.order_id]]

    def _request(self, order: Order, wagons: int, request_id: str, plan_day_ms: int) -> None:
        station = order.mine.railhead_station
        self.e.emit("WagonsRequested", self.world.railway_of[station], {
            "request_id": request_id, "station": station, "plan_date": self.e.date_text(plan_day_ms),
            "order_id": order.order_id, "mine_id": order.mine.mine_id, "product": order.product,
            "destination_station": order.buyer.destination_station,
            "wagon_type": self.s.station_wagon_type[station], "wagons_requested": wagons,
        })

    def _allocate(self, order: Order, requested: int, request_id: str, plan_day_ms: int) -> None:
        station = order.mine.railhead_station
        wagon_type = self.s.station_wagon_type[station]
        allocated = requested
        if self.e.chance(self.s.allocation_shortfall_rate_bp):
            allocated = requested * (10_000 - self.e.between(self.s.allocation_shortfall_bp)) // 10_000
            order.planned_kg -= (requested - allocated) * self._kg_per_wagon(wagon_type)
        self.e.emit("WagonsAllocated", self.world.railway_of[station], {
            "request_id": request_id, "station": station, "plan_date": self.e.date_text(plan_day_ms),
            "order_id": order.order_id, "wagon_type": wagon_type, "wagons_requested": requested,
            "wagons_allocated": allocated,
        })
        if allocated and not order.withdrawn:
            parts = self.supply.reserve(order.mine.mine_id, order.product, allocated, self._kg_per_wagon(wagon_type))
            self.pending.setdefault(station, []).extend(
                Chunk(order, lot, n, request_id, station, wagon_type) for lot, n in parts if n
            )

    def _kg_per_wagon(self, wagon_type: str) -> int:
        below = self.s.wagon_net_below_limit_kg
        return self.world.load_limit_kg(wagon_type) - (below[0] + below[1]) // 2

    # ---- dispatch: trains, loading, trucks

    def _dispatch(self, day_ms: int) -> None:
        pending, self.pending = self.pending, {}
        for station, chunks in pending.items():
            trains = self._pack(station, chunks)
            slot = (22 * HOUR_MS) // len(trains)
            for i, train in enumerate(trains):
                depart = day_ms + HOUR_MS + i * slot + self.e.rng.randrange(max(1, min(20 * MINUTE_MS, slot // 3)))
                self._schedule_train(train, depart)

    def _pack(self, station: str, chunks: list[Chunk]) -> list[Train]:
        capacity = self.s.train_max_wagons[chunks[0].wagon_type]
        trains: list[Train] = []
        current: list[Shipment] = []
        room = capacity
        for chunk in chunks:
            left = chunk.wagons
            while left:
                take = min(left, room)
                current.append(self._shipment(chunk, take))
                left -= take
                room -= take
                if room == 0:
                    trains.append(self._train(station, YARD, current))
                    current, room = [], capacity
        if current:
            trains.append(self._train(station, YARD, current))
        return trains

    def _shipment(self, chunk: Chunk, wagons: int) -> Shipment:
        chunk.order.outstanding_shipments += 1
        return Shipment(self.e.ident("SHP", 6), chunk, wagons, self.e.ident("TM", 6))

    def _train(self, station: str, destination: str, shipments: list[Shipment]) -> Train:
        n = self.e.serial("train")
        prefix = "85" if station != YARD else "86"
        return Train(self.e.ident("TRN", 6), f"{prefix}{n % 1000:03d}", station, destination, shipments)

    def _schedule_train(self, train: Train, depart_ms: int) -> None:
        count = len(train.shipments)
        for j, shipment in enumerate(train.shipments):
            load_ms = depart_ms - 30 * MINUTE_MS - (count - 1 - j) * 45 * MINUTE_MS
            load_ms = max(load_ms, self.e.now_ms + 90 * MINUTE_MS)
            if not shipment.chunk.lot.mine.has_siding:
                self._schedule_trucks(shipment, load_ms)
            self.e.at(load_ms, partial(self._load, shipment))
        self.e.at(max(depart_ms, self.e.now_ms + 2 * HOUR_MS), lambda: self._depart(train))

    def _schedule_trucks(self, shipment: Shipment, load_ms: int) -> None:
        trucks = math.ceil(shipment.wagon_count * self._kg_per_wagon(shipment.chunk.wagon_type) / 32_000)
        lead = self.s.truck.lead_time_min
        first = max(self.e.now_ms + MINUTE_MS, load_ms - lead[1] * MINUTE_MS)
        last = max(first, load_ms - lead[0] * MINUTE_MS)
        step = (last - first) // trucks
        for k in range(trucks):
            self.e.at(first + k * step + self.e.rng.randrange(max(1, step)), lambda: self._truck(shipment))

    def _truck(self, shipment: Shipment) -> None:
        truck = self.s.truck
        station = shipment.chunk.station
        axles = int(self.e.pick(truck.axles))
        tare = self.e.between(truck.tare_kg)
        limit = self.world.ref.limits.truck_max_gross_kg_by_axles[axles]
        net = self.e.between((limit - tare - 3000, limit - tare - 200))
        if self.e.chance(truck.overweight_rate_bp):
            net += self.e.between(truck.overweight_kg)
        plate = "晋" + truck.plate_letters[station] + "".join(self.e.rng.choice(_PLATE_CHARS) for _ in range(5))
        order = shipment.chunk.order
        self.e.emit("TruckWeighed", self.world.carrier_of[station], {
            "ticket_no": self.e.ident("BD", 7), "station": station, "site_name": truck.sites[station],
            "direction": "inbound", "plate_no": plate, "axles": axles, "product": order.product,
            "pickup_order_no": shipment.pickup_order_no, "mine_id": order.mine.mine_id,
            "gross_weight_kg": tare + net, "tare_weight_kg": tare, "net_weight_kg": net,
            "order_id": order.order_id, "shipment_id": shipment.shipment_id,
        })

    def _load(self, shipment: Shipment) -> None:
        chunk = shipment.chunk
        order = chunk.order
        shipment.wagons = self._wagons(chunk.wagon_type, shipment.wagon_count)
        shipment.total_kg = sum(w["net_weight_kg"] for w in shipment.wagons)
        self.e.emit("WagonsLoaded", self.world.railway_of[chunk.station], {
            "shipment_id": shipment.shipment_id, "order_id": order.order_id, "buyer_id": order.buyer.participant_id,
            "mine_id": order.mine.mine_id, "lot_id": chunk.lot.lot_id, "request_id": chunk.request_id,
            "product": order.product, "station": chunk.station, "destination_station": shipment.destination,
            "wagons": shipment.wagons, "total_net_weight_kg": shipment.total_kg, "assay": chunk.lot.assay,
        })

    def _wagons(self, wagon_type: str, count: int) -> list[dict[str, Any]]:
        limit = self.world.load_limit_kg(wagon_type)
        numbers: set[int] = set()
        wagons: list[dict[str, Any]] = []
        while len(wagons) < count:
            number = self.e.between(self.s.wagon_number_range[wagon_type])
            if number in numbers:
                continue
            numbers.add(number)
            tare = self.e.between(self.s.wagon_tare_kg[wagon_type])
            net = limit - self.e.between(self.s.wagon_net_below_limit_kg)
            wagons.append({
                "wagon_no": f"{number:07d}", "wagon_type": wagon_type, "waybill_no": self.e.ident("WB", 7),
                "gross_weight_kg": tare + net, "tare_weight_kg": tare, "net_weight_kg": net,
            })
        return wagons

    # ---- trains running

    def _depart(self, train: Train) -> None:
        gross = sum(w["gross_weight_kg"] for s in train.shipments for w in s.wagons)
        self.e.emit("TrainDeparted", self.world.railway_of[train.station], {
            "train_id": train.train_id, "train_no": train.train_no, "station": train.station,
            "destination_station": train.destination, "shipment_ids": [s.shipment_id for s in train.shipments],
            "wagon_count": train.wagon_count, "gross_weight_kg": gross,
        })
        km = self.world.distance_km(train.station, train.destination)
        self.e.after(km * 60 * MINUTE_MS // self.e.between(self.s.train_speed_kmh), lambda: self._arrive(train))

    def _arrive(self, train: Train) -> None:
        self.e.emit("TrainArrived", self.world.railway_of[train.destination], {
            "train_id": train.train_id, "train_no": train.train_no, "station": train.destination,
            "origin_station": train.station, "shipment_ids": [s.shipment_id for s in train.shipments],
            "wagon_count": train.wagon_count,
        })
        onward: dict[str, list[Shipment]] = {}
        for shipment in train.shipments:
            if shipment.destination == train.destination:
                self.e.after(self.e.minutes(self.s.unloading_delay_min), partial(self._unload, shipment))
            else:
                onward.setdefault(shipment.destination, []).append(shipment)
        for destination, shipments in onward.items():
            leg = self._train(train.destination, destination, shipments)
            self.e.after(self.e.minutes(self.s.marshalling_dwell_min), partial(self._depart, leg))

    def _unload(self, shipment: Shipment) -> None:
        station = shipment.destination
        with_gross = self.e.chance(self.s.unloaded_gross_tare_rate_bp)
        unloaded = []
        for w in shipment.wagons:
            net = w["net_weight_kg"] * (10_000 - self.e.between(self.s.transit_loss_bp)) // 10_000
            item: dict[str, Any] = {"wagon_no": w["wagon_no"], "net_weight_kg": net}
            if with_gross:
                item |= {"gross_weight_kg": net + w["tare_weight_kg"], "tare_weight_kg": w["tare_weight_kg"]}
            unloaded.append(item)
        self.e.emit("WagonsUnloaded", self.world.railway_of[station], {
            "shipment_id": shipment.shipment_id, "order_id": shipment.chunk.order.order_id, "station": station,
            "wagons": unloaded, "total_net_weight_kg": sum(int(w["net_weight_kg"]) for w in unloaded),
        })
        self.demand.receive(shipment, unloaded, station)
