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
from typing import Any, TypeAlias

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from chain_anchor.canonical import canonicalize
from chain_anchor.cutter import BlockCutter
from chain_anchor.errors import ItemTooLarge
from chain_anchor.keys import KeyRing
from services import blockmsg, db, metrics, rotation
from services.config import Settings
from services.kafka import clients
from services.kafka.offsets import OffsetTracker
from services.kafka.topics import Topics
from services.keyfiles import genesis_path, sequencer_signer
from services.registry import load_validator_keys
from services.sequencer.intake import Quarantined, Reason, check_marker, check_verdict, ttc_height
from services.sequencer.sealing import BlockSealer, Duplicate, Sealed, VerdictBatch, parse_event_time
from services.stagetrace import StageTrace
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

SEQUENCER_LOCK_ID = 0x5E0_0001
REPUBLISH_SCAN = 256  # blocks-topic records looked at (from the end) for the last block this ledger published


Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


def timer_start(verified_at: str, timeout_s: float, *, now: float, wall_now: float) -> float:
    """When the batch timer of a block starts (``time.monotonic()`` scale): when its first verdict was signed
    (``verified_at``, the validator's clock), not when the sequencer read it, so the hop validator → accepted
    topic → sequencer is not waited for twice. Credited at most half the timeout, so a validator clock running
    behind cuts blocks at most twice as often; a clock ahead (or an unreadable time) credits nothing. Only when
    the time-to-cut marker is *published* depends on it; where blocks are cut stays in the topic."""
    try:
        age = wall_now - parse_event_time(verified_at).timestamp()
    except ValueError:
        age = 0.0
    return now - min(max(age, 0.0), timeout_s / 2)


