"""Warnings for lots that break the 2014 商品煤质量管理暂行办法 (commercial coal quality) limits.

The limits live in ``schemas/data/limits.json``. A lignite product (coal class HM) gets the lignite limits;
an unknown product (a buyer's assay names none) gets the non-lignite ones. The long-haul limits apply
only where one event carries both the assay and the route (WagonsLoaded with its quality certificate),
using the approximate route distances of ``schemas/data/stations.json``.
"""

from __future__ import annotations

from typing import Protocol

from schemas import models as m
from schemas.refdata import RefData
from schemas.units import format_hundredths, hundredths, kcal_to_kj

__all__ = ["QualityCheck"]


class _Sink(Protocol):
    def warn(self, path: str, code: str, message: str) -> None: ...


class QualityCheck:
    """Compare one assay with the limits; report through ``sink.warn``."""

    def __init__(self, ref: RefData) -> None:
        self._ref = ref
        self._limits = ref.limits
        self._source = ref.limits.source

    def check(self, a: m.Assay, at: str, product: str, route: tuple[str, str] | None, sink: _Sink) -> None:
        lim = self._limits
        lignite = self._ref.is_lignite(product)
        kind = "lignite" if lignite else "non-lignite"
        ad, st = hundredths(a.ad_pct), hundredths(a.st_d_pct)
        ad_max = lim.lignite_ad_max if lignite else lim.non_lignite_ad_max
        st_max = lim.lignite_st_d_max if lignite else lim.non_lignite_st_d_max
        if ad > ad_max:
            sink.warn(f"{at}/ad_pct", "quality-ash-limit",
                      f"Ad {a.ad_pct} % exceeds the {format_hundredths(ad_max)} % limit for {kind} "
                      f"commercial coal ({self._source})")
        if st > st_max:
            sink.warn(f"{at}/st_d_pct", "quality-sulphur-limit",
                      f"St,d {a.st_d_pct} % exceeds the {format_hundredths(st_max)} % limit for {kind} "
                      f"commercial coal ({self._source})")
        if route is None or lignite:
            return
        km = self._ref.route_distance_km(*route)
        if km is None or km <= lim.long_haul_km_over:
            return
        self._long_haul(a, at, f"{route[0]} → {route[1]} is about {km} km", ad, st, sink)

    def _long_haul(self, a: m.Assay, at: str, trip: str, ad: int, st: int, sink: _Sink) -> None:
        lim = self._limits
        over = f"for coal shipped over {lim.long_haul_km_over} km ({trip})"
        kj = a.qnet_ar_kj_per_kg if isinstance(a.qnet_ar_kj_per_kg, int) else kcal_to_kj(a.qnet_ar_kcal_per_kg)
        if kj < lim.long_haul_qnet_ar_min_kj_per_kg:
            sink.warn(f"{at}/qnet_ar_kcal_per_kg", "quality-long-haul-calorific",
                      f"Qnet,ar {kj} kJ/kg is below the {lim.long_haul_qnet_ar_min_kj_per_kg} kJ/kg minimum {over}")
        if ad > lim.long_haul_ad_max:
            sink.warn(f"{at}/ad_pct", "quality-long-haul-ash",
                      f"Ad {a.ad_pct} % exceeds the {format_hundredths(lim.long_haul_ad_max)} % limit {over}")
        if st > lim.long_haul_st_d_max:
            sink.warn(f"{at}/st_d_pct", "quality-long-haul-sulphur",
                      f"St,d {a.st_d_pct} % exceeds the {format_hundredths(lim.long_haul_st_d_max)} % limit {over}")
