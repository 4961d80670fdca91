"""Simulator → raw topic → validators → sequencer → PostgreSQL → blocks topic → replica; verify; foreign
publishers (kcat); every kind of bad input rejected with its reason while the good events around it seal."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from chain_anchor.events import sign_event
from chain_anchor.keys import KeyRing, Signer
from services import db
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.ledger_check import BlockChecker
from services.registry import load_genesis
from services.replica.service import Replica
from services.sequencer.service import Sequencer
from services.simulator import SimConfig, participant_signer, simulate, to_json_bytes
from services.store.postgres import LedgerStore
from services.validator.worker import Validator
from services.verify import verify_ledger
from tests.pipeline.conftest import SEED, START
from tests.pipeline.helpers import read_topic, running, tree_size, wait_until

pytestmark = pytest.mark.integration

K = 1500


def sim_events(n: int, skip: int = 0) -> list[dict[str, Any]]:
    return list(itertools.islice(simulate(SimConfig(seed=SEED, start=START, time_compression=1440)), skip, skip + n))


async def publish_raw(settings: Settings, items: list[tuple[bytes, bytes]]) -> None:
    producer = clients.producer(settings)
    await producer.start()
    try:
        futs = [await producer.send(Topics.from_settings(settings).raw, value, key=key) for key, value in items]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


def raw(envelope: dict[str, Any]) -> tuple[bytes, bytes]:
    return str(envelope["subject"]).encode(), to_json_bytes(envelope)


def checker(settings: Settings) -> BlockChecker:
    registry = load_genesis(settings.genesis_file) if settings.genesis_file else None
    assert registry is not None
    return BlockChecker(ledger_id=settings.ledger_id,
                        sequencer_keys=KeyRing([sequencer_signer(settings).public_key_raw]),
                        event_keys=registry.all_keys())


async def size_reaches(settings: Settings, n: int) -> None:
    async def done() -> bool:
        return await tree_size(settings.database_url) >= n

    await wait_until(done, timeout_s=60, what=f"tree size {n}")


@pytest.fixture(scope="module")
async def pipeline(deployment: Settings) -> AsyncIterator[Settings]:
    """Two validators and a sequencer running for the whole module."""
    v1 = Validator(deployment, load_genesis(deployment.genesis_file))  # type: ignore[arg-type]
    v2 = Validator(deployment, load_genesis(deployment.genesis_file))  # type: ignore[arg-type]
    async with running(Sequencer(deployment).run), running(v1.run), running(v2.run):
        yield deployment


async def test_simulated_traffic_is_sealed_verified_and_replicated(
    pipeline: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    events = sim_events(K)
    await publish_raw(pipeline, [raw(e) for e in events])
    await size_reaches(pipeline, K)
    conn = await asyncpg.connect(pipeline.database_url)
    try:
        ids = {str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM ledger_events")}
    finally:
        await conn.close()
    assert ids == {e["id"] for e in events}
    pool = await db.create_pool(pipeline, max_size=2)
    try:
        report = await verify_ledger(LedgerStore(pool), checker(pipeline))
    finally:
        await pool.close()
    assert report.first_bad is None and report.events == K

    replica_db = pipeline.model_copy(update={"database_url": await make_database("e2e_replica")})
    async with running(Replica(replica_db, checker(pipeline)).run):
        await size_reaches(replica_db, K)
    src, dst = await asyncpg.connect(pipeline.database_url), await asyncpg.connect(replica_db.database_url)
    try:
        q = "SELECT height, header, header_hash, signatures, checkpoint FROM ledger_blocks ORDER BY height"
        assert [tuple(r) for r in await src.fetch(q)] == [tuple(r) for r in await dst.fetch(q)]
        q = "SELECT leaf_index, leaf FROM ledger_events ORDER BY leaf_index"
        assert [tuple(r) for r in await src.fetch(q)] == [tuple(r) for r in await dst.fetch(q)]
    finally:
        await src.close()
        await dst.close()


async def test_events_published_by_a_foreign_client_are_sealed(pipeline: Settings) -> None:
    """A mine system that is not ours: librdkafka (the C client kcat is built on, via confluent-kafka)
    publishes raw CloudEvents JSON, pretty-printed, not canonical. (Debian's kcat bundles librdkafka 2.0.2,
    which cannot parse tansu 0.6.0's ApiVersions v3 answer; against Apache Kafka kcat works the same way.)"""
    import confluent_kafka

    before = await tree_size(pipeline.database_url)
    events = sim_events(20, skip=K)

    def publish() -> list[object]:
        producer = confluent_kafka.Producer({"bootstrap.servers": pipeline.kafka_bootstrap_servers, "acks": "all"})
        failures: list[object] = []
        for e in events:
            producer.produce(Topics.from_settings(pipeline).raw, json.dumps(e, ensure_ascii=False, indent=1).encode(),
                             key=str(e["subject"]).encode(),
                             on_delivery=lambda err, _msg: failures.append(err) if err else None)
        assert producer.flush(30) == 0
        return failures

    assert await asyncio.to_thread(publish) == []
    await size_reaches(pipeline, before + 20)
    conn = await asyncpg.connect(pipeline.database_url)
    try:
        found = await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = ANY($1::uuid[])",
                                    [e["id"] for e in events])
    finally:
        await conn.close()
    assert found == 20


