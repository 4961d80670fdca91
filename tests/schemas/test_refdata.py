"""Reference data: consistent with itself, with the schemas and with COAL_DOMAIN.md's confirmed facts."""

from __future__ import annotations

import schemas
from schemas.units import format_hundredths, hundredths, kcal_to_kj

REF = schemas.refdata()
CONFIRMED_CODES = {"TYV": "太原", "YCV": "榆次", "QVV": "沁县", "CBF": "长治北", "CZF": "长治", "GPF": "高平",
                   "JCF": "晋城", "YBF": "月山", "JOF": "焦作"}


def test_confirmed_telegraph_codes_are_marked_confirmed() -> None:
    for s in REF.stations:
        assert s.code_confirmed == (s.code in CONFIRMED_CODES), s.code
        if s.code in CONFIRMED_CODES:
            assert s.name_zh == CONFIRMED_CODES[s.code]


def test_line_order_north_to_south() -> None:
    on_line = [s for s in REF.stations if s.line == "太焦线"]
    assert on_line[0].name_zh == "修文" and on_line[-1].name_zh == "月山"
    kms = [s.route_km for s in on_line]
    assert kms == sorted(kms)  # type: ignore[type-var]
    names = [s.name_zh for s in on_line]
    assert names.index("聂村") < names.index("沁县") < names.index("长治北") < names.index("长治") < names.index(
        "高平") < names.index("晋城") < names.index("月山")
    assert names.index("夏店") + 1 == names.index("大平")


def test_every_station_has_exactly_one_railway_owner() -> None:
    railways = [p for p in REF.participants if "railway" in p.roles]
    for s in REF.stations:
        owners = [p.id for p in railways if s.code in p.stations]
        assert len(owners) == 1, (s.code, owners)


def test_references_resolve() -> None:
    codes = set(REF.station_by_code)
    for m in REF.mines:
        assert m.railhead_station in codes and set(m.products) <= set(REF.product_by_code)
    for p in REF.products:
        assert p.coal_class in REF.coal_class_by_code
    for member in REF.participants:
        assert set(member.mines) <= set(REF.mine_by_id) and set(member.stations) <= codes
        assert set(member.roles) <= set(schemas.ROLES)
    owned = [m for p in REF.participants for m in p.mines]
    assert sorted(owned) == sorted(REF.mine_by_id)


def test_common_schema_enums_match_the_data() -> None:
    defs = schemas.common_schema()["$defs"]
    assert defs["StationCode"]["enum"] == [s.code for s in REF.stations]
    assert defs["MineId"]["enum"] == [m.mine_id for m in REF.mines]
    assert defs["ProductCode"]["enum"] == [p.code for p in REF.products]
    assert defs["CoalClass"]["enum"] == [c.code for c in REF.coal_classes]
    assert defs["WagonType"]["enum"] == [w.type for w in REF.wagons]


def test_wagon_and_quality_limits_from_the_domain() -> None:
    assert REF.wagon_by_type["C70"].load_limit_kg == 70_000 and REF.wagon_by_type["C80"].load_limit_kg == 80_000
    lim = REF.limits
    assert (lim.non_lignite_ad_max, lim.non_lignite_st_d_max) == (4000, 300)
    assert (lim.lignite_ad_max, lim.lignite_st_d_max) == (3000, 150)
    assert (lim.long_haul_km_over, lim.long_haul_qnet_ar_min_kj_per_kg) == (600, 18000)
    assert (lim.long_haul_ad_max, lim.long_haul_st_d_max) == (3000, 200)
    assert REF.is_lignite("HM-DL") and not REF.is_lignite("WY-ZK")


def test_route_distances() -> None:
    assert REF.route_distance_km("CBF", "YBF") == REF.route_distance_km("YBF", "CBF") == 204
    assert (REF.route_distance_km("JCF", "RZK") or 0) > 600
    assert (REF.route_distance_km("JCF", "JOF") or 10**6) < 600
    assert REF.route_distance_km("TYV", "CBF") is None


def test_units() -> None:
    assert hundredths("12.35") == 1235 and hundredths("0.05") == 5 and hundredths("100.00") == 10000
    assert format_hundredths(1235) == "12.35" and format_hundredths(5) == "0.05"
    assert kcal_to_kj(5500) == 22999 and kcal_to_kj(1) == 4
