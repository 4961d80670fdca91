"""kill -9 the sequencer and the validators at random moments while events flow: in the end every event is
sealed exactly once, nothing is rejected as a replay, and the chain verifies.

Short form by default (a handful of kills); ``COALCHAIN_SOAK=1`` runs the long form (many more rounds)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from services import db
from services.config import Settings
from services.kafka.topics import Topics
from services.store.postgres import LedgerStore
from services.verify import verify_ledger
from tests.pipeline.helpers import read_topic, tree_size, wait_until
from tests.pipeline.test_end_to_end import checker, publish_raw, raw, sim_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOAK = os.environ.get("COALCHAIN_SOAK") == "1"
ROUNDS = 40 if SOAK else 6
PER_ROUND = 400 if SOAK else 250


class Fleet:
    """The pipeline's processes, started as `coalchain` children we can kill -9."""

    def __init__(self, settings: Settings) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_")},
            "DATABASE_URL": settings.database_url,
            "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "COALCHAIN_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "COALCHAIN_HOME": str(settings.home),
            "COALCHAIN_GENESIS_FILE": str(settings.genesis_file),
            "COALCHAIN_BATCH_TIMEOUT_MS": "50",
            "COALCHAIN_EVENT_TIME_MAX_PAST_S": str(settings.event_time_max_past_s),  # simulated days of 2026-03
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = settings.home / "logs"
        self.kills = 0

    def start(self, name: str) -> None:
        command = name.split("-")[0]
        (self.logs / name).parent.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "services.cli", "-v", command], env=self.env,
                                                stdout=log, stderr=subprocess.STDOUT)

    def kill9(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)
        self.kills += 1

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


@pytest.fixture
def fleet(deployment: Settings) -> Iterator[Fleet]:
    f = Fleet(deployment)
    for name in ("sequencer", "validator-a", "validator-b"):
        f.start(name)
    try:
        yield f
    finally:
        f.stop_all()


async def test_kill_9_at_random_points_loses_nothing_and_seals_nothing_twice(
    deployment: Settings, fleet: Fleet
) -> None:
    rng = random.Random(20261122)
    events = sim_events(ROUNDS * PER_ROUND)
    for r in range(ROUNDS):
        chunk = events[r * PER_ROUND:(r + 1) * PER_ROUND]
        await publish_raw(deployment, [raw(e) for e in chunk])
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        victim = rng.choice(["sequencer", "sequencer", "validator-a", "validator-b"])
        fleet.kill9(victim)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        fleet.start(victim)

    async def all_sealed() -> bool:
        return await tree_size(deployment.database_url) >= len(events)

    await wait_until(all_sealed, timeout_s=180, what=f"all {len(events)} events sealed after {fleet.kills} kills")
    conn = await asyncpg.connect(deployment.database_url)
    try:
        rows = await conn.fetch("SELECT event_id FROM ledger_events")
    finally:
        await conn.close()
    sealed = [str(r["event_id"]) for r in rows]
    assert len(sealed) == len(set(sealed)) == len(events)
    assert set(sealed) == {e["id"] for e in events}
    rejected = await read_topic(deployment, Topics.from_settings(deployment).rejected, partitions=3)
    assert [dict(r.headers)["reason"] for r in rejected] == []  # a redelivery is never mistaken for a replay
    pool = await db.create_pool(deployment, max_size=2)
    try:
        report = await verify_ledger(LedgerStore(pool), checker(deployment))
    finally:
        await pool.close()
    assert report.first_bad is None and report.events == len(events)
