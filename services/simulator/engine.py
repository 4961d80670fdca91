"""The discrete-event core: a simulated clock, a queue of actions, deterministic randomness and ids.

Actions run in time order (ties in scheduling order); an action may emit events at the current time and
schedule further actions, never in the past — so the emitted stream is ordered by time and every effect
comes after its cause. Time compression divides every simulated duration: with 1440, a day of traffic
is stamped within one minute of event time.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "Emission", "Engine"]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
_CST = timedelta(hours=8)  # business dates are China Standard Time dates


@dataclass(frozen=True, slots=True)
class Emission:
    """One event before it is enveloped and signed."""

    sim_ms: int
    name: str
    participant_id: str
    data: dict[str, Any]


class Engine:
    """Clock, action queue, randomness and identifiers of one simulation run."""

    def __init__(self, seed: int, start: datetime, time_compression: float) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not time_compression > 0:
            raise ValueError("time_compression must be positive")
        self.rng = random.Random(f"coalchain-sim/{seed}/traffic")
        self.start = start.astimezone(UTC)
        self.compression = time_compression
        self.tag = hashlib.sha256(f"{seed}/{self.start.isoformat()}".encode()).hexdigest()[:4].upper()
        self.now_ms = 0
        self._heap: list[tuple[int, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._out: deque[Emission] = deque()
        self._serials: dict[str, int] = {}

    # ---- scheduling

    def at(self, sim_ms: int, action: Callable[[], object]) -> None:
        """Run ``action`` at simulated time ``sim_ms`` (not before now)."""
        if sim_ms < self.now_ms:
            raise ValueError(f"cannot schedule at {sim_ms} ms, before now ({self.now_ms} ms)")
        heapq.heappush(self._heap, (sim_ms, next(self._order), action))

    def after(self, delay_ms: int, action: Callable[[], object]) -> None:
        self.at(self.now_ms + delay_ms, action)

    def emit(self, name: str, participant_id: str, data: dict[str, Any]) -> None:
        """Emit event ``name`` (e.g. ``WagonsLoaded``) published by ``participant_id`` now."""
        self._out.append(Emission(self.now_ms, name, participant_id, data))

    def run(self) -> Iterator[Emission]:
        """Emissions in time order, for as long as actions remain (the daily cycle never ends)."""
        while True:
            while self._out:
                yield self._out.popleft()
            if not self._heap:
                return
            self.now_ms, _, action = heapq.heappop(self._heap)
            action()

    # ---- time

    def instant(self, sim_ms: int) -> datetime:
        """Event time of a simulated instant (compressed)."""
        return self.start + timedelta(milliseconds=round(sim_ms / self.compression))

    def time_text(self, sim_ms: int) -> str:
        """RFC 3339 UTC with milliseconds, as events carry it."""
        t = self.instant(sim_ms)
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{t.microsecond // 1000:03d}Z"

    def date_text(self, sim_ms: int) -> str:
        """The business (China Standard Time) date of a simulated instant."""
        return (self.instant(sim_ms) + _CST).date().isoformat()

    # ---- randomness and ids

    def between(self, bounds: tuple[int, int]) -> int:
        return self.rng.randint(bounds[0], bounds[1])

    def minutes(self, bounds: tuple[int, int]) -> int:
        """A random duration in ms, drawn in whole minutes."""
        return self.between(bounds) * MINUTE_MS

    def chance(self, rate_bp: int) -> bool:
        return self.rng.randrange(10_000) < rate_bp

    def pick(self, weights: Mapping[str, int]) -> str:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def serial(self, kind: str) -> int:
        n = self._serials.get(kind, 0) + 1
        self._serials[kind] = n
        return n

    def ident(self, prefix: str, width: int) -> str:
        """A run-unique business id like ``SHP-7F3A-000123``."""
        return f"{prefix}-{self.tag}-{self.serial(prefix):0{width}d}"
