"""The simulated stream: valid, signed by the right participant, deterministic, realistic."""

from __future__ import annotations

import collections
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from chain_anchor.events import verify_event
from chain_anchor.keys import KeyRing
from services.simulator import SimConfig, genesis, participant_signer, simulate, to_json_bytes
from tests.simulator.conftest import SEED, STREAM_EVENTS


def _name(envelope: dict[str, Any]) -> str:
    return str(envelope["type"]).split(".")[4]


def test_every_event_validates_and_its_signature_verifies(stream: list[dict[str, Any]]) -> None:
    assert len(stream) == STREAM_EVENTS >= 10_000
    doc = genesis(SEED, created=datetime(2025, 3, 1, tzinfo=UTC))
    ring = KeyRing(participant_signer(SEED, p["id"]).public_key_raw for p in doc["participants"])
    for envelope in stream:
        event = schemas.validate(to_json_bytes(envelope))
        verify_event(event.envelope, ring)
        assert event.sigkeyid == participant_signer(SEED, event.participant_id).key_id


def test_publishers_hold_the_role_and_own_what_they_publish_about(stream: list[dict[str, Any]]) -> None:
    members = {p.id: p for p in schemas.refdata().participants}
    for envelope in stream:
        entry = schemas.event_type(envelope["type"])
        publisher = members[envelope["source"].removeprefix("/participants/")]
        assert set(entry.publisher_roles) & set(publisher.roles), envelope["type"]
        owned = entry.owner(envelope)
        if entry.owner_kind == "participant":
            assert owned == publisher.id
        elif entry.owner_kind == "mine":
            assert owned in publisher.mines
        elif entry.owner_kind == "station":
            assert owned in publisher.stations


def test_same_seed_gives_byte_identical_events(stream: list[dict[str, Any]]) -> None:
    again = [to_json_bytes(e) for e in itertools.islice(simulate(SimConfig(seed=SEED)), 3000)]
    assert again == [to_json_bytes(e) for e in stream[:3000]]


def test_other_seed_or_start_changes_the_stream(stream: list[dict[str, Any]]) -> None:
    other = list(itertools.islice(simulate(SimConfig(seed=SEED + 1)), 200))
    assert [e["id"] for e in other] != [e["id"] for e in stream[:200]]
    later = SimConfig(seed=SEED, start=datetime(2026, 1, 1, 16, tzinfo=UTC))
    shifted = list(itertools.islice(simulate(later), 50))
    assert shifted[0]["time"].startswith("2026-01-01T16:")


def test_event_ids_are_unique_and_times_never_go_back(stream: list[dict[str, Any]]) -> None:
    assert len({e["id"] for e in stream}) == len(stream)
    times = [e["time"] for e in stream]
    assert times == sorted(times)


def test_every_event_type_of_the_traffic_occurs(stream: list[dict[str, Any]]) -> None:
    seen = {_name(e) for e in stream}
    assert seen >= {"DemandPosted", "DemandAmended", "DemandWithdrawn", "LotAssayed", "StockReported",
                    "CapacityPublished", "WagonsRequested", "WagonsAllocated", "TruckWeighed", "WagonsLoaded",
                    "TrainDeparted", "TrainArrived", "WagonsUnloaded", "DeliveryConfirmed", "DeliveryDisputed"}


def test_causal_order_of_a_shipment_and_its_order(stream: list[dict[str, Any]]) -> None:
    first: dict[tuple[str, ...], str] = {}
    for e in stream:
        d = e["data"]
        name = _name(e)
        keys = [("order", d["order_id"])] if "order_id" in d else []
        if name == "LotAssayed":
            first.setdefault(("lot", d["lot_id"]), e["time"])
        if name == "DemandPosted":
            first[("order", d["order_id"])] = e["time"]
        elif name in ("WagonsRequested", "WagonsAllocated", "WagonsLoaded", "DeliveryConfirmed"):
            assert all(k in first for k in keys), (name, d["order_id"])
        if name == "WagonsRequested":
            first[("request", d["request_id"])] = e["time"]
        if name == "WagonsAllocated":
            assert ("request", d["request_id"]) in first
        if name == "TruckWeighed":
            assert ("loaded", d["shipment_id"]) not in first  # trucks bring the coal before loading
        if name == "WagonsLoaded":
            assert ("lot", d["lot_id"]) in first
            first[("loaded", d["shipment_id"])] = e["time"]
        if name == "TrainDeparted":
            assert all(("loaded", s) in first for s in d["shipment_ids"])
            first[("departed", d["train_id"])] = e["time"]
        if name == "TrainArrived":
            assert ("departed", d["train_id"]) in first
            for s in d["shipment_ids"]:
                first[("at", s, d["station"])] = e["time"]
        if name == "WagonsUnloaded":
            assert ("at", d["shipment_id"], d["station"]) in first
            first[("unloaded", d["shipment_id"])] = e["time"]
        if name in ("DeliveryConfirmed", "DeliveryDisputed"):
            assert ("unloaded", d["shipment_id"]) in first
            assert ("receipt", d["shipment_id"]) not in first
            first[("receipt", d["shipment_id"])] = e["time"]


