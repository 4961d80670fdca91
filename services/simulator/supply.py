"""Mines: lots formed and assayed (LotAssayed), stock reported daily (StockReported)."""

from __future__ import annotations

from functools import partial
from typing import Any

from schemas.units import format_hundredths, hundredths, kcal_to_kj
from services.simulator.engine import HOUR_MS, MINUTE_MS, Engine
from services.simulator.scenario import Scenario
from services.simulator.state import Lot
from services.simulator.world import World

__all__ = ["Supply"]


class Supply:
    """The lots of every mine and product; reserves wagons' worth of coal from them."""

    def __init__(self, engine: Engine, world: World, scenario: Scenario) -> None:
        self.e = engine
        self.world = world
        self.scenario = scenario
        self.current: dict[tuple[str, str], Lot] = {}
        self.lots: list[Lot] = []

    def bootstrap(self) -> None:
        """At the start: one assayed lot per mine and product."""
        i = 0
        for mine in self.world.ref.mines:
            for product in mine.products:
                self.e.at(10 * MINUTE_MS + i * 2 * MINUTE_MS, partial(self._open, mine.mine_id, product))
                i += 1

    def report_stock(self, day_ms: int) -> None:
        """Schedule the day's stock reports (06:00 on): every lot with coal left, and once more (0 kg) each
        lot emptied since the last report, so a view's stock figure never goes stale."""
        reported = [lot for lot in self.lots if lot.remaining_kg > 0 or not lot.reported_empty]
        self.lots = [lot for lot in self.lots if lot.remaining_kg > 0]
        for i, lot in enumerate(reported):
            self.e.at(day_ms + 6 * HOUR_MS + i * MINUTE_MS, partial(self._stock, lot))

    def reserve(self, mine_id: str, product: str, wagons: int, kg_per_wagon: int) -> list[tuple[Lot, int]]:
        """Draw ``wagons`` wagons of coal from the mine's lots (one lot per part); open lots as needed."""
        parts = []
        while wagons > 0:
            lot = self.current.get((mine_id, product))
            if lot is None or lot.remaining_kg < kg_per_wagon:
                if lot is not None:
                    lot.remaining_kg = 0  # less than a wagon left: blended into the next lot
                lot = self._open(mine_id, product)
            take = min(wagons, lot.remaining_kg // kg_per_wagon)
            lot.remaining_kg -= take * kg_per_wagon
            parts.append((lot, take))
            wagons -= take
        return parts

    def _open(self, mine_id: str, product: str) -> Lot:
        mine = self.world.ref.mine_by_id[mine_id]
        coal_class = self.world.ref.product_by_code[product].coal_class
        size = self.e.between(self.scenario.lot_size_kg)
        lot = Lot(self.e.ident("LOT", 5), mine, product, coal_class, size, size, self._assay(coal_class))
        self.current[(mine_id, product)] = lot
        self.lots.append(lot)
        self.e.emit("LotAssayed", self.world.mine_owner[mine_id], {
            "mine_id": mine_id, "lot_id": lot.lot_id, "product": product, "coal_class": coal_class,
            "quantity_kg": size, "station": mine.railhead_station, "assay": lot.assay,
        })
        return lot

    def _stock(self, lot: Lot) -> None:
        if lot.remaining_kg <= 0:
            if lot.reported_empty:
                return
            lot.reported_empty = True
        self.e.emit("StockReported", self.world.mine_owner[lot.mine.mine_id], {
            "mine_id": lot.mine.mine_id, "lot_id": lot.lot_id, "product": lot.product,
            "quantity_kg": lot.remaining_kg, "station": lot.mine.railhead_station,
            "stockpile_id": f"{lot.mine.railhead_station}-{lot.lot_id[-3:]}", "assay": lot.assay,
        })

    def _assay(self, coal_class: str) -> dict[str, Any]:
        profile = self.world.ref.quality_profiles[coal_class]

        def pct(key: str) -> int:
            lo, hi = profile[key]
            return self.e.between((hundredths(str(lo)), hundredths(str(hi))))

        mt, ad, vdaf, st = pct("mt_pct"), pct("ad_pct"), pct("vdaf_pct"), pct("st_d_pct")
        kcal = self.e.between((int(profile["qnet_ar_kcal_per_kg"][0]), int(profile["qnet_ar_kcal_per_kg"][1])))
        if self.e.chance(self.scenario.quality_outlier_rate_bp):
            ad, st, kcal = self._outlier(ad, st, kcal)
        assay: dict[str, Any] = {
            "assay_no": self.e.ident("HY", 5), "assayed_on": self.e.date_text(self.e.now_ms),
            "mt_pct": format_hundredths(mt), "mad_pct": format_hundredths(self.e.between((80, min(250, mt)))),
            "ad_pct": format_hundredths(ad), "vdaf_pct": format_hundredths(vdaf), "st_d_pct": format_hundredths(st),
            "qnet_ar_kj_per_kg": kcal_to_kj(kcal), "qnet_ar_kcal_per_kg": kcal,
        }
        for key in ("g_index", "hgi"):
            if key in profile:
                assay[key] = self.e.between((int(profile[key][0]), int(profile[key][1])))
        return assay

    def _outlier(self, ad: int, st: int, kcal: int) -> tuple[int, int, int]:
        outliers = self.world.ref.quality_outliers
        if self.e.chance(5000):
            lo, hi = outliers["high_sulphur_st_d_pct"]
            return ad, self.e.between((hundredths(lo), hundredths(hi))), kcal
        lo, hi = outliers["high_ash_ad_pct"]
        high = self.e.between((hundredths(lo), hundredths(hi)))
        return high, st, max(3000, kcal - (high - ad) * 80 // 100)
