"""Reference data of the 太焦线: stations, mines, products, coal classes, wagons, limits, participants.

The facts (and the ⚠ unconfirmed ones, flagged as such) live in ``schemas/data/*.json``; this module only
decodes them into typed, immutable records. The enums of the common schema are generated from the same
files (``python -m schemas.codegen``), so a code that is valid here is valid in events and vice versa.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.resources import read_bytes
from schemas.units import hundredths

__all__ = [
    "CoalClassInfo",
    "Limits",
    "Mine",
    "ParticipantInfo",
    "Product",
    "RefData",
    "Station",
    "WagonTypeInfo",
    "refdata",
]


class _Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Station(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    code: str
    name_zh: str
    name_en: str
    line: str
    route_km: int | None
    bureau: str
    kinds: tuple[str, ...]
    code_confirmed: bool
    route_km_confirmed: bool
    note: str


class Mine(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    mine_id: str
    name_zh: str
    name_en: str
    area: str
    railhead_station: str
    has_siding: bool
    capacity_kt_per_year: int
    products: tuple[str, ...]


class Product(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    code: str
    name_zh: str
    name_en: str
    coal_class: str
    category: str
    size_min_mm: int | None
    size_max_mm: int | None
    note: str


class CoalClassInfo(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    code: str
    name_zh: str
    name_en: str
    lignite: bool


class WagonTypeInfo(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    type: str
    name_zh: str
    name_en: str
    load_limit_kg: int
    tare_kg: int
    tare_confirmed: bool
    axle_load_kg: int
    volume_m3: int
    max_speed_kmh: int


class ParticipantInfo(_Record, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    name: str
    name_en: str
    roles: tuple[str, ...]
    mines: tuple[str, ...]
    stations: tuple[str, ...]


class _Stations(msgspec.Struct):
    line: dict[str, Any]
    stations: tuple[Station, ...]


class _Mines(msgspec.Struct):
    mines: tuple[Mine, ...]
    quality_profiles: dict[str, dict[str, tuple[Any, Any]]]
    quality_outliers: dict[str, Any]


class _Products(msgspec.Struct):
    products: tuple[Product, ...]


class _Classes(msgspec.Struct):
    classes: tuple[CoalClassInfo, ...]


class _Wagons(msgspec.Struct):
    wagons: tuple[WagonTypeInfo, ...]


class _Participants(msgspec.Struct):
    participants: tuple[ParticipantInfo, ...]


@dataclass(frozen=True, slots=True)
class Limits:
    """The warning limits of ``limits.json``; percentages in hundredths of a percent (4000 = 40.00 %)."""

    non_lignite_ad_max: int
    non_lignite_st_d_max: int
    lignite_ad_max: int
    lignite_st_d_max: int
    long_haul_km_over: int
    long_haul_qnet_ar_min_kj_per_kg: int
    long_haul_ad_max: int
    long_haul_st_d_max: int
    kj_per_kcal_x10000: int
    kcal_kj_tolerance_kj_per_kg: int
    truck_max_gross_kg_by_axles: Mapping[int, int]
    source: str


def _limits(doc: Mapping[str, Any]) -> Limits:
    q = doc["commercial_coal_quality"]
    long_haul = q["long_haul"]
    return Limits(
        non_lignite_ad_max=hundredths(q["non_lignite"]["ad_max_pct"]),
        non_lignite_st_d_max=hundredths(q["non_lignite"]["st_d_max_pct"]),
        lignite_ad_max=hundredths(q["lignite"]["ad_max_pct"]),
        lignite_st_d_max=hundredths(q["lignite"]["st_d_max_pct"]),
        long_haul_km_over=int(long_haul["distance_km_over"]),
        long_haul_qnet_ar_min_kj_per_kg=int(long_haul["qnet_ar_min_kj_per_kg"]),
        long_haul_ad_max=hundredths(long_haul["ad_max_pct"]),
        long_haul_st_d_max=hundredths(long_haul["st_d_max_pct"]),
        kj_per_kcal_x10000=int(doc["calorific"]["kj_per_kcal_x10000"]),
        kcal_kj_tolerance_kj_per_kg=int(doc["calorific"]["kcal_kj_tolerance_kj_per_kg"]),
        truck_max_gross_kg_by_axles={
            int(k): int(v) for k, v in doc["truck_gross_weight"]["max_gross_kg_by_axles"].items()
        },
        source=str(q["source"]),
    )


@dataclass(frozen=True)
class RefData:
    """Everything in ``schemas/data/``, decoded, with lookups by code."""

    line: Mapping[str, Any]
    stations: tuple[Station, ...]
    mines: tuple[Mine, ...]
    products: tuple[Product, ...]
    coal_classes: tuple[CoalClassInfo, ...]
    wagons: tuple[WagonTypeInfo, ...]
    participants: tuple[ParticipantInfo, ...]
    limits: Limits
    quality_profiles: Mapping[str, Mapping[str, tuple[Any, Any]]]
    quality_outliers: Mapping[str, Any]

    @functools.cached_property
    def station_by_code(self) -> Mapping[str, Station]:
        return {s.code: s for s in self.stations}

    @functools.cached_property
    def mine_by_id(self) -> Mapping[str, Mine]:
        return {m.mine_id: m for m in self.mines}

    @functools.cached_property
    def product_by_code(self) -> Mapping[str, Product]:
        return {p.code: p for p in self.products}

    @functools.cached_property
    def coal_class_by_code(self) -> Mapping[str, CoalClassInfo]:
        return {c.code: c for c in self.coal_classes}

    @functools.cached_property
    def wagon_by_type(self) -> Mapping[str, WagonTypeInfo]:
        return {w.type: w for w in self.wagons}

    @functools.cached_property
    def participant_by_id(self) -> Mapping[str, ParticipantInfo]:
        return {p.id: p for p in self.participants}

    def is_lignite(self, product_code: str) -> bool:
        """Whether the product's coal class is lignite (selects the lignite limits)."""
        product = self.product_by_code.get(product_code)
        return product is not None and self.coal_class_by_code[product.coal_class].lignite

    def route_distance_km(self, a: str, b: str) -> int | None:
        """Approximate rail distance between two stations along the route, or None when unknown."""
        sa, sb = self.station_by_code.get(a), self.station_by_code.get(b)
        if sa is None or sb is None or sa.route_km is None or sb.route_km is None:
            return None
        return abs(sa.route_km - sb.route_km)


@functools.cache
def refdata() -> RefData:
    """The reference data of this package (decoded once, immutable)."""
    stations = msgspec.json.decode(read_bytes("data", "stations.json"), type=_Stations)
    mines = msgspec.json.decode(read_bytes("data", "mines.json"), type=_Mines)
    return RefData(
        line=stations.line,
        stations=stations.stations,
        mines=mines.mines,
        products=msgspec.json.decode(read_bytes("data", "products.json"), type=_Products).products,
        coal_classes=msgspec.json.decode(read_bytes("data", "coal_classes.json"), type=_Classes).classes,
        wagons=msgspec.json.decode(read_bytes("data", "wagons.json"), type=_Wagons).wagons,
        participants=msgspec.json.decode(
            read_bytes("data", "participants.json"), type=_Participants
        ).participants,
        limits=_limits(msgspec.json.decode(read_bytes("data", "limits.json"))),
        quality_profiles=mines.quality_profiles,
        quality_outliers=mines.quality_outliers,
    )
