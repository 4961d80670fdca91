"""The fold on its own (no broker, no database): hand-computed figures, independence from how the events
are cut into blocks, idempotence, and the line geometry behind section use."""

from __future__ import annotations

import random
from typing import Any

from services.views.memory import MemoryViews
from services.views.model import business_day, days, line, new_row
from services.views.rows import derive
from tests.views import events as E
from tests.views import scenario
from tests.views.events import event


def fold_in_blocks(envelopes: list[dict[str, Any]], cuts: list[int]) -> MemoryViews:
    views = MemoryViews()
    start = 0
    for height, end in enumerate([*cuts, len(envelopes)]):
        views.apply_events(height, envelopes[start:end], start)
        start = end
    return views


def as_views(views: MemoryViews) -> dict[str, dict[tuple[str, ...], dict[str, Any]]]:
    out: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {}
    for (view, key), row in views.rows.items():
        out.setdefault(view, {})[key] = row
    return out


def without_heights(views: MemoryViews) -> dict[Any, Any]:
    return {ref: {k: v for k, v in row.items() if k != "height"} for ref, row in views.rows.items()}


def non_empty(views: MemoryViews) -> dict[Any, Any]:
    """Rows with some figure or attribute (a row once touched stays, at zero, when its figures cancel out)."""
    out = {}
    for ref, row in without_heights(views).items():
        fresh = new_row(ref)
        derive(ref[0], fresh)
        if row != fresh:
            out[ref] = row
    return out


def test_a_known_day_gives_the_hand_computed_figures() -> None:
    views = fold_in_blocks(scenario.events(), [5, 9])
    assert views.height == 2
    scenario.check(as_views(views))


def test_every_event_is_a_view_event() -> None:
    views = MemoryViews()
    events = scenario.events()
    views.apply_events(0, events, 0)
    rows = views.rows
    assert rows and views.height == 0
    from services.views.fold import Fold, needs, parse

    parsed, skipped = parse(events, 0)
    assert skipped == 0 and len(parsed) == len(events)
    delta = Fold(0, {r: None for r in needs(parsed)}, views.line).apply(parsed)
    assert delta.events_applied == len(events) and delta.events_skipped == 0
    assert delta.latest_day == "2026-03-10"


def test_the_figures_do_not_depend_on_how_events_are_cut_into_blocks() -> None:
    events = scenario.events()
    one_block = non_empty(fold_in_blocks(events, []))
    rng = random.Random(6)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(events)), rng.randint(1, len(events) - 1)))
        assert non_empty(fold_in_blocks(events, cuts)) == one_block
    assert non_empty(fold_in_blocks(events, list(range(1, len(events))))) == one_block


def test_a_redelivered_block_changes_nothing_and_a_gap_is_refused() -> None:
    from services.blockmsg import BlockMessage

    events = scenario.events()
    views = fold_in_blocks(events, [8])
    before = {ref: dict(row) for ref, row in views.rows.items()}
    again = BlockMessage("", {"height": 1, "first_leaf_index": 8}, [], events[8:])
    assert views.apply(again) == {}
    assert views.rows == before
    try:
        views.apply(BlockMessage("", {"height": 3, "first_leaf_index": 99}, [], []))
    except ValueError as e:
        assert "gap" in str(e)
    else:
        raise AssertionError("a gap must be refused")


def test_rows_carry_the_height_that_last_changed_them() -> None:
    views = fold_in_blocks(scenario.events(), [5, 9])
    assert views.rows[("demand", ("O2",))]["height"] == 2  # posted in block 0, withdrawn in block 2 (event 11)
    assert views.rows[("lots", ("L2",))]["height"] == 0
    assert views.rows[("disputes", ("S2",))]["height"] == 2
    assert views.rows[("capacity", ("CBF", "2026-03-10"))]["height"] == 1


def test_a_corrected_event_replaces_its_figures_instead_of_adding() -> None:
    events = scenario.events()
    views = fold_in_blocks(events, [])
    # the same request re-sent with 25 wagons, and the allocation corrected to 20
    from tests.views import events as E

    views.apply_events(1, [E.wagons_requested("R1", "JCF", "2026-03-10", "O1", "jc-sihe", "WY-MM", "JOF", 25,
                                              "2026-03-09T13:00:00Z"),
                           E.wagons_allocated("R1", "JCF", "2026-03-10", "O1", 25, 20, "2026-03-09T14:00:00Z")],
                       len(events))
    row = views.rows[("capacity", ("JCF", "2026-03-10"))]
    assert (row["wagons_requested"], row["wagons_allocated"]) == (25, 20)
    assert views.rows[("gaps", ("JOF", "WY-MM", "2026-03-10"))]["capacity_kg"] == 20 * 80_000


