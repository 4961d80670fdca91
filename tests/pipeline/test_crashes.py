"""kill -9 every process of the pipeline at random moments while events flow through the gateway: in the end
every acknowledged event is sealed exactly once or rejected, the chain verifies, and the replica and the
views stand at the ledger's head.

The processes are real ``coalchain`` children (sequencer, two validators, api, views, replica) on a tansu
broker and an embedded PostgreSQL that this test starts, so it can kill those too (never the shared server).
Load: batches of events POSTed to the api's ``/v1/events``; an id counts as acknowledged when its batch was
answered 202. A broker kill loses what the in-memory broker held, including acknowledged events: the
publisher then does what docs/operations.md documents — resubmits by id what ``services.reconcile`` reports
as neither sealed nor rejected — until nothing is missing. A process that dies by itself (e.g. while the
broker or the database is away) is restarted, as ``coalchain up`` would, and counted; like it, the services are
paused (SIGSTOP) while a killed broker comes back and its topics are created again.

Short form by default (every kind killed at least once); ``COALCHAIN_SOAK=1`` runs the long form (120 kills
at random). The figures (kills per kind, acknowledged, resubmitted, lost, duplicated) are logged at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services import db, devstack
from services.config import Settings
from services.kafka.topics import ensure_topics
from services.reconcile import Report, reconcile
from services.store.migrate import create_database
from services.store.postgres import LedgerStore
from services.up import wrong_partition_counts
from services.verify import verify_ledger
from tests.pipeline.helpers import pgdata_dir, tree_size, wait_until
from tests.pipeline.test_end_to_end import checker, sim_events
from tests.views.stack import ledger_height, views_height

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)

SOAK = os.environ.get("COALCHAIN_SOAK") == "1"
PROCESSES = ("sequencer", "validator-a", "validator-b", "api", "views", "replica")
KINDS = (*PROCESSES, "broker", "postgres")
ROUNDS = 120 if SOAK else len(KINDS)  # the short form kills each kind once, in a random order
WEIGHTS = {"sequencer": 3, "validator-a": 2, "validator-b": 2, "api": 2, "views": 2, "replica": 2, "broker": 1,
           "postgres": 1}
PAUSE_S = (0.8, 2.5) if SOAK else (0.3, 0.8)  # between kills
BATCH, RATE = 20, 80  # events per POST; events per second offered


@dataclass
class Fleet:
    """The pipeline's processes as `coalchain` children, the broker and PostgreSQL; kill -9 any of them."""

    settings: Settings
    replica_url: str
    api_port: int
    broker: devstack.Broker
    pg: devstack.EmbeddedPostgres
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: collections.Counter[str] = field(default_factory=collections.Counter)
    exits: collections.Counter[str] = field(default_factory=collections.Counter)  # died by themselves

    def env(self, name: str) -> dict[str, str]:
        s = self.settings
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_") and k != "DATABASE_URL"},
            "DATABASE_URL": self.replica_url if name == "replica" else s.database_url,
            "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "COALCHAIN_KAFKA_TOPIC_PREFIX": s.kafka_topic_prefix,
            "COALCHAIN_HOME": str(s.home),
            "COALCHAIN_GENESIS_FILE": str(s.genesis_file),
            "COALCHAIN_BATCH_TIMEOUT_MS": "50",
            "COALCHAIN_EVENT_TIME_MAX_PAST_S": str(s.event_time_max_past_s),  # simulated days of 2026-03
        }

    def start(self, name: str) -> None:
        command = name.split("-")[0]
        args = ["--port", str(self.api_port)] if command == "api" else []
        with open(self.logs / f"{name}.log", "ab") as out:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "services.cli", "-v", command, *args],
                                                env=self.env(name), stdout=out, stderr=subprocess.STDOUT)

    async def kill9(self, name: str) -> None:
        """kill -9 ``name``, then start it again (the broker empty, PostgreSQL on its data)."""
        self.kills[name] += 1
        if name == "broker":
            assert self.broker.process is not None
            self.broker.process.send_signal(signal.SIGKILL)
            self.broker.process.wait(10)
            await asyncio.sleep(random.uniform(0.0, 0.5))
            # as `coalchain up` does (services/up.py): the services paused while the broker comes back with its
            # topics — tansu creates a topic that a client merely asks about, with 4 partitions
            alive = [p for p in self.procs.values() if p.poll() is None]
            for p in alive:
                p.send_signal(signal.SIGSTOP)
            try:
                for _ in range(3):
                    self.broker.start(self.logs / "tansu.log")
                    await ensure_topics(self.settings)
                    wrong = await wrong_partition_counts(self.settings)
                    if not wrong:
                        break
                    log.warning("the restarted broker has %s; restarting it again", wrong)
                    self.broker.stop()
                assert not wrong, wrong
            finally:
                for p in alive:
                    p.send_signal(signal.SIGCONT)
            return
        if name == "postgres":
            pid = self.pg.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await _gone(pid)
            await asyncio.sleep(random.uniform(0.0, 0.5))
            self.pg.restart()
            return
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)
        await asyncio.sleep(random.uniform(0.0, 0.5))
        self.start(name)

    def supervise(self) -> None:
        """Start again what exited by itself (counted)."""
        for name, p in list(self.procs.items()):
            if p.poll() is not None:
                self.exits[name] += 1
                log.warning("%s exited by itself (%s); starting it again", name, p.returncode)
                self.start(name)

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


