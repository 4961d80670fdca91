"""The daily cycle that drives mines, buyers and the railway (see ``rail.py`` for the planning clock)."""

from __future__ import annotations

from services.simulator.demand import Demand
from services.simulator.engine import DAY_MS, Engine
from services.simulator.rail import Rail
from services.simulator.scenario import Scenario
from services.simulator.supply import Supply
from services.simulator.world import World

__all__ = ["Traffic"]


class Traffic:
    """Wires the processes together and schedules each simulated day."""

    def __init__(self, engine: Engine, world: World, scenario: Scenario) -> None:
        self.e = engine
        self.supply = Supply(engine, world, scenario)
        self.demand = Demand(engine, world, scenario)
        self.rail = Rail(engine, world, scenario, self.supply, self.demand)

    def start(self) -> None:
        self.supply.bootstrap()
        self.e.at(0, lambda: self._day(0))

    def _day(self, day: int) -> None:
        day_ms = day * DAY_MS
        self.rail.capacity(day_ms)
        self.supply.report_stock(day_ms)
        self.demand.daily(day_ms)
        self.rail.plan(day_ms)
        self.e.at(day_ms + DAY_MS, lambda: self._day(day + 1))
