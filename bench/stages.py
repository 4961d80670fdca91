"""Where publish→sealed latency goes (``bench seal-latency --stages``): joins the stage trace the validators
and the sequencer write (:class:`services.stagetrace.StageTrace`, ``time.monotonic()``: one clock for every
process of the host) with the publisher's send times and raw positions and the block reader's times.

Stages of one event: publish → validator fetch → verdict sent (checked, signed) → verdict acked → sequencer
read → cut → committed (PostgreSQL) → block published (acked) → block read by the benchmark."""

from __future__ import annotations

import bisect
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile

STAGES = ("publish→validator fetch", "fetch→verdict sent", "sent→verdict acked", "acked→sequencer read",
          "sequencer read→cut", "cut→committed", "committed→block published", "published→block read", "total")


@dataclass
class Trace:
    """The trace lines of one run, indexed for lookups by raw position and by accepted offset."""

    batches: dict[int, list[tuple[int, int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    reads: list[tuple[int, int, float]] = field(default_factory=list)  # (lo, hi, t), by lo
    blocks: list[dict[str, Any]] = field(default_factory=list)  # by first offset
    markers: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> Trace:
        t = cls()
        for path in sorted(directory.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    d = json.loads(line)
                except ValueError:
                    continue  # a line cut by a killed process
                if d["k"] == "v":
                    for p, lo, hi in d["pos"]:
                        t.batches[p].append((lo, hi, d))
                elif d["k"] == "r":
                    t.reads.append((d["lo"], d["hi"], d["t"]))
                elif d["k"] == "b":
                    t.blocks.append(d)
                elif d["k"] == "m":
                    t.markers.setdefault(d["h"], d)
        for rows in t.batches.values():
            rows.sort(key=lambda r: r[0])
        t.reads.sort(key=lambda r: (r[0], r[2]))
        t.blocks.sort(key=lambda b: b["first"])
        return t

    def batch(self, partition: int, offset: int) -> dict[str, Any] | None:
        rows = self.batches.get(partition, [])
        i = bisect.bisect_right(rows, offset, key=lambda r: r[0]) - 1
        return rows[i][2] if i >= 0 and rows[i][1] >= offset else None

    def read_at(self, offset: int) -> float | None:
        """When the sequencer first read the accepted record at ``offset``."""
        i = bisect.bisect_right(self.reads, offset, key=lambda r: r[0]) - 1
        best = None
        while i >= 0 and offset - self.reads[i][0] < 100_000:
            lo, hi, t = self.reads[i]
            if lo <= offset <= hi:
                best = t if best is None else min(best, t)
            if hi < offset and best is not None:
                break
            i -= 1
        return best

    def block(self, offset: int) -> dict[str, Any] | None:
        i = bisect.bisect_right(self.blocks, offset, key=lambda b: b["first"]) - 1
        return self.blocks[i] if i >= 0 and self.blocks[i]["last"] >= offset else None


def breakdown(trace: Trace, events: list[tuple[float, int, int, float]]) -> dict[str, Any]:
    """Per stage p50/p95/p99 (ms) over ``events`` = (published, raw partition, raw offset, block read), and the
    mean of each stage over the slowest 1 % (total ≥ p99): what the tail is made of."""
    rows: list[list[float]] = []
    t0 = min((e[0] for e in events), default=0.0)
    slices: dict[int, list[float]] = defaultdict(list)  # total latency by 5 s of publish time
    for published, partition, offset, read in events:
        slices[int((published - t0) // 5)].append((read - published) * 1000)
        b = trace.batch(partition, offset)
        if b is None or not b["acc"] or b["acc"][0] is None:
            continue
        acc = b["acc"][0]
        seq_read, block = trace.read_at(acc), trace.block(acc)
        if seq_read is None or block is None:
            continue
        points = [published, b["fetch"], b["sent"], b["acked"], seq_read, block["cut"], block["committed"],
                  block["published"], read]
        rows.append([(y - x) * 1000 for x, y in itertools.pairwise(points)] + [(read - published) * 1000])
    out: dict[str, Any] = {"events_traced": len(rows), "events": len(events), "p50_p99_ms_by_5s": [
        [round(percentile(sorted(xs), 50)), round(percentile(sorted(xs), 99))] for _, xs in sorted(slices.items())]}
    fetched = [sum(hi - lo + 1 for _, lo, hi in b["pos"]) for b in {id(r[2]): r[2] for rs in trace.batches.values()
                                                                       for r in rs}.values()]
    out["validator_batch_events_mean"] = sum(fetched) / len(fetched) if fetched else 0.0
    if not rows:
        return out
    totals = sorted(r[-1] for r in rows)
    cutoff = percentile(totals, 99)
    tail = [r for r in rows if r[-1] >= cutoff]
    for i, name in enumerate(STAGES):
        xs = sorted(r[i] for r in rows)
        out[name] = {"p50_ms": percentile(xs, 50), "p95_ms": percentile(xs, 95), "p99_ms": percentile(xs, 99),
                     "mean_ms": sum(xs) / len(xs), "tail_mean_ms": sum(r[i] for r in tail) / len(tail)}
    sizes = [b["n"] for b in trace.blocks]
    out["blocks"] = len(sizes)
    out["events_per_block_mean"] = sum(sizes) / len(sizes) if sizes else 0.0
    rtt = [b["cut"] - m["sent"] for b in trace.blocks if (m := trace.markers.get(b["h"])) and b["cut"] >= m["sent"]]
    out["marker_sent→cut_ms_p50"] = percentile(sorted(rtt), 50) * 1000 if rtt else None
    out["blocks_cut_by_marker"] = len(rtt)
    return out


def table(result: dict[str, Any]) -> str:
    """The breakdown as markdown."""
    lines = ["| stage | p50 ms | p95 ms | p99 ms | mean ms | mean in slowest 1 % |", "|---|---|---|---|---|---|"]
    for name in STAGES:
        s = result.get(name)
        if s:
            lines.append(f"| {name} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {s['mean_ms']:.1f}"
                         f" | {s['tail_mean_ms']:.1f} |")
    return "\n".join(lines)
