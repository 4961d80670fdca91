"""The scenarios. Each module has ``NAME``, ``DESCRIPTION`` and ``async def run(opts, ceilings) -> Result``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.common import RESULTS_DIR


@dataclass(frozen=True)
class Options:
    """Command-line knobs shared by the scenarios (None: the scenario's default for quick/full size)."""

    quick: bool = False
    events: int | None = None
    seed: int = 20_261_122
    profile: bool = True
    duration_s: float | None = None
    rates: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    validators: int = 2
    results_dir: Path = RESULTS_DIR
    ceiling_events: int | None = None  # events per ceiling measurement (default 5,000 quick / 20,000)
    ceiling_seconds: float | None = None  # seconds per timed ceiling loop (default 0.5 quick / 2)
    requests: int | None = None  # proofs: requests per kind (default 300 quick / 2,000)
    stages: bool = False  # seal-latency: trace each event's stages (bench.stages)

    def pick(self, quick: int, full: int) -> int:
        """``--events`` if given, else the quick or the full default."""
        if self.events is not None:
            return self.events
        return quick if self.quick else full
