"""``simulate(config)``: the endless iterator of signed envelopes (CloudEvents 1.0 dicts)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chain_anchor.events import sign_event
from schemas.catalogue import EventType, catalogue
from schemas.refdata import refdata
from services.simulator.engine import Emission, Engine
from services.simulator.keys import participant_signer
from services.simulator.scenario import load_scenario
from services.simulator.traffic import Traffic
from services.simulator.world import World

__all__ = ["DEFAULT_START", "SimConfig", "simulate"]

DEFAULT_START = datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
"""2025-03-01 00:00 China Standard Time: simulated days begin at local midnight."""


@dataclass(frozen=True)
class SimConfig:
    """Everything the event stream depends on: the same config gives byte-identical events."""

    seed: int = 0
    start: datetime = DEFAULT_START
    """Event time of simulated instant 0 (timezone-aware; best at a CST midnight)."""
    time_compression: float = 1.0
    """Simulated durations are divided by this: 1440 stamps a day of traffic within one minute."""
    scenario_path: Path | None = None
    """Behaviour knobs; default ``services/simulator/scenario.json``."""


def simulate(config: SimConfig = SimConfig()) -> Iterator[dict[str, Any]]:
    """Signed envelopes in event-time order, forever (bound it with ``itertools.islice``)."""
    engine = Engine(config.seed, config.start, config.time_compression)
    Traffic(engine, World.from_refdata(refdata()), load_scenario(config.scenario_path)).start()
    types = {e.name: e for e in catalogue() if e.version == 1}
    # event ids depend on the start too: a new run (e.g. `coalchain up --demo` restarted) never replays old ids
    ids = random.Random(f"coalchain-sim/{config.seed}/{config.start.astimezone(UTC).isoformat()}/event-ids")
    for emission in engine.run():
        yield _signed(emission, types[emission.name], engine, ids, config.seed)


def _signed(emission: Emission, entry: EventType, engine: Engine, ids: random.Random, seed: int) -> dict[str, Any]:
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
        "source": f"/participants/{emission.participant_id}",
        "type": entry.type,
        "subject": emission.data[entry.subject_field.removeprefix("/data/")],
        "time": engine.time_text(emission.sim_ms),
        "datacontenttype": "application/json",
        "dataschema": entry.schema_id,
        "data": emission.data,
    }
    return sign_event(envelope, participant_signer(seed, emission.participant_id))
