"""The simulator's events, as the benchmark caches them: ``services.simulator.simulate`` with a seed and
``BENCH_START``, each envelope as ``coalchain simulate`` publishes it (``to_json_bytes``, key =
subject), and the genesis registry the validators trust (``services.simulator.genesis``).

The cache tag includes a digest of the simulator's code and reference data, so a changed simulator never
reuses stale events.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.events import Record

_ROOT = Path(__file__).resolve().parents[1]

BENCH_START = datetime(2022, 2, 28, 16, 0, tzinfo=UTC)
"""2022-03-01 00:00 CST. The simulated line makes ~1,050 events a day, so a stream of 1 M events covers ~950
days: from the simulator's own default start (2025) it ran past today and the validators rejected the rest
(``time-out-of-range``, more than ``event_time_max_future_s`` ahead). From here 1 M events end in 2024."""


def version() -> str:
    h = hashlib.sha256(BENCH_START.isoformat().encode())
    files = sorted((_ROOT / "services" / "simulator").glob("*.py")) + sorted(
        (_ROOT / "services" / "simulator").glob("*.json")) + sorted((_ROOT / "schemas" / "data").glob("*.json"))
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def generate(count: int, seed: int) -> tuple[dict[str, Any], Iterator[Record]]:
    from services.simulator import SimConfig, genesis, simulate, to_json_bytes

    config = SimConfig(seed=seed, start=BENCH_START)
    doc = genesis(seed, created=config.start)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def records() -> Iterator[Record]:
        for i, env in enumerate(itertools.islice(simulate(config), count)):
            if str(env["time"]) > now:  # RFC 3339 UTC text: compares as time
                raise RuntimeError(f"simulated event {i:,} is dated {env['time']}, after now: the validators would"
                                   " reject it (time-out-of-range); move bench.simsource.BENCH_START earlier")
            yield Record(str(env["subject"]).encode(), str(env["id"]), to_json_bytes(env))

    return doc, records()