async def _gone(pid: int) -> None:
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def fleet_of(deployment: Settings, tmp_path: Path) -> AsyncIterator[Fleet]:
    logs = tmp_path / "logs"
    logs.mkdir()
    with pgdata_dir() as pgdata:
        async with _fleet(deployment, logs, devstack.EmbeddedPostgres(pgdata).start()) as fleet:
            yield fleet


@contextlib.asynccontextmanager
async def _fleet(deployment: Settings, logs: Path, pg: devstack.EmbeddedPostgres) -> AsyncIterator[Fleet]:
    broker = devstack.Broker(devstack.free_port()).start(logs / "tansu.log")
    try:
        own = deployment.model_copy(update={
            "database_url": await create_database(pg.url(), "soak_ledger"),
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "kafka_topic_prefix": "soak.",
        })
        await ensure_topics(own)
        fleet = Fleet(own, await create_database(pg.url(), "soak_replica"), devstack.free_port(), broker, pg, logs)
        for name in PROCESSES:
            fleet.start(name)
        try:
            yield fleet
        finally:
            fleet.stop_all()
    finally:
        broker.stop()
        pg.stop()


@dataclass
class Publisher:
    """POSTs batches to the gateway; keeps every event until it is acknowledged (202)."""

    url: str
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: int = 0  # answers other than 202 (503 while a part is down) and transport errors: sent again

    async def send(self, client: httpx.AsyncClient, batch: list[dict[str, Any]], deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                r = await client.post("/v1/events", json=batch)
            except httpx.HTTPError:
                r = None
            if r is not None and r.status_code == 202:
                self.acked.update((e["id"], e) for e in batch)
                return
            assert r is None or r.status_code == 503, r.text
            self.refused += 1
            await asyncio.sleep(float(r.headers.get("retry-after", "1")) if r is not None else 0.5)
        raise AssertionError(f"a batch was not acknowledged in time ({self.refused} refusals so far)")

    async def load(self, events: list[dict[str, Any]], until: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            t0 = time.monotonic()
            for i in range(0, len(events), BATCH):
                if until.is_set():
                    return
                delay = t0 + i / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.send(client, events[i:i + BATCH], time.monotonic() + 300)


async def _settled(settings: Settings, quiet_s: float = 2.5, timeout_s: float = 240) -> None:
    """Wait until the ledger has stopped growing for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, Exception):
            size = await tree_size(settings.database_url)
            if size != last:
                last, since = size, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        await asyncio.sleep(0.5)
    raise AssertionError("the ledger did not settle")


async def test_kill_9_of_every_process_at_random_points_loses_nothing_and_seals_nothing_twice(
    deployment: Settings, tmp_path: Path
) -> None:
    rng = random.Random(20261202)
    started = time.monotonic()
    events = sim_events(int(RATE * (ROUNDS * sum(PAUSE_S) / 2 + 30)) + 2 * BATCH)
    async with fleet_of(deployment, tmp_path) as fleet:
        publisher = Publisher(f"http://127.0.0.1:{fleet.api_port}")
        await wait_until(_api_up(publisher.url), timeout_s=60, what="the api answering")
        marks = {"up": time.monotonic() - started}
        stop_load = asyncio.Event()
        load = asyncio.create_task(publisher.load(events, stop_load))
        victims = rng.sample(KINDS, len(KINDS)) if not SOAK else \
            rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=ROUNDS)
        for victim in victims:
            for _ in range(int(rng.uniform(*PAUSE_S) / 0.25)):
                fleet.supervise()
                await asyncio.sleep(0.25)
            await fleet.kill9(victim)
        stop_load.set()
        await load
        marks["killed"] = time.monotonic() - started
        for _ in range(8):
            fleet.supervise()
            await asyncio.sleep(0.25)

        # the publisher's side of the lost-on-restart window: resubmit by id what is neither sealed nor rejected
        resubmitted = 0
        report = Report()
        async with httpx.AsyncClient(base_url=publisher.url, timeout=10) as client:
            for _ in range(10):
                fleet.supervise()
                await _settled(fleet.settings)
                report = await reconcile(fleet.settings, ids=list(publisher.acked))
                if not report.missing:
                    break
                resubmitted += len(report.missing)
                again = [publisher.acked[i] for i in report.missing]
                for i in range(0, len(again), BATCH):
                    await publisher.send(client, again[i:i + BATCH], time.monotonic() + 120)
        rules = await _rules_broken(fleet.settings.database_url, list(report.rejected))
        head = await ledger_height(fleet.settings.database_url)
        marks["reconciled"] = time.monotonic() - started

        async def replica_and_views_at_head() -> bool:
            fleet.supervise()
            return (await ledger_height(fleet.replica_url), await views_height(fleet.settings.database_url)) == (
                head, head)
        await wait_until(replica_and_views_at_head, timeout_s=120, what="the replica and the views at the head")
        marks["heads"] = time.monotonic() - started
        ledger_ok = await _verify(fleet.settings, fleet.settings.database_url)
        replica_ok = await _verify(fleet.settings, fleet.replica_url)
        kills, exits = dict(fleet.kills), dict(fleet.exits)
    lost = len(report.missing)
    reasons = {**collections.Counter(report.rejected.values()), **rules}
    log.warning("kill -9 soak: %d kills %s; %d processes exited by themselves %s; %d events acknowledged, %d"
                " resubmitted by id after broker kills, %d sealed, %d rejected %s, lost %d, duplicated %d; %.0f s"
                " (%s)", sum(kills.values()), kills, sum(exits.values()), exits, len(publisher.acked), resubmitted,
                len(report.sealed), len(report.rejected), reasons, lost,
                len(report.duplicated), time.monotonic() - started, {k: round(v) for k, v in marks.items()})
    assert set(kills) == set(KINDS) and sum(kills.values()) == ROUNDS
    assert lost == 0 and report.duplicated == [] and report.ok, report
    assert all(n == 1 for n in report.sealed.values())
    assert set(report.sealed) | set(report.rejected) == set(publisher.acked)
    assert ledger_ok.first_bad is None and replica_ok.first_bad is None
    assert ledger_ok.events == replica_ok.events >= len(report.sealed)


async def _rules_broken(url: str, ids: list[str]) -> dict[str, int]:
    """How many of ``ids`` each ledger rule rejected (from the stored rejections)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT detail->'errors'->0->>'rule' AS rule, count(DISTINCT event_id) AS n"
                                " FROM event_rejections WHERE event_id = ANY($1::uuid[]) AND reason = 'rule'"
                                " GROUP BY 1", ids)
    finally:
        await conn.close()
    return {str(r["rule"]): int(r["n"]) for r in rows}


def _api_up(url: str) -> Any:
    async def up() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url, timeout=2) as client:
                return (await client.get("/v1/checkpoint")).status_code in (200, 404, 503)
        except httpx.HTTPError:
            return False
    return up


async def _verify(settings: Settings, url: str) -> Any:
    pool = await db.create_pool(settings.model_copy(update={"database_url": url}), max_size=2)
    try:
        return await verify_ledger(LedgerStore(pool), checker(settings))
    finally:
        await pool.close()
