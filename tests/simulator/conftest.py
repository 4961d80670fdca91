"""One shared simulated stream for the simulator tests (generated once per session)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from services.simulator import SimConfig, simulate

SEED = 11
STREAM_EVENTS = 12_000


@pytest.fixture(scope="session")
def stream() -> list[dict[str, Any]]:
    return list(itertools.islice(simulate(SimConfig(seed=SEED)), STREAM_EVENTS))
