"""Faults at the edges, against the real broker, PostgreSQL, validator, sequencer and API.

* hostile JSON bodies → 400/422 naming path and rule, nothing published;
* broker kill -9 → the gateway answers 503 + Retry-After at once (well inside the Kafka request timeout);
  the in-memory broker loses what it held (the lost-on-restart window); `coalchain reconcile` names exactly
  the acknowledged events that were lost; the publisher resubmits them by event id (the documented
  option) and reconcile then proves every acknowledged event sealed once or rejected;
* PostgreSQL kill -9 (an embedded PostgreSQL started here, never the shared server) → reads answer 503 +
  Retry-After, and 200 again by themselves once it is back;
* load: single-event POSTs for a few seconds (COALCHAIN_SOAK=1: 300/s for 60 s), resubmitting what got 503,
  then reconcile: 0 missing, 0 duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from chain_anchor.verdict import decode_verdict
from services import db, devstack
from services.config import Settings
from services.kafka.topics import Topics, ensure_topics
from services.reconcile import reconcile
from services.registry import load_genesis
from services.replica.service import Replica
from services.sequencer.service import Sequencer
from services.store.migrate import create_database
from services.store.postgres import LedgerStore
from services.validator.worker import Validator
from services.verify import Report, verify_ledger
from tests.pipeline.conftest import SEED, START, deployment  # noqa: F401  (the fixture)
from tests.pipeline.helpers import (
    api_server,
    envelope,
    pgdata_dir,
    produce_accepted,
    read_topic,
    running,
    tree_size,
    wait_until,
)
from tests.pipeline.test_end_to_end import checker
from tests.pipeline.test_gateway import _hostile_bodies, events
from tests.views.stack import ledger_height, views_height, views_worker

pytestmark = pytest.mark.integration

SOAK = bool(os.environ.get("COALCHAIN_SOAK"))


async def _post_all(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> list[str]:
    """POST each event; return the ids answered 202."""
    answers = [await client.post("/v1/events", json=e) for e in batch]
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers if a.status_code != 202]
    return [e["id"] for e in batch]


async def _sealed(settings: Settings, ids: list[str]) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = ANY($1::uuid[])", ids)
        return n
    finally:
        await conn.close()


async def test_hostile_bodies_are_400_or_422_with_path_and_rule(deployment: Settings) -> None:  # noqa: F811
    raw_topic = Topics.from_settings(deployment).raw
    before = len(await read_topic(deployment, raw_topic, partitions=6))
    async with api_server(deployment) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        for name, body, status, path, rule in _hostile_bodies():
            r = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
            assert (r.status_code, [(e["path"], e["rule"]) for e in r.json()["errors"]]) == (
                status, [(path, rule)]), name
    assert len(await read_topic(deployment, raw_topic, partitions=6)) == before


@contextlib.asynccontextmanager
async def _own_broker(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[devstack.Broker, Settings]]:
    broker = devstack.Broker(devstack.free_port()).start(tmp_path / "tansu.log")
    own = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers,
                                      "kafka_topic_prefix": f"e{uuid.uuid4().hex[:6]}.",
                                      "kafka_request_timeout_ms": 60_000})
    await ensure_topics(own)
    try:
        yield broker, own
    finally:
        broker.stop()


async def test_broker_kill_then_resubmission_by_id_leaves_every_acknowledged_event_sealed_or_rejected(
        deployment: Settings, tmp_path: Path,  # noqa: F811
        make_database: Callable[[str], Awaitable[str]]) -> None:
    genesis = deployment.genesis_file
    assert genesis is not None
    batch = events(60)[20:60]
    first, pending, later = batch[:15], batch[15:30], batch[30:]
    deployment = deployment.model_copy(update={"database_url": await make_database("edge_kill")})
    replica_db = await make_database("edge_kill_replica")
    # the client's 10 s is far less than the 60 s Kafka timeout: only the gateway's own deadline answers in time
    async with _own_broker(deployment, tmp_path) as (broker, own), api_server(own) as url, \
            httpx.AsyncClient(base_url=url, timeout=10) as client, running(Sequencer(own).run), \
            views_worker(own), running(Replica(own.model_copy(update={"database_url": replica_db}),
                                               checker(deployment)).run):
        async with running(Validator(own, load_genesis(genesis)).run):
            acked = await _post_all(client, first)
            await wait_until(lambda: _is(own, acked, len(acked)), what="the first events sealed")
        # validators stopped: these wait in the raw topic, acknowledged (202) but not yet checked
        acked += await _post_all(client, pending)
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGKILL)  # kill -9: the in-memory broker loses them
        broker.process.wait()
        down = await client.post("/v1/events", json=later[0])
        assert down.status_code == 503 and down.headers["retry-after"].isdigit()
        # the broker returns empty on the same port; nobody restarts the API, the sequencer, the views or the
        # replica: each notices by itself
        broker.start(tmp_path / "tansu2.log")  # (stopped by _own_broker, after everything else)
        await ensure_topics(own)
        async with running(Validator(own, load_genesis(genesis)).run):
            lost = await reconcile(own, ids=acked)
            assert lost.missing == sorted(e["id"] for e in pending)  # exactly the lost ones
            # the documented answer: the publisher resubmits, by id, what is neither sealed nor
            # rejected (a copy of a sealed event would be rejected as a replay, never sealed twice)
            resubmit = [e for e in pending if e["id"] in lost.missing]
            assert sorted(await _post_with_retry(client, resubmit)) == lost.missing
            acked += await _post_all(client, later)
            await wait_until(lambda: _is(own, acked, len(acked)), timeout_s=60, what="all sealed")
            final = await reconcile(own, ids=acked)
            head = await ledger_height(own.database_url)
            await wait_until(lambda: _heights_are(own.database_url, replica_db, head), timeout_s=60,
                             what="the views and the replica at the ledger's head")
    assert final.ok and final.missing == [] and final.duplicated == []
    assert set(final.sealed) == set(acked) and all(n == 1 for n in final.sealed.values())
    assert (await _verify(own)).first_bad is None
    assert (await _verify(own, replica_db)).first_bad is None


async def test_a_validator_running_across_a_broker_loss_accepts_the_resubmitted_events(
        deployment: Settings, tmp_path: Path,  # noqa: F811
        make_database: Callable[[str], Awaitable[str]]) -> None:
    """Events a running validator accepted, whose verdicts the broker then lost, are accepted again when
    resubmitted at other raw positions: its memory of accepted ids must not call them replays."""
    genesis = deployment.genesis_file
    assert genesis is not None
    batch = events(110)[60:110]
    accepted, newer = batch[:20], batch[20:]
    deployment = deployment.model_copy(update={"database_url": await make_database("edge_validator")})
    async with _own_broker(deployment, tmp_path) as (broker, own), api_server(own) as url, \
            httpx.AsyncClient(base_url=url, timeout=10) as client:
        validator = Validator(own, load_genesis(genesis))
        async with running(validator.run):
            acked = await _post_all(client, accepted)  # no sequencer: verdicts sent, nothing sealed

            async def all_accepted() -> bool:  # the verdicts are in the accepted topic (the broker has them)
                records = await read_topic(own, Topics.from_settings(own).accepted)
                return sum(len(decode_verdict(r.value).entries) for r in records) == len(accepted)
            await wait_until(all_accepted, what="the events accepted")
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGKILL)
            broker.process.wait()
            broker.start(tmp_path / "tansu2.log")
            await ensure_topics(own)
            # newer events first, so the resubmitted ones land at other raw offsets than before
            acked += await _post_with_retry(client, newer)
            acked_again = await _post_with_retry(client, accepted)
            assert sorted(acked_again) == sorted(e["id"] for e in accepted)
            async with running(Sequencer(own).run):
                await wait_until(lambda: _is(own, acked, len(acked)), timeout_s=60, what="all sealed")
                report = await reconcile(own, ids=acked)
    assert report.ok and report.missing == [] and report.duplicated == [] and report.rejected == {}
    assert validator.positions.restarts >= 1


async def _post_with_retry(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> list[str]:
    """POST ``batch`` as one request until 202 (503 while the producer reconnects to a restarted broker)."""
    for _ in range(100):
        with contextlib.suppress(httpx.TransportError):
            r = await client.post("/v1/events", json=batch)
            if r.status_code == 202:
                return [e["id"] for e in batch]
            assert r.status_code == 503, r.text
        await asyncio.sleep(0.2)
    raise AssertionError("the gateway did not accept the events again")


async def _heights_are(ledger_url: str, replica_url: str, head: int) -> bool:
    return await views_height(ledger_url) == head and await ledger_height(replica_url) == head


async def _verify(settings: Settings, url: str | None = None) -> Report:
    pool = await db.create_pool(settings.model_copy(update={"database_url": url or settings.database_url}),
                                max_size=2)
    try:
        return await verify_ledger(LedgerStore(pool), checker(settings))
    finally:
        await pool.close()


async def _is(settings: Settings, ids: list[str], n: int) -> bool:
    return await _sealed(settings, ids) == n


def _kill_postgres(pg: devstack.EmbeddedPostgres) -> None:
    pid = pg.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


async def test_postgres_kill_means_reads_503_then_recovery_by_themselves(deployment: Settings) -> None:  # noqa: F811
    with pgdata_dir() as pgdata:
        await _postgres_kill(deployment, devstack.EmbeddedPostgres(pgdata).start())


async def _postgres_kill(deployment: Settings, pg: devstack.EmbeddedPostgres) -> None:  # noqa: F811
    try:
        url = await create_database(pg.url(), "edge_faults")
        own = deployment.model_copy(update={"database_url": url})
        topics = Topics.from_settings(own)
        await produce_accepted(own, topics.accepted, [envelope_for(n) for n in range(5)])
        async with running(Sequencer(own).run):
            await wait_until(lambda: _tree_is(url, 5), what="sealing")
        async with api_server(own) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/v1/blocks/latest")).status_code == 200
            _kill_postgres(pg)
            answers = [await client.get(p) for p in ("/v1/blocks/latest", "/v1/blocks/0",
                                                      f"/v1/events/{uuid.uuid4()}")]
            for a in answers:
                assert a.status_code == 503 and a.headers["retry-after"].isdigit(), a.text
                assert "database" in a.json()["detail"]
            pg.restart()  # on the same data; the API is not restarted

            async def back() -> bool:
                return (await client.get("/v1/blocks/latest")).status_code == 200
            await wait_until(back, timeout_s=60, what="reads answered again")
    finally:
        pg.stop()


async def _tree_is(url: str, n: int) -> bool:
    return await tree_size(url) == n


def envelope_for(n: int) -> dict[str, Any]:
    from chain_anchor.keys import Signer

    return envelope(Signer.from_seed(b"\x09" * 32), "mine-edge", n)


@pytest.mark.slow
async def test_load_then_reconcile_finds_nothing_lost(deployment: Settings, tmp_path: Path,  # noqa: F811
                                                      make_database: Callable[[str], Awaitable[str]]) -> None:
    genesis = deployment.genesis_file
    assert genesis is not None
    # its own ledger: nothing an earlier test sealed (from another broker's topics) is in the way
    deployment = deployment.model_copy(update={"database_url": await make_database("edge_load")})
    rate, seconds = (300, 60) if SOAK else (100, 3)
    batch = events(100 + rate * seconds)[100:]
    acked: list[str] = []
    async with _own_broker(deployment, tmp_path) as (_, own), api_server(own) as url, \
            httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=64)) as client, \
            running(Sequencer(own).run), running(Validator(own, load_genesis(genesis)).run):
        # at most as many requests in flight as the client has connections: more queue inside httpcore, whose
        # pool assignment is O(queued × connections) per request and, in this one event loop, starved the
        # API, validator and sequencer it shares the loop with on a loaded machine
        in_flight = asyncio.Semaphore(64)

        async def one(e: dict[str, Any]) -> None:
            for _ in range(50):
                try:
                    async with in_flight:
                        r = await client.post("/v1/events", json=e)
                except httpx.TransportError:  # e.g. a keep-alive connection the server closed: send it again
                    continue
                if r.status_code == 202:
                    acked.append(e["id"])
                    return
                assert r.status_code == 503, r.text
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
        tasks = []
        t0 = asyncio.get_running_loop().time()
        for i, e in enumerate(batch):
            delay = t0 + i / rate - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(e)))
        await asyncio.gather(*tasks)
        await wait_until(lambda: _is(own, acked, len(acked)), timeout_s=120, what="everything sealed")
        report = await reconcile(own, since=None)
    assert len(acked) == len(batch)
    assert report.ok and report.acknowledged == len(batch) and report.missing == [] and report.duplicated == []
