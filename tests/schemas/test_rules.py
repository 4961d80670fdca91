"""Domain rules and warnings at their boundaries (the examples cover each rule once)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import schemas
from schemas.units import kcal_to_kj
from tests.schemas.examples_data import example_bytes


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(example_bytes(f"valid/{name}.json"))
    return doc


def codes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(w.path, w.code) for w in schemas.validate(doc).warnings}


def rules(doc: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate(doc)
    return [(e.path, e.rule) for e in info.value.errors]


def test_wagon_load_limit_is_inclusive() -> None:
    doc = load("transport.WagonsLoaded")
    wagons = doc["data"]["wagons"]
    w = wagons[0]
    delta = 80_000 - w["net_weight_kg"]
    w["net_weight_kg"] += delta
    w["gross_weight_kg"] += delta
    doc["data"]["total_net_weight_kg"] = sum(x["net_weight_kg"] for x in wagons)
    schemas.validate(copy.deepcopy(doc))
    w["net_weight_kg"] += 1
    w["gross_weight_kg"] += 1
    doc["data"]["total_net_weight_kg"] += 1
    assert rules(doc) == [("/data/wagons/0/net_weight_kg", "wagon-load-limit")]


@pytest.mark.parametrize(("axles", "gross", "warned"), [(6, 49_000, False), (6, 49_001, True), (5, 43_001, True),
                                                        (2, 18_000, False), (3, 25_500, True)])
def test_truck_gross_limit_by_axles(axles: int, gross: int, warned: bool) -> None:
    doc = load("transport.TruckWeighed")
    d = doc["data"]
    d["axles"], d["gross_weight_kg"], d["tare_weight_kg"] = axles, gross, 12_000
    d["net_weight_kg"] = gross - 12_000
    assert (("/data/gross_weight_kg", "truck-gross-over-limit") in codes(doc)) == warned


def test_lignite_gets_the_lignite_limits() -> None:
    doc = load("inventory.StockReported")
    doc["data"]["assay"]["st_d_pct"] = "1.60"
    assert codes(copy.deepcopy(doc)) == set()
    doc["data"]["product"] = "HM-DL"
    assert codes(doc) == {("/data/assay/st_d_pct", "quality-sulphur-limit")}


def test_long_haul_limits_apply_only_beyond_600_km() -> None:
    doc = load("transport.WagonsLoaded.long-haul")
    expected = {("/data/assay/qnet_ar_kcal_per_kg", "quality-long-haul-calorific"),
                ("/data/assay/ad_pct", "quality-long-haul-ash"), ("/data/assay/st_d_pct", "quality-long-haul-sulphur")}
    assert codes(copy.deepcopy(doc)) == expected
    doc["data"]["destination_station"] = "JOF"  # 晋城 → 焦作, about 100 km
    assert codes(doc) == set()


def test_long_haul_calorific_threshold_uses_kj_when_given() -> None:
    doc = load("transport.WagonsLoaded")
    doc["data"]["assay"] |= {"qnet_ar_kcal_per_kg": 4305, "qnet_ar_kj_per_kg": kcal_to_kj(4305)}
    assert kcal_to_kj(4305) >= 18_000
    assert codes(copy.deepcopy(doc)) == set()
    doc["data"]["assay"] |= {"qnet_ar_kcal_per_kg": 4304, "qnet_ar_kj_per_kg": kcal_to_kj(4304)}
    assert codes(doc) == {("/data/assay/qnet_ar_kcal_per_kg", "quality-long-haul-calorific")}


def test_calorific_consistency_tolerance() -> None:
    doc = load("inventory.StockReported")
    kj = kcal_to_kj(doc["data"]["assay"]["qnet_ar_kcal_per_kg"])
    doc["data"]["assay"]["qnet_ar_kj_per_kg"] = kj + 20
    schemas.validate(copy.deepcopy(doc))
    doc["data"]["assay"]["qnet_ar_kj_per_kg"] = kj - 21
    assert rules(doc) == [("/data/assay/qnet_ar_kj_per_kg", "calorific-consistency")]


def test_amended_window_is_checked_only_when_both_ends_change() -> None:
    doc = load("demand.DemandAmended")
    doc["data"]["changes"] = {"delivery_end_date": "2025-01-01"}
    schemas.validate(copy.deepcopy(doc))
    doc["data"]["changes"]["delivery_start_date"] = "2025-01-02"
    assert rules(doc) == [("/data/changes/delivery_end_date", "window-order")]


def test_equal_window_ends_and_range_bounds_are_fine() -> None:
    doc = load("demand.DemandPosted")
    doc["data"]["delivery_end_date"] = doc["data"]["delivery_start_date"]
    doc["data"]["quality"]["qnet_ar_kcal_per_kg"] = {"min": 6000, "max": 6000}
    schemas.validate(copy.deepcopy(doc))
    doc["data"]["quality"]["qnet_ar_kcal_per_kg"] = {"min": 6001, "max": 6000}
    assert rules(doc) == [("/data/quality/qnet_ar_kcal_per_kg/max", "range-order")]


def test_compromised_since_compares_instants_across_precisions() -> None:
    doc = load("registry.KeyRevoked")
    doc["time"] = "2025-06-01T00:05:00.500Z"
    doc["data"]["compromised_since"] = "2025-06-01T00:05:00.499999Z"
    schemas.validate(copy.deepcopy(doc))
    doc["data"]["compromised_since"] = "2025-06-01T00:05:00.500001Z"
    assert rules(doc) == [("/data/compromised_since", "time-order")]


def test_unloaded_wagons_net_gross_tare() -> None:
    doc = load("transport.WagonsUnloaded")
    doc["data"]["wagons"][0]["net_weight_kg"] += 5
    doc["data"]["total_net_weight_kg"] += 5
    assert rules(doc) == [("/data/wagons/0/net_weight_kg", "net-equals-gross-minus-tare")]


def test_registered_station_holder_needs_railway_or_carrier() -> None:
    doc = load("registry.ParticipantRegistered")
    doc["data"]["stations"] = ["CBF"]
    assert rules(doc) == [("/data/stations", "holdings-need-role")]
    doc["data"]["roles"] = ["mine", "carrier"]
    schemas.validate(doc)


def test_rule_table_is_complete_and_documented() -> None:
    names = {e.name for e in schemas.catalogue()}
    for rule in schemas.RULES:
        assert rule.applies_to == ("all",) or set(rule.applies_to) <= names, rule.code
        assert rule.description
    assert len({r.code for r in schemas.RULES}) == len(schemas.RULES)
