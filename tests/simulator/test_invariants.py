"""Invariants of a simulated week, checked on the dispatcher views folded from it (in memory, no services):
each simulated day carries its own dates; per section and day the trains that ran fit the published capacity
unless the simulator cut that capacity on purpose (and then the board's alerts flag it); the line moves what
the domain says it moves a day; stock is never negative; no shipment arrives heavier than it left or lighter
than the transit loss allows."""

from __future__ import annotations

import datetime
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import schemas
from services.simulator import SimConfig, simulate
from services.simulator.scenario import load_scenario
from services.views.alerts import section_alerts
from services.views.memory import MemoryViews
from services.views.model import CST, business_day, line
from services.views.queries import sections

START = datetime.datetime(2026, 3, 31, 16, tzinfo=datetime.UTC)  # 2026-04-01 00:00 CST
WEEK = [(datetime.date(2026, 4, 1) + datetime.timedelta(days=i)).isoformat() for i in range(8)]
FULL = WEEK[1:]  # day 1 has no trains yet: wagons are requested the day before the plan date
SCENARIO = load_scenario()
# COAL_DOMAIN.md: about 100 Mt a year ≈ 270 kt and ~56 trains (≈ 70 of 5,000 t) a day; the simulated days vary
# by the scenario's ±10 % jitter, allocation shortfalls and whole trains
DAILY_KT = (200, 340)
DAILY_TRAINS = (40, 75)


def _is(e: dict[str, Any], name: str) -> bool:
    return f".{name}." in e["type"]


def _until(events: Iterator[dict[str, Any]], last_day: str) -> Iterator[dict[str, Any]]:
    end = datetime.datetime.fromisoformat(last_day).replace(tzinfo=CST) + datetime.timedelta(days=1)
    return itertools.takewhile(lambda e: datetime.datetime.fromisoformat(e["time"]) < end, events)


def fold_week(scenario: Path | None = None, seed: int = 0) -> tuple[MemoryViews, list[dict[str, Any]]]:
    events = list(_until(simulate(SimConfig(seed=seed, start=START, scenario_path=scenario)), WEEK[-1]))
    views = MemoryViews()
    for h, i in enumerate(range(0, len(events), 250)):
        views.apply_events(h, events[i:i + 250], i)
    return views, events


@pytest.fixture(scope="module")
def week() -> tuple[MemoryViews, list[dict[str, Any]]]:
    return fold_week()


def _sections(views: MemoryViews, day: str) -> list[dict[str, Any]]:
    rows = [r for (station, d), r in views.view("capacity").items() if d == day]
    return sections(rows)


def test_each_simulated_day_carries_its_own_dates(week: tuple[MemoryViews, list[dict[str, Any]]]) -> None:
    _, events = week
    days = {business_day(datetime.datetime.fromisoformat(e["time"])) for e in events}
    assert days == set(WEEK)  # one calendar day per simulated day, none squeezed together, none skipped
    for e in events:
        d = e["data"]
        if "plan_date" in d:
            day = business_day(datetime.datetime.fromisoformat(e["time"]))
            gap = (datetime.date.fromisoformat(d["plan_date"]) - datetime.date.fromisoformat(day)).days
            assert gap in (0, 1), (e["type"], day, d["plan_date"])  # today's capacity, tomorrow's wagons
    published = [e for e in events if _is(e, "CapacityPublished")]
    assert len(published) == len(SCENARIO.capacity_sections) * len(WEEK)  # each section once a day, not 3×


def test_trains_fit_the_capacity_unless_it_was_cut_on_purpose_and_then_the_board_flags_it(
        week: tuple[MemoryViews, list[dict[str, Any]]]) -> None:
    views, _ = week
    floor = {(s.from_station, s.to_station): s.trains[0] for s in SCENARIO.capacity_sections}
    used_somewhere = set()
    for day in FULL:
        secs = _sections(views, day)
        assert {(s["from_station"], s["to_station"]) for s in secs} == set(floor), day
        flagged = {(a["from_station"], a["to_station"]) for a in section_alerts(secs) if a["severity"] == "alert"}
        for s in secs:
            pair = (s["from_station"], s["to_station"])
            if s["used_trains"]:
                used_somewhere.add(pair)
            if s["used_trains"] > s["capacity_trains"]:
                assert s["capacity_trains"] < floor[pair], f"{pair} overbooked on {day} without a cut"
                assert pair in flagged and s["overbooked"] and s["over_trains"] > 0
            else:
                assert pair not in flagged
    assert {("CBF", "YBF"), ("YBF", "XXF")} <= used_somewhere  # 月山→新乡 shows its use too


