"""Pipeline fixtures: a deployment whose validators trust the simulator's demo consortium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.config import Settings
from services.simulator import genesis, write_genesis

SEED = 11
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def deployment(settings: Settings) -> Settings:
    """``settings`` plus a genesis file holding the demo consortium's keys (seed ``SEED``)."""
    path = settings.home / "genesis.json"
    write_genesis(path, genesis(SEED, created=START, ledger_id=settings.ledger_id))
    return settings.model_copy(update={"genesis_file": path})
