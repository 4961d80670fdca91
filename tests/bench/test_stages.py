"""bench.stages: the stage trace of the validators and the sequencer, joined per event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.stages import STAGES, Trace, breakdown, table


def write(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in lines) + '{"k": "v", "cut by a kill', encoding="utf-8")


@pytest.fixture
def trace(tmp_path: Path) -> Trace:
    # raw partition 0 offsets 0..9 -> verdict at accepted offset 5; partition 1 offsets 0..4 -> accepted 6
    write(tmp_path / "validator-1.jsonl", [
        {"k": "v", "fetch": 1.010, "sent": 1.015, "acked": 1.020, "pos": [[0, 0, 9]], "acc": [5]},
        {"k": "v", "fetch": 1.110, "sent": 1.120, "acked": 1.130, "pos": [[1, 0, 4]], "acc": [6]},
    ])
    write(tmp_path / "sequencer-2.jsonl", [
        {"k": "r", "t": 1.030, "lo": 0, "hi": 5},
        {"k": "r", "t": 1.140, "lo": 6, "hi": 6},
        {"k": "r", "t": 1.150, "lo": 6, "hi": 7},  # a re-read: the first read counts
        {"k": "m", "h": 3, "sent": 1.200, "acked": 1.205},
        {"k": "b", "h": 3, "first": 0, "last": 7, "n": 15, "cut": 1.230, "committed": 1.250, "published": 1.260},
    ])
    return Trace.load(tmp_path)


def test_each_event_is_followed_through_its_batch_read_and_block(trace: Trace) -> None:
    assert trace.batch(0, 9) is not None and trace.batch(0, 10) is None and trace.batch(2, 0) is None
    assert trace.read_at(6) == pytest.approx(1.140)
    assert trace.read_at(8) is None
    assert trace.block(7) is not None and trace.block(8) is None
    out = breakdown(trace, [(1.000, 0, 3, 1.270), (1.100, 1, 2, 1.280), (1.000, 5, 0, 1.3)])
    assert (out["events"], out["events_traced"]) == (3, 2)  # partition 5 is in no batch
    assert out["publish→validator fetch"]["mean_ms"] == pytest.approx((10 + 10) / 2)
    assert out["sequencer read→cut"]["p99_ms"] == pytest.approx(200, abs=1e-6)  # 1.230 - 1.030
    assert out["blocks_cut_by_marker"] == 1
    assert out["marker_sent→cut_ms_p50"] == pytest.approx(30)
    for row in out["p50_p99_ms_by_5s"]:
        assert row[0] <= row[1]
    lines = table(out).splitlines()
    assert len(lines) == 2 + len(STAGES)


def test_stages_add_up_to_the_total(trace: Trace) -> None:
    out = breakdown(trace, [(1.000, 0, 3, 1.270)])
    assert sum(out[s]["mean_ms"] for s in STAGES[:-1]) == pytest.approx(out["total"]["mean_ms"])