def _resign(envelope: dict[str, Any], signer: Signer, **changes: Any) -> dict[str, Any]:
    e = {k: v for k, v in envelope.items() if k not in ("signature", "sigkeyid")}
    e.update(changes)
    return sign_event(e, signer)


def _of_type(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(e for e in events if e["type"].split(".")[-2] == name)


async def test_bad_input_is_rejected_with_its_reason_and_good_events_around_it_seal(pipeline: Settings) -> None:
    before = await tree_size(pipeline.database_url)
    good = sim_events(40, skip=K + 20)
    pool = sim_events(K)  # templates for the bad cases (re-signed with fresh ids where it matters)
    loaded = _of_type(pool, "WagonsLoaded")
    demand = _of_type(pool, "DemandPosted")
    buyer_id = demand["data"]["buyer_id"]
    stranger = Signer.from_seed(b"\x42" * 32)

    tampered = copy.deepcopy(_resign(loaded, participant_signer(SEED, loaded["source"].rsplit("/", 1)[-1]),
                                     id=str(uuid.uuid4())))
    tampered["subject"] = tampered["data"]["shipment_id"] = tampered["data"]["shipment_id"] + "X"  # after signing
    schema_bad = copy.deepcopy(loaded)
    schema_bad["id"] = str(uuid.uuid4())
    schema_bad["data"]["wagons"][0]["net_weight_kg"] = -5
    bad_cases: dict[str, tuple[bytes, bytes]] = {
        "malformed_json": (b"k", b'{"specversion": "1.0", "id": '),
        "schema": raw(_resign(schema_bad, participant_signer(SEED, loaded["source"].rsplit("/", 1)[-1]))),
        "bad_signature": raw(tampered),
        "unknown_participant": raw(_resign(demand, stranger, id=str(uuid.uuid4()),
                                           source="/participants/nobody-we-know")),
        "unknown_key": raw(_resign(demand, stranger, id=str(uuid.uuid4()))),
        "forbidden_role": raw(_resign(loaded, participant_signer(SEED, buyer_id), id=str(uuid.uuid4()),
                                      source=f"/participants/{buyer_id}")),
        "oversized": (b"big", b'{"pad": "' + b"x" * (pipeline.max_event_bytes + 10) + b'"}'),
    }
    # a replay: the same signed event again, from another position, after the first copy was sealed
    replayed = good[0]
    await publish_raw(pipeline, [raw(e) for e in good[:20]])
    await size_reaches(pipeline, before + 20)
    await publish_raw(pipeline, [*bad_cases.values(), raw(replayed), *(raw(e) for e in good[20:])])
    await size_reaches(pipeline, before + 40)

    async def all_rejected() -> bool:
        return len(await read_topic(pipeline, Topics.from_settings(pipeline).rejected, partitions=3)) >= 8

    await wait_until(all_rejected, what="8 rejections")
    rejected = await read_topic(pipeline, Topics.from_settings(pipeline).rejected, partitions=3)
    by_reason: dict[str, list[Any]] = {}
    for r in rejected:
        by_reason.setdefault(dict(r.headers)["reason"].decode(), []).append(r)
    assert sorted(by_reason) == sorted([*bad_cases, "replay"]), {k: [dict(r.headers)["detail"] for r in v]
                                                                 for k, v in by_reason.items()}
    for reason, (_, value) in bad_cases.items():
        assert [r.value for r in by_reason[reason]] == [value], reason
    detail = json.loads(dict(by_reason["schema"][0].headers)["detail"])
    assert any(e["path"].startswith("/data/wagons/0/net_weight_kg") for e in detail["errors"]), detail
    assert json.loads(by_reason["replay"][0].value)["id"] == replayed["id"]
    assert await tree_size(pipeline.database_url) == before + 40  # nothing else got in
    assert len(rejected) == len(bad_cases) + 1