class Sequencer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.signer = sequencer_signer(settings)
        self.sealed_blocks = 0
        self.sealed_events = 0
        self.quarantined = 0
        self.broker_resets = 0  # times a running loop found the broker had lost the accepted topic
        self.validators = self.load_validators()
        self._validators_due = 0.0
        self.offsets = OffsetTracker(None, settings.offset_gap_max_retries, "accepted")
        self.trace = StageTrace(settings, "sequencer")
        self._last_verified_at = ""  # of the last verdict record fed to the cutter (starts the batch timer)

    def load_validators(self) -> KeyRing:
        """The validator keys of the trust set (genesis ``validators``); none if there is no genesis file."""
        path = genesis_path(self.settings)
        if not path.exists():
            log.warning("no genesis file at %s: no validator is trusted, every verdict will be quarantined", path)
            return KeyRing()
        return load_validator_keys(path)

    def _refresh_validators(self) -> bool:
        """Re-read the genesis file (at most once a second): a validator key may have been listed since."""
        now = time.monotonic()
        if now < self._validators_due:
            return False
        self._validators_due = now + 1.0
        before = set(self.validators)
        self.validators = self.load_validators()
        return set(self.validators) != before

    async def run(self, stop: asyncio.Event) -> None:
        lock_conn = await db.connect(self.settings, role="sequencer")
        try:
            if not await self._acquire_lock(lock_conn, stop):
                return
            pool = await db.create_pool(self.settings, role="sequencer", min_size=1, max_size=2)
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
        await rotation.check_signer(store.pool, self.signer, self.settings, sealer.next_height)  # key rotations
        # every send of the sequencer is awaited before it goes on (markers, blocks): lingering would only delay it
        producer = clients.producer(self.settings, linger_ms=0)
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
                sealer.range_start = None  # the next block's range starts where the new topic does
            self.offsets = OffsetTracker(start, self.settings.offset_gap_max_retries, "accepted")
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
            await self._loop(store, sealer, consumer, producer, tp, stop)
        finally:
            await consumer.stop()
            await producer.stop()
            self.trace.close()

    async def _loop(self, store: LedgerStore, sealer: BlockSealer, consumer: AIOKafkaConsumer,
                    producer: AIOKafkaProducer, tp: TopicPartition, stop: asyncio.Event) -> None:
        """Fabric's Kafka-orderer loop: size limits cut at once; the timer only *publishes* a time-to-cut
        marker into the accepted topic, and the block is cut where the marker lands. Every cut point is
        therefore in the topic, and re-sealing the same topic gives byte-identical blocks.

        A broker that comes back empty while the loop runs (tansu in memory mode after a kill -9) is noticed
        by the offsets (:meth:`_topic_lost`), and the loop starts again as :meth:`_lead` does at start-up
        after such a loss: the new topic is read from its beginning (the next block's offset range starts
        there) and the blocks the new blocks topic lacks are republished; what the cutter held is then sealed
        (it was read from the lost topic, in order) and published after them."""
        s = self.settings
        cutter: BlockCutter[VerdictBatch] = BlockCutter(
            max_events=s.max_events_per_block, preferred_max_bytes=s.preferred_max_bytes,
            absolute_max_bytes=s.absolute_max_bytes,
        )
        timeout_s = s.batch_timeout_ms / 1000
        pending_since: float | None = None
        marker_sent_for: int | None = None
        while not stop.is_set():
            wait_s = timeout_s if pending_since is None else pending_since + timeout_s - time.monotonic()
            records = await self._fetch(consumer, tp, max(1, int(wait_s * 1000)))
            if records is None:  # the broker lost the topic
                await self._restart_reading(store, sealer, consumer, producer, tp)
                if cutter.pending_count:  # read from the lost topic, in order: sealed as they are
                    await self._seal_and_publish(sealer, producer, cutter.cut())
                sealer.range_start = None  # the next block's range starts where the new topic does
                pending_since = marker_sent_for = None
                continue
            for record in records:
                if sealer.range_start is None:
                    sealer.range_start = record.offset  # reading began at the topic's start
                pending = await self._consume(sealer, producer, cutter, record)
                if pending is not None:
                    if not pending:
                        # the cutter is empty: the next pending events need a marker of their own, at this
                        # height too (a cut of only duplicates seals no block and leaves the height as it was)
                        pending_since = marker_sent_for = None
                    elif pending_since is None:
                        pending_since = timer_start(self._last_verified_at, timeout_s, now=time.monotonic(),
                                                    wall_now=time.time())
            due = pending_since is not None and time.monotonic() - pending_since >= timeout_s
            if due and marker_sent_for != sealer.next_height:
                marker_sent_for = sealer.next_height
                sent_at = time.monotonic()
                await producer.send_and_wait(self.topics.accepted, b"", headers=[
                    ("ttc", str(sealer.next_height).encode())])
                self.trace.write(k="m", h=marker_sent_for, sent=sent_at, acked=time.monotonic())

    async def _getmany(self, consumer: AIOKafkaConsumer, tp: TopicPartition, timeout_ms: int) -> list[Record]:
        records = await consumer.getmany(tp, timeout_ms=timeout_ms, max_records=self.settings.max_events_per_block)
        out: list[Record] = records.get(tp, [])
        if out and self.trace.on:
            self.trace.write(k="r", t=time.monotonic(), lo=out[0].offset, hi=out[-1].offset)
        await metrics.consumer_lag("coalchain-sequencer", consumer)
        return out

    async def _fetch(self, consumer: AIOKafkaConsumer, tp: TopicPartition, timeout_ms: int) -> list[Record] | None:
        """The next contiguous records; on a hole in the offsets, seek back and re-read it next time.
        None: the broker lost the topic (see :meth:`_topic_lost`)."""
        fetched = await self._getmany(consumer, tp, timeout_ms)
        if await self._topic_lost(consumer, tp, fetched):
            return None
        records, seek_to = self.offsets.take(fetched)
        if seek_to is not None:
            consumer.seek(tp, seek_to)
        return records

    async def _topic_lost(self, consumer: AIOKafkaConsumer, tp: TopicPartition, fetched: list[Record]) -> bool:
        """Whether the accepted topic now ends before the offset the loop expects next: the broker came back
        without its data. Two signs, either enough to look: the fetch's high watermark is below the expected
        offset, or records below it arrived although the loop did not seek back to them (the consumer's
        position was beyond the new end, and the client reset it to the beginning: ``auto_offset_reset``).
        A benign re-read never shows either: after a hole the loop seeks back to the expected offset itself,
        so nothing below it is fetched, and the high watermark of a topic never goes down. The sign is then
        confirmed with a fresh read of the high watermark (:meth:`_end_offset`).

        Not seen by the offsets alone: a new topic that has grown past the expected offset before the loop's
        next fetch (the loop fetches continuously, so this needs that many records written within moments of
        the broker's return); it reads on from there, and the events in front are missing from the ledger
        until resubmitted, like any the broker lost (``coalchain reconcile`` names them)."""
        expected = self.offsets.expected
        if expected is None:
            return False
        mark = consumer.highwater(tp)
        if not ((mark is not None and mark < expected) or (fetched and fetched[0].offset < expected)):
            return False
        end = await self._end_offset(tp)
        if end >= expected:
            return False
        log.warning("the accepted topic now ends at offset %d but this sequencer has read up to %d: the broker"
                    " lost its data (e.g. a tansu restart); reading the new topic from its beginning", end,
                    expected - 1)
        return True

    async def _restart_reading(self, store: LedgerStore, sealer: BlockSealer, consumer: AIOKafkaConsumer,
                               producer: AIOKafkaProducer, tp: TopicPartition) -> None:
        """What :meth:`_lead` does at start-up on a broker that lost its data, for a running loop."""
        self.broker_resets += 1
        self.offsets = OffsetTracker(None, self.settings.offset_gap_max_retries, "accepted")
        await consumer.seek_to_beginning(tp)
        await self._republish_missing(store, producer)

    async def _consume(self, sealer: BlockSealer, producer: AIOKafkaProducer, cutter: BlockCutter[VerdictBatch],
                       record: Record) -> bool | None:
        """Check one record and feed it to the cutter, sealing what it cuts; return whether events are
        pending (None: the record changed nothing)."""
        ttc = ttc_height(record.headers)
        if ttc is not None:
            marker = check_marker(record.offset, record.value, ttc)
            if isinstance(marker, Quarantined):
                await self._quarantine(producer, [marker])
                return None
            if marker == sealer.next_height and cutter.pending_count:
                await self._seal_and_publish(sealer, producer, cutter.cut())
                return False
            return None
        batch, bad = check_verdict(record.offset, record.value, self.validators,
                                   max_event_bytes=self.settings.max_event_bytes)
        if bad and bad[0].reason == Reason.UNKNOWN_VALIDATOR_KEY and self._refresh_validators():
            batch, bad = check_verdict(record.offset, record.value, self.validators,
                                       max_event_bytes=self.settings.max_event_bytes)
        await self._quarantine(producer, bad)
        if batch is None:
            return None
        self._last_verified_at = batch.verified_at
        try:
            batches, pending = cutter.ordered(batch, batch.size, len(batch.entries))
        except ItemTooLarge as e:
            await self._quarantine(producer, [Quarantined(Reason.OVERSIZED, str(e), record.value or b"",
                                                          record.offset)])
            return None
        for cut in batches:
            await self._seal_and_publish(sealer, producer, cut)
        return pending

    async def _seal_and_publish(self, sealer: BlockSealer, producer: AIOKafkaProducer,
                                batch: list[VerdictBatch]) -> None:
        cut_at = time.monotonic()
        sealed, dups = await sealer.seal(batch)
        committed_at = time.monotonic()
        await self._reject_replays(producer, dups)
        if sealed is None:
            return
        self.sealed_blocks += 1
        self.sealed_events += sealed.row.leaf_count
        log.debug("sealed block height=%d events=%d tree_size=%d", sealed.row.height, sealed.row.leaf_count,
                  sealed.row.tree_size)  # INFO: the periodic summary (services.metrics.log_summary)
        metrics.block_sealed(sealed.row.height, sealed.event_times)
        await self._publish(producer, sealed)
        if self.trace.on:
            self.trace.write(k="b", h=sealed.row.height, first=sealed.row.first_offset, last=sealed.row.last_offset,
                             n=sealed.row.leaf_count, cut=cut_at, committed=committed_at, published=time.monotonic())

    async def _publish(self, producer: AIOKafkaProducer, sealed: Sealed) -> None:
        value = blockmsg.encode(sealed.row.header, sealed.row.signatures, sealed.leaves, sealed.row.checkpoint)
        await producer.send_and_wait(self.topics.blocks, value, key=str(sealed.row.height).encode())

    async def _reject_replays(self, producer: AIOKafkaProducer, dups: list[Duplicate]) -> None:
        replays = []
        for d in dups:
            if d.redelivery:
                log.debug("dropped redelivered event %s", d.event_id)
            else:
                m = d.message
                replays.append(Quarantined(Reason.REPLAY, f"event id {d.event_id} is already sealed", m.leaf,
                                           m.offset, m.raw_partition, m.raw_offset))
        await self._quarantine(producer, replays)

    async def _quarantine(self, producer: AIOKafkaProducer, items: list[Quarantined]) -> None:
        """Send each to the rejected topic (reason, detail, stage, positions) and wait for the broker."""
        futures = []
        for q in items:
            self.quarantined += 1
            metrics.event_rejected(q.reason.value)
            log.warning("quarantined accepted-topic offset %d: %s: %s", q.offset, q.reason.value, q.detail)
            headers = [
                ("reason", q.reason.value.encode()),
                ("detail", json.dumps({"reason": q.reason.value, "detail": q.detail}, ensure_ascii=False).encode()),
                ("stage", b"sequencer"),
                ("accepted-offset", str(q.offset).encode()),
            ]
            if q.raw_partition is not None and q.raw_offset is not None:
                headers += [("raw-partition", str(q.raw_partition).encode()),
                            ("raw-offset", str(q.raw_offset).encode())]
            futures.append(await producer.send(self.topics.rejected, q.value, headers=headers))
        if futures:
            await asyncio.gather(*futures)

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
