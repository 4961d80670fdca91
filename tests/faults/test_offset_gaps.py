"""A broker that hands a consumer later offsets before earlier ones (tansu 0.6.0 does under load) must not make
an acknowledged event vanish: the validators (raw topic) and the API's rejection recorder (rejected topic) cut
a fetch at the hole and read it again (services.kafka.offsets). The sequencer's side is
tests/faults/test_hop.py::test_an_offset_gap_is_re_read_and_every_event_is_sealed_once.

The holes are made the way the broker makes them: the consumer's fetch result loses records, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from chain_anchor.events import leaf_bytes
from services.api.rejections import RejectionRecorder
from services.config import Settings
from services.kafka import clients
from services.kafka.offsets import Contiguity, OffsetTracker, Record
from services.kafka.topics import Topics, ensure_topics
from services.keyfiles import ensure_development_validator
from services.registry import load_genesis
from services.sequencer.service import Sequencer
from services.simulator import genesis, write_genesis
from services.validator.worker import Validator
from tests.faults.test_hop import _all_sealed, sealed_ids, stock_report
from tests.pipeline.helpers import read_topic, running, wait_until


class _Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def test_a_tracker_hands_on_only_contiguous_offsets_and_gives_up_after_its_retries() -> None:
    t = OffsetTracker(10, max_retries=2, label="test")
    rs: list[Record] = [_Record(o) for o in (10, 11, 13, 14)]
    kept, seek = t.take(rs)
    assert [r.offset for r in kept] == [10, 11] and seek == 12 and t.gaps == 1
    kept, seek = t.take([_Record(o) for o in (11, 12, 13)])  # re-read: 11 was taken
    assert [r.offset for r in kept] == [12, 13] and seek is None and t.expected == 14
    for retry in (1, 2):  # 14 never comes: two re-reads, then go on
        kept, seek = t.take([_Record(15)])
        assert kept == [] and seek == 14 and t.gaps == 1 + retry
    kept, seek = t.take([_Record(15)])
    assert [r.offset for r in kept] == [15] and seek is None and t.skipped == 1 and t.expected == 16


class GappyValidator(Validator):
    """A validator whose broker, once, hands it a fetch that lacks one record of a partition."""

    dropped: tuple[int, int] | None = None

    async def _getmany(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        batches = await super()._getmany(consumer)
        for tp, records in batches.items():
            if self.dropped is None and len(records) >= 3:
                self.dropped = (tp.partition, records[1].offset)
                batches[tp] = [records[0], *records[2:]]
        return batches


class LateStartValidator(Validator):
    """A validator whose first fetch of a partition starts one record late (the hole is at its start)."""

    dropped: tuple[int, int] | None = None

    async def _getmany(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        batches = await super()._getmany(consumer)
        for tp, records in batches.items():
            if self.dropped is None and len(records) >= 2:
                self.dropped = (tp.partition, records[0].offset)
                batches[tp] = records[1:]
        return batches


async def _raw_events(s: Settings, count: int) -> list[str]:
    """``count`` valid StockReported events of one subject (one raw partition) in the raw topic: their ids."""
    now = datetime.now(UTC)
    events = [stock_report(now - timedelta(minutes=count - i)) for i in range(count)]
    producer = clients.producer(s)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(Topics.from_settings(s).raw, leaf_bytes(e), key=str(e["subject"]).encode())
    finally:
        await producer.stop()
    return [str(e["id"]) for e in events]


async def _gap_settings(settings: Settings, make_database: Callable[[str], Awaitable[str]], label: str) -> Settings:
    s = settings.model_copy(update={
        "kafka_topic_prefix": f"{settings.kafka_topic_prefix}{label}{uuid.uuid4().hex[:4]}.",
        "database_url": await make_database(label), "genesis_file": settings.home / f"genesis-{label}.json"})
    await ensure_topics(s)
    assert s.genesis_file is not None
    write_genesis(s.genesis_file, genesis(0, created=datetime.now(UTC), ledger_id=s.ledger_id))
    ensure_development_validator(s)
    return s


@pytest.mark.parametrize("cls", [GappyValidator, LateStartValidator], ids=["mid-fetch", "at-the-start"])
async def test_a_raw_offset_gap_is_re_read_and_every_event_is_sealed_once(
    cls: type[GappyValidator | LateStartValidator], settings: Settings,
    make_database: Callable[[str], Awaitable[str]]
) -> None:
    s = await _gap_settings(settings, make_database, "rawgap")
    ids = await _raw_events(s, 8)
    assert s.genesis_file is not None
    validator = cls(s, load_genesis(s.genesis_file))
    async with running(validator.run), running(Sequencer(s).run):
        await wait_until(lambda: _all_sealed(s.database_url, set(ids)), 60, "all 8 events")
        await asyncio.sleep(0.3)  # anything sealed twice would show up now
    assert validator.dropped is not None
    assert validator.positions.contiguity.gaps >= 1 and validator.positions.contiguity.skipped == 0
    assert sorted(await sealed_ids(s.database_url)) == sorted(ids)  # each once, the dropped one too
    assert not await read_topic(s, Topics.from_settings(s).rejected, partitions=3)


class GappyRecorder(RejectionRecorder):
    dropped: int | None = None

    async def _getmany(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        batches = await super()._getmany(consumer)
        for tp, records in batches.items():
            if self.dropped is None and len(records) >= 3:
                self.dropped = records[1].offset
                batches[tp] = [records[0], *records[2:]]
        return batches


async def test_the_rejection_recorder_re_reads_a_hole_and_stores_every_rejection(
    settings: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    s = await _gap_settings(settings, make_database, "rejgap")
    topic = Topics.from_settings(s).rejected
    ids = [str(uuid.uuid4()) for _ in range(6)]
    producer = clients.producer(s)
    await producer.start()
    try:
        for i in ids:
            await producer.send_and_wait(topic, json.dumps({"id": i}).encode(), partition=0, headers=[
                ("reason", b"schema-invalid"), ("stage", b"validator"), ("detail", b'{"detail": "test"}')])
    finally:
        await producer.stop()
    pool = await asyncpg.create_pool(s.database_url, min_size=1, max_size=2)
    try:
        recorder = GappyRecorder(s, pool, topic)
        async with running(recorder.run):
            async def all_stored() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM event_rejections")) >= len(ids)

            await wait_until(all_stored, 30, "all 6 rejections stored")
        rows = await pool.fetch("SELECT event_id, rejected_offset FROM event_rejections ORDER BY rejected_offset")
    finally:
        await pool.close()
    assert recorder.dropped is not None and recorder.contiguity.gaps >= 1
    assert [str(r["event_id"]) for r in rows] == ids and [r["rejected_offset"] for r in rows] == list(range(6))


def test_contiguity_seeks_each_partition_with_a_hole_back_to_it() -> None:
    sought: list[tuple[TopicPartition, int]] = []

    class Consumer:
        def seek(self, tp: TopicPartition, offset: int) -> None:
            sought.append((tp, offset))

    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    c = Contiguity("t")
    c.expect(a, 0)
    out = c.take(Consumer(), {a: [_Record(0), _Record(2)], b: [_Record(5), _Record(6)]})
    assert {tp: [r.offset for r in rs] for tp, rs in out.items()} == {a: [0], b: [5, 6]}
    assert sought == [(a, 1)] and c.gaps == 1
    c.forget()
    assert c.gaps == 1 and not c.trackers  # counts survive a new reading
