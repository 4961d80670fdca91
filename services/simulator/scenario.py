"""The simulator's behaviour knobs (``scenario.json``): volumes, delays, rates. Domain facts are not here."""

from __future__ import annotations

from pathlib import Path

import msgspec

__all__ = ["BuyerProfile", "CapacitySection", "Scenario", "TruckProfile", "load_scenario"]

DEFAULT_PATH = Path(__file__).resolve().parent / "scenario.json"

IntRange = tuple[int, int]


class CapacitySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    from_station: str
    to_station: str
    trains: IntRange
    wagons_per_train: int


class TruckProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    axles: dict[str, int]
    tare_kg: IntRange
    overweight_rate_bp: int
    overweight_kg: IntRange
    plate_letters: dict[str, str]
    sites: dict[str, str]
    lead_time_min: IntRange


class BuyerProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    participant_id: str
    destination_station: str
    weight: int
    open_orders: int
    order_kt: IntRange
    window_days: IntRange
    max_price_cny_per_t: IntRange
    products: dict[str, int]
    signs_receipts: bool = True
    """False: the simulator never confirms or disputes this buyer's deliveries — a person does, in /receipts."""


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={"comment": "$comment"}):
    comment: str
    daily_rail_net_kg: int
    daily_volume_jitter_bp: int
    station_wagon_type: dict[str, str]
    train_max_wagons: dict[str, int]
    wagon_net_below_limit_kg: IntRange
    wagon_tare_kg: dict[str, IntRange]
    wagon_number_range: dict[str, IntRange]
    min_wagons_per_request: int
    max_wagons_per_request: int
    """At most this many wagons on one WagonsRequested (≈ ten trains: what one railhead loads in a day; the
    catalogue's maximum is 1,000). What the day's target cannot place under it stays unplanned."""
    allocation_shortfall_rate_bp: int
    allocation_shortfall_bp: IntRange
    train_speed_kmh: IntRange
    marshalling_dwell_min: IntRange
    unloading_delay_min: IntRange
    receipt_delay_min: IntRange
    transit_loss_bp: IntRange
    unloaded_gross_tare_rate_bp: int
    dispute_rate_bp: int
    dispute_reasons: dict[str, int]
    dispute_shortfall_bp: IntRange
    buyer_assay_rate_bp: int
    lot_size_kg: IntRange
    quality_outlier_rate_bp: int
    capacity_sections: tuple[CapacitySection, ...]
    order_amend_rate_bp: int
    order_cancel_rate_bp: int
    truck: TruckProfile
    buyers: tuple[BuyerProfile, ...]
    capacity_cut_rate_bp: int = 0
    """Share of section-days whose published capacity is cut (天窗 maintenance) below the trains already planned:
    an overbooking injected on purpose, which the dispatch board must flag."""
    capacity_cut_bp: IntRange = (3000, 5000)


def load_scenario(path: Path | None = None) -> Scenario:
    """Decode and type-check a scenario file (default: the bundled ``scenario.json``)."""
    return msgspec.json.decode((path or DEFAULT_PATH).read_bytes(), type=Scenario)