def test_events_outside_the_catalogue_are_skipped_not_fatal() -> None:
    views = MemoryViews()
    probe = {"specversion": "1.0", "id": "00000000-0000-4000-8000-000000000001", "source": "/participants/x",
             "type": "cn.taijiao.coal.test.Probed.v1", "subject": "p", "time": "2026-03-10T00:00:00Z", "data": {}}
    changed = views.apply_events(0, [probe, event("TruckWeighed", {
        "ticket_no": "T", "station": "GPF", "direction": "outbound", "plate_no": "晋E12345", "axles": 6,
        "product": "PM-DL", "pickup_order_no": "P", "gross_weight_kg": 45000, "tare_weight_kg": 15000,
        "net_weight_kg": 30000, "order_id": "O9"}, "2026-03-10T00:00:00Z", "jincheng-logistics")], 0)
    assert changed[("capacity", ("GPF", "2026-03-10"))]["truck_out_kg"] == 30_000
    assert changed[("demand", ("O9",))]["truck_kg"] == 30_000


def test_business_days_are_china_standard_time() -> None:
    import datetime

    t = datetime.datetime(2026, 3, 9, 16, 0, tzinfo=datetime.UTC)
    assert business_day(t) == "2026-03-10"
    assert business_day(t - datetime.timedelta(seconds=1)) == "2026-03-09"
    assert days("2026-02-27", "2026-03-02") == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]


def test_a_train_uses_every_line_section_between_its_ends() -> None:
    ln = line()
    assert [s for s, _ in ln.segment_starts][:1] == ["XWV"] and ln.segment_starts[-1][0] == "YBF"
    assert ln.segments("CBF", "JOF") == [("CBF", "down"), ("CZF", "down"), ("GPF", "down"), ("JCF", "down")]
    assert ln.segments("JCF", "CBF") == [("JCF", "up"), ("GPF", "up"), ("CZF", "up")]
    assert ln.segments("YBF", "RZK") == [] and ln.segments("TYV", "JCF") == []


def test_the_figures_do_not_depend_on_the_order_across_subjects() -> None:
    import itertools

    from services.simulator import SimConfig, simulate

    events = list(itertools.islice(simulate(SimConfig(seed=3)), 2500)) + scenario.events()
    reference = non_empty(fold_in_blocks(events, list(range(250, len(events), 250))))
    for seed in range(3):
        shuffled = by_partition(events, 6, seed)
        assert shuffled != events and sorted(map(str, shuffled)) == sorted(map(str, events))
        got = non_empty(fold_in_blocks(shuffled, list(range(300, len(events), 300))))
        assert got.keys() == reference.keys()
        diff = [ref for ref in reference if got[ref] != reference[ref]]
        assert not diff, (diff[:3], [(got[r], reference[r]) for r in diff[:1]])


def by_partition(envelopes: list[dict[str, Any]], partitions: int, seed: int) -> list[dict[str, Any]]:
    """Per-subject order kept (one partition per subject), partitions interleaved at random."""
    import zlib

    queues: list[list[dict[str, Any]]] = [[] for _ in range(partitions)]
    for e in envelopes:
        queues[zlib.crc32(e["subject"].encode()) % partitions].append(e)
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        n = rng.randint(1, 50)
        out.extend(q[:n])
        del q[:n]
    return out


def test_the_stock_history_is_the_stock_at_the_end_of_each_day_in_any_order() -> None:
    events = scenario.events()
    views = fold_in_blocks(events, [4, 9])
    day = views.view("stock_day")
    # L1 (20 000 t) and L2 (5 000 t) were reported on the 10th (CST); 214 t were loaded from L1 that day
    assert {k: (r["change_kg"], r["loaded_kg"]) for k, r in day.items()} == {
        (scenario.MINE, "WY-MM", scenario.D): (24_786_000, 214_000)}
    # a late report of L1 on the 11th: the 10th stays as it was, the 11th carries the change
    late = E.lot("StockReported", "L1", scenario.MINE, "WY-MM", 19_000_000, "JCF", "2026-03-11T02:00:00Z")
    for order in ([*events, late], [late, *events]):
        got = fold_in_blocks(order, [3]).view("stock_day")
        assert got[(scenario.MINE, "WY-MM", scenario.D)]["change_kg"] == 24_786_000
        assert got[(scenario.MINE, "WY-MM", "2026-03-11")]["change_kg"] == 19_000_000 - 19_786_000
        assert sum(r["change_kg"] for r in got.values()) == fold_in_blocks(order, [3]).view("stock")[
            (scenario.MINE, "WY-MM")]["stock_kg"]