def test_a_capacity_cut_is_an_overbooking_the_board_flags(tmp_path: Path) -> None:
    scenario = json.loads((Path(__file__).parents[2] / "services/simulator/scenario.json").read_text())
    scenario["capacity_cut_rate_bp"] = 10_000
    scenario["capacity_cut_bp"] = [6000, 6000]
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(scenario))
    views, _ = fold_week(path)
    over = [s for day in FULL for s in _sections(views, day) if s["overbooked"]]
    assert over, "a 60 % capacity cut every day overbooked no section"
    for s in over:
        alert = [a for a in section_alerts([s]) if a["severity"] == "alert"]
        assert alert and alert[0]["over_trains"] == s["used_trains"] - s["capacity_trains"] > 0


def test_the_line_moves_the_domains_daily_volumes(week: tuple[MemoryViews, list[dict[str, Any]]]) -> None:
    views, _ = week
    on_line = {code for code, _ in line().segment_starts}
    for day in FULL:
        rows = [r for (station, d), r in views.view("capacity").items() if d == day and station in on_line]
        kt = sum(r["loaded_kg"] for r in rows) / 1e6
        trains = sum(r["trains_departed"] for r in rows if r["station"] != "YBF")  # onward legs from 月山 apart
        assert DAILY_KT[0] <= kt <= DAILY_KT[1], (day, kt)
        assert DAILY_TRAINS[0] <= trains <= DAILY_TRAINS[1], (day, trains)


def test_stock_is_never_negative(week: tuple[MemoryViews, list[dict[str, Any]]]) -> None:
    views, events = week
    assert all(e["data"]["quantity_kg"] >= 0 for e in events if (_is(e, "StockReported") or _is(e, "LotAssayed")))
    assert all(r["stock_kg"] >= 0 for r in views.view("stock").values())
    level: dict[tuple[str, str], int] = {}
    history = sorted(views.view("stock_day").items(), key=lambda kv: kv[0][2])
    assert history
    for (mine, product, _day), row in history:
        level[(mine, product)] = level.get((mine, product), 0) + row["change_kg"]
        assert level[(mine, product)] >= 0
    # the history ends where the stock is now
    for (mine, product), row in views.view("stock").items():
        assert level.get((mine, product), 0) == row["stock_kg"], (mine, product)


def test_every_shipment_arrives_within_the_transit_loss(week: tuple[MemoryViews, list[dict[str, Any]]]) -> None:
    _, events = week
    loaded = {e["data"]["shipment_id"]: e["data"] for e in events if _is(e, "WagonsLoaded")}
    unloaded = [e["data"] for e in events if _is(e, "WagonsUnloaded")]
    assert len(unloaded) > 50
    worst_bp = SCENARIO.transit_loss_bp[1]
    for u in unloaded:
        sent = loaded[u["shipment_id"]]
        by_wagon = {w["wagon_no"]: w["net_weight_kg"] for w in sent["wagons"]}
        for w in u["wagons"]:
            assert by_wagon[w["wagon_no"]] * (10_000 - worst_bp) // 10_000 <= w["net_weight_kg"] \
                <= by_wagon[w["wagon_no"]]
        assert u["total_net_weight_kg"] <= sent["total_net_weight_kg"]


def test_wagon_requests_stay_under_the_per_request_cap_when_demand_is_concentrated(tmp_path: Path) -> None:
    """Found by `bench seal-throughput` at 1 M events: a day whose target fell on few plannable orders put
    1,101 wagons on one WagonsRequested, above the catalogue's maximum (1,000), and the validators rejected
    it. Three times the line's daily volume with the same orders forces that concentration every day."""
    scenario = json.loads((Path(__file__).parents[2] / "services/simulator/scenario.json").read_text())
    scenario["daily_rail_net_kg"] *= 3
    path = tmp_path / "heavy.json"
    path.write_text(json.dumps(scenario))
    _, events = fold_week(path)
    wagons = [e for e in events if _is(e, "WagonsRequested") or _is(e, "WagonsAllocated")]
    assert wagons
    cap = SCENARIO.max_wagons_per_request
    assert max(e["data"]["wagons_requested"] for e in wagons) == cap, "the cap never bit: the test shows nothing"
    for e in wagons:
        schemas.validate(e)  # raises SchemaError naming the field