def test_shipment_weights_carry_through(stream: list[dict[str, Any]]) -> None:
    loaded = {e["data"]["shipment_id"]: e["data"] for e in stream if _name(e) == "WagonsLoaded"}
    for e in stream:
        d = e["data"]
        if _name(e) == "WagonsUnloaded":
            before = loaded[d["shipment_id"]]
            assert [w["wagon_no"] for w in d["wagons"]] == [w["wagon_no"] for w in before["wagons"]]
            assert 0.99 * before["total_net_weight_kg"] < d["total_net_weight_kg"] <= before["total_net_weight_kg"]
            assert d["station"] == before["destination_station"]
        if _name(e) == "DeliveryConfirmed":
            assert d["waybill_net_weight_kg"] == loaded[d["shipment_id"]]["total_net_weight_kg"]


def test_trains_run_to_yueshan_and_beyond(stream: list[dict[str, Any]]) -> None:
    departed = [e["data"] for e in stream if _name(e) == "TrainDeparted"]
    from_line = [d for d in departed if d["station"] != "YBF"]
    onward = [d for d in departed if d["station"] == "YBF"]
    assert from_line and onward
    assert all(d["destination_station"] == "YBF" for d in from_line)
    assert {d["destination_station"] for d in onward} >= {"JOF", "XXF", "RZK"}
    assert all(d["wagon_count"] <= 70 for d in departed)


def test_daily_volumes_are_realistic(stream: list[dict[str, Any]]) -> None:
    start = datetime.fromisoformat(stream[0]["time"]) + timedelta(days=2)
    window = [e for e in stream if start <= datetime.fromisoformat(e["time"]) < start + timedelta(days=1)]
    loaded_t = sum(e["data"]["total_net_weight_kg"] for e in window if _name(e) == "WagonsLoaded") / 1000
    trains = sum(1 for e in window if _name(e) == "TrainDeparted" and e["data"]["station"] != "YBF")
    assert 200_000 < loaded_t < 340_000
    assert 40 <= trains <= 80


def test_about_five_percent_of_deliveries_are_disputed(stream: list[dict[str, Any]]) -> None:
    counts = collections.Counter(_name(e) for e in stream)
    receipts = counts["DeliveryConfirmed"] + counts["DeliveryDisputed"]
    assert receipts > 300
    assert 0.02 < counts["DeliveryDisputed"] / receipts < 0.09


def test_some_events_carry_quality_and_load_warnings(stream: list[dict[str, Any]]) -> None:
    warned = collections.Counter(w.code for e in stream for w in schemas.validate(e).warnings)
    assert warned["truck-gross-over-limit"] > 0
    assert sum(n for code, n in warned.items() if code.startswith("quality-")) > 0


def test_time_compression_shrinks_event_time() -> None:
    normal = list(itertools.islice(simulate(SimConfig(seed=3)), 3000))
    fast = list(itertools.islice(simulate(SimConfig(seed=3, time_compression=1440)), 3000))

    def span(events: list[dict[str, Any]]) -> float:
        return (datetime.fromisoformat(events[-1]["time"]) - datetime.fromisoformat(events[0]["time"])).total_seconds()

    assert [e["data"] for e in fast] != [] and 1000 < span(normal) / max(span(fast), 1) < 2000
    for e in fast:
        schemas.validate(e)


def test_json_bytes_are_compact_utf8(stream: list[dict[str, Any]]) -> None:
    raw = to_json_bytes(stream[0])
    assert b", " not in raw and b": " not in raw
    truck = next(e for e in stream if _name(e) == "TruckWeighed")
    assert "晋".encode() in to_json_bytes(truck)
