"""``coalchain sequencer``: the one active writer of a ledger.

Loop: read the accepted topic (one partition = the total order) from the offset after the last sealed block,
cut blocks with chain_anchor's BlockCutter plus the ``batch_timeout_ms`` timer, seal (one PostgreSQL
transaction per block, offsets included), then publish the block to the blocks topic. Only the holder of the
ledger's advisory lock runs the loop; a standby waits on the lock and takes over when the active one dies
(PostgreSQL releases a session lock when its connection drops).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from chain_anchor.canonical import canonicalize
from chain_anchor.cutter import BlockCutter
from chain_anchor.errors import ItemTooLarge
from services import blockmsg, db
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import Accepted, BlockSealer, Duplicate, Sealed
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

SEQUENCER_LOCK_ID = 0x5E0_0001
REPUBLISH_SCAN = 256  # blocks-topic records looked at (from the end) for the last block this ledger published


def header_int(record: ConsumerRecord[bytes, bytes], name: str) -> int:
    for k, v in record.headers or ():
        if k == name:
            return int(v)
    return -1


def to_accepted(record: ConsumerRecord[bytes, bytes]) -> Accepted:
    assert record.value is not None
    return Accepted(record.offset, record.value, header_int(record, "raw-partition"), header_int(record, "raw-offset"))


class Sequencer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.signer = sequencer_signer(settings)
        self.sealed_blocks = 0
        self.sealed_events = 0

    async def run(self, stop: asyncio.Event) -> None:
        lock_conn = await db.connect(self.settings)
        try:
            if not await self._acquire_lock(lock_conn, stop):
                return
            pool = await db.create_pool(self.settings, min_size=1, max_size=2)
            try:
                await self._lead(LedgerStore(pool), stop)
            finally:
                await pool.close()
        finally:
            with contextlib.suppress(Exception):
                await lock_conn.close()

    async def _acquire_lock(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        waited = False
        while not stop.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", SEQUENCER_LOCK_ID):
                log.info("sequencer is active (key id %s)", self.signer.key_id)
                return True
            if not waited:
                log.info("another sequencer is active; standing by")
                waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        return False

    async def _lead(self, store: LedgerStore, stop: asyncio.Event) -> None:
        sealer = BlockSealer(store, self.signer, ledger_id=self.settings.ledger_id,
                             source_topic=self.topics.accepted, head=await store.head())
        producer = clients.producer(self.settings)
        consumer = clients.consumer(self.settings, max_poll_records=self.settings.max_events_per_block)
        await producer.start()
        await consumer.start()
        try:
            await self._republish_missing(store, producer)
            tp = TopicPartition(self.topics.accepted, 0)
            consumer.assign([tp])
            start = sealer.next_offset
            end = await self._end_offset(tp)
            if start is not None and start > end:
                log.warning("the accepted topic ends at offset %d but the ledger consumed up to %d: the broker"
                            " lost its data (e.g. a tansu restart); reading the topic from its beginning",
                            end, start - 1)
                start = None
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
            await self._loop(sealer, consumer, producer, tp, stop)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _loop(self, sealer: BlockSealer, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                    tp: TopicPartition, stop: asyncio.Event) -> None:
        """Fabric's Kafka-orderer loop: size limits cut at once; the timer only *publishes* a time-to-cut
        marker into the accepted topic, and the block is cut where the marker lands. Every cut point is
        therefore in the topic, and re-sealing the same topic gives byte-identical blocks."""
        s = self.settings
        cutter: BlockCutter[Accepted] = BlockCutter(
            max_events=s.max_events_per_block, preferred_max_bytes=s.preferred_max_bytes,
            absolute_max_bytes=s.absolute_max_bytes,
        )
        timeout_s = s.batch_timeout_ms / 1000
        pending_since: float | None = None
        marker_sent_for: int | None = None
        while not stop.is_set():
            wait_s = timeout_s if pending_since is None else pending_since + timeout_s - time.monotonic()
            records = await consumer.getmany(tp, timeout_ms=max(1, int(wait_s * 1000)),
                                             max_records=s.max_events_per_block)
            for record in records.get(tp, []):
                ttc = header_int(record, "ttc")
                if ttc >= 0:
                    if ttc == sealer.next_height and cutter.pending_count:
                        await self._seal_and_publish(sealer, producer, cutter.cut())
                        pending_since = None
                    continue
                msg = to_accepted(record)
                try:
                    batches, pending = cutter.ordered(msg, msg.size)
                except ItemTooLarge as e:
                    await self._reject(producer, msg, "oversized", str(e))
                    continue
                for batch in batches:
                    await self._seal_and_publish(sealer, producer, batch)
                pending_since = (pending_since or time.monotonic()) if pending else None
            due = pending_since is not None and time.monotonic() - pending_since >= timeout_s
            if due and marker_sent_for != sealer.next_height:
                marker_sent_for = sealer.next_height
                await producer.send_and_wait(self.topics.accepted, b"", headers=[
                    ("ttc", str(sealer.next_height).encode())])

    async def _seal_and_publish(self, sealer: BlockSealer, producer: AIOKafkaProducer, batch: list[Accepted]) -> None:
        sealed, dups = await sealer.seal(batch)
        await self._reject_replays(producer, dups)
        if sealed is None:
            return
        self.sealed_blocks += 1
        self.sealed_events += sealed.row.leaf_count
        log.info("sealed block height=%d events=%d tree_size=%d", sealed.row.height, sealed.row.leaf_count,
                 sealed.row.tree_size)
        await self._publish(producer, sealed)

    async def _publish(self, producer: AIOKafkaProducer, sealed: Sealed) -> None:
        value = blockmsg.encode(sealed.row.header, sealed.row.signatures, sealed.leaves, sealed.row.checkpoint)
        await producer.send_and_wait(self.topics.blocks, value, key=str(sealed.row.height).encode())

    async def _reject_replays(self, producer: AIOKafkaProducer, dups: list[Duplicate]) -> None:
        for d in dups:
            if d.redelivery:
                log.debug("dropped redelivered event %s", d.event_id)
            else:
                await self._reject(producer, d.message, "replay", f"event id {d.event_id} is already sealed")

    async def _reject(self, producer: AIOKafkaProducer, msg: Accepted, reason: str, detail: str) -> None:
        log.warning("rejected accepted-topic offset %d: %s: %s", msg.offset, reason, detail)
        await producer.send_and_wait(self.topics.rejected, msg.leaf, headers=[
            ("reason", reason.encode()),
            ("detail", json.dumps({"reason": reason, "detail": detail}).encode()),
            ("stage", b"sequencer"),
            ("raw-partition", str(msg.raw_partition).encode()),
            ("raw-offset", str(msg.raw_offset).encode()),
        ])

    async def _republish_missing(self, store: LedgerStore, producer: AIOKafkaProducer) -> None:
        """Publish every committed block after the last one the blocks topic holds (crash after commit)."""
        head = await store.head()
        if head is None:
            return
        last = await self._last_published_height(store)
        for height in range(last + 1, head.height + 1):
            row = await store.block(height)
            assert row is not None
            leaves = [leaf for _, leaf, _ in await store.block_leaves(height)]
            value = blockmsg.encode(row.header, row.signatures, leaves, row.checkpoint)
            await producer.send_and_wait(self.topics.blocks, value, key=str(height).encode())
        if head.height > last:
            log.warning("republished blocks %d..%d missing from %s", last + 1, head.height, self.topics.blocks)

    async def _end_offset(self, tp: TopicPartition) -> int:
        """The partition's high watermark, read from a fetch (tansu's ListOffsets under-reports)."""
        consumer = clients.consumer(self.settings)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            await consumer.getmany(tp, timeout_ms=1000, max_records=1)
            return consumer.highwater(tp) or 0
        finally:
            await consumer.stop()

    async def _last_published_height(self, store: LedgerStore) -> int:
        """The height of the last block in the blocks topic that is ours: a record counts only if its header
        is byte for byte the one committed at that height (anyone may write to the topic: a forged or garbage
        record at the end must neither crash the sequencer nor stop it republishing). Looks at the last
        :data:`REPUBLISH_SCAN` records; none of ours among them: -1 (republish all; consumers skip by height)."""
        tp = TopicPartition(self.topics.blocks, 0)
        end = await self._end_offset(tp)
        if not end:
            return -1
        consumer = clients.consumer(self.settings)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, max(0, end - REPUBLISH_SCAN))
            records: list[Any] = []
            while not records or records[-1].offset < end - 1:
                batch = (await consumer.getmany(tp, timeout_ms=5000, max_records=REPUBLISH_SCAN)).get(tp, [])
                if not batch:
                    break
                records += batch
        finally:
            await consumer.stop()
        for record in reversed(records):
            try:
                msg = blockmsg.decode(record.value or b"")
                height = msg.height
                row = await store.block(height) if isinstance(height, int) and height >= 0 else None
            except (msgspec.MsgspecError, ValueError, TypeError, KeyError, OverflowError):
                row = None
            if row is not None and canonicalize(msg.header) == row.header:
                return height
            log.warning("blocks topic offset %d is not a block this ledger committed; ignored", record.offset)
        return -1
