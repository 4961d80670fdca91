"""The simulator's events, as the benchmark caches them: ``services.simulator.simulate`` with a seed and the
simulator's default start, each envelope as ``coalchain simulate`` publishes it (``to_json_bytes``, key =
subject), and the genesis registry the validators trust (``services.simulator.genesis``).

The cache tag includes a digest of the simulator's code and reference data, so a changed simulator never
reuses stale events.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.events import Record

_ROOT = Path(__file__).resolve().parents[1]


def version() -> str:
    h = hashlib.sha256()
    files = sorted((_ROOT / "services" / "simulator").glob("*.py")) + sorted(
        (_ROOT / "services" / "simulator").glob("*.json")) + sorted((_ROOT / "schemas" / "data").glob("*.json"))
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def generate(count: int, seed: int) -> tuple[dict[str, Any], Iterator[Record]]:
    from services.simulator import SimConfig, genesis, simulate, to_json_bytes

    config = SimConfig(seed=seed)
    doc = genesis(seed, created=config.start)

    def records() -> Iterator[Record]:
        for env in itertools.islice(simulate(config), count):
            yield Record(str(env["subject"]).encode(), str(env["id"]), to_json_bytes(env))

    return doc, records()
