"""The faust-streaming app of ``coalchain views``: one agent over the blocks topic feeding :class:`ViewsWorker`.

The blocks topic has one partition, so one worker of the consumer group folds at a time and a standby
takes over on a rebalance. Which blocks are folded is decided by the stored height in PostgreSQL, not by
the group's committed offset: that offset only saves re-reading. So a block is never folded twice and
never skipped, whether the worker restarts, the group's offsets are lost or the views are rebuilt — on a
gap (a genuine, signed block beyond the next height) the agent reads the topic again itself, with a plain
consumer outside the group, from offset ``stored height + 1`` (every height is published at least once, in
order, so the first copy of height h sits at offset h or later) up to that block, then goes on with the
stream. (It used to seek faust's consumer back instead: faust's fetch loop then set its read offset to the
record it was handing over when the seek happened and dropped every re-read record below it, so under
load the views stayed at a gap for good — "next block is 32 but the topic gave N".) Records the worker
rejects (forged, garbage, unlinked) are skipped and never send it reading.

faust settings chosen for tansu (dev/CI) and fine on Kafka: a short session (10 s; tansu completes a join
after about half of it), 1 s heartbeats, no idempotent producer (this app produces nothing but faust's own
assignor topic), an app id and internal topic names derived from the topic prefix so test runs never
share them, a small stream buffer (blocks can be megabytes), a 100 ms fetch wait (faust's fixed 1.5 s
delayed blocks by up to 0.5 s on tansu), and the web server off unless configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_kafka

from services import metrics
from services.config import Settings
from services.kafka import clients
from services.kafka.clients import MAX_MESSAGE_BYTES
from services.kafka.topics import Topics
from services.views.worker import Outcome, Result, ViewsWorker

log = logging.getLogger(__name__)

MAX_RETRY_WAIT_S = 30.0
IDLE_CHECK_S = 5.0  # tick(): no block folded for this long -> compare with the ledger
CATCH_UP_BUDGET_S = 60.0  # one catch-up reads at most this long, then the stream is served again (and resumes it)
FETCH_MAX_WAIT_MS = 100  # faust hard-codes 1500 ms; tansu answers a waiting fetch late, so blocks arrived late


class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    logger = logging.getLogger("faust.transport.coalchain")  # under "faust": quieted like the rest of faust

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start(); no public knob
        return consumer


class _Consumer(faust_kafka.Consumer):
    logger = logging.getLogger("faust.transport.coalchain")

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_kafka.Transport):
    """faust's aiokafka transport with a short fetch wait: a sealed block reaches the fold in milliseconds
    instead of up to half a second (measured on tansu), for the price of a few idle fetches a second."""

    Consumer = _Consumer


def app_id(settings: Settings) -> str:
    return f"{settings.kafka_topic_prefix}coalchain-views"


def build_app(settings: Settings) -> faust.App:
    return faust.App(
        app_id(settings),
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap_servers.split(",") if host.strip()],
        store="memory://",
        **clients.faust_security(settings),
        datadir=str(settings.home / "views-faust"),
        web_enabled=settings.views_web_enabled,
        web_bind=settings.views_web_host,
        web_port=settings.views_web_port,
        web_host=settings.views_web_host,
        broker_session_timeout=10,
        broker_rebalance_timeout=6,
        broker_heartbeat_interval=1,
        broker_request_timeout=max(settings.kafka_request_timeout_ms / 1000, 11),
        broker_max_poll_records=16,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        stream_buffer_maxsize=16,
        topic_replication_factor=1,
        topic_partitions=1,
    )


class ViewsApp:
    """The faust app with its one agent, bound to a started :class:`ViewsWorker`."""

    def __init__(self, settings: Settings, worker: ViewsWorker) -> None:
        self.settings = settings
        self.worker = worker
        self.app = build_app(settings)
        self.app.transport = _Transport(self.app.conf.broker_consumer, self.app)
        self.blocks = Topics.from_settings(settings).blocks
        self.topic = self.app.topic(self.blocks, key_type=bytes, value_type=bytes, key_serializer="raw",
                                    value_serializer="raw", partitions=1, internal=False)
        self.app.agent(self.topic, name="views-fold-blocks", concurrency=1)(self._fold)
        self._lock = asyncio.Lock()  # the agent and the catch-up share one worker
        self._last_tick = (time.monotonic(), -2)  # (when, worker height then)
        self.applied = 0

    async def _fold(self, stream: Any) -> None:
        async for event in stream.events():
            await self._handle(event.message.offset, event.value)
            metrics.block_viewed(event.message.timestamp)  # the blocks-topic record is written after the commit

    async def _handle(self, offset: int, value: bytes) -> None:
        async with self._lock:
            result = await apply_retrying(self.worker, offset, value)
            if result.outcome is Outcome.APPLIED:
                self.applied += 1
            elif result.outcome is Outcome.GAP:
                log.warning("views: next block is %d but the topic gave %d; reading the topic again from offset %d",
                            result.stored_height + 1, result.height, result.stored_height + 1)
                await self._catch_up(result.height)

    async def _catch_up(self, through: int) -> None:
        try:
            self.applied += await fold_from_topic(self.settings, self.worker, through, CATCH_UP_BUDGET_S)
        except Exception as e:  # the broker is away: tick() tries again once the worker has been idle a while
            log.warning("views: reading the blocks topic again failed: %s: %s", type(e).__name__, e)

    async def tick(self) -> None:
        """Called by the serving loop: if the worker has folded nothing for :data:`IDLE_CHECK_S` while the
        ledger is further on (a catch-up that paused, a rebuild elsewhere, a block the stream never handed
        over), read the topic again from the stored height. One cheap query when nothing is wrong."""
        now = time.monotonic()
        at, seen = self._last_tick
        if now - at < IDLE_CHECK_S or self._lock.locked():
            return
        self._last_tick = (now, self.worker.height)
        if self.worker.height != seen:
            return  # folding: nothing to do
        ledger = await self.worker.store.pool.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")
        stored = (await self.worker.store.progress()).height
        if ledger > stored or stored != self.worker.height:
            async with self._lock:
                log.warning("views: at height %d (stored %d) while the ledger is at %d; reading the topic again",
                            self.worker.height, stored, ledger)
                await self.worker.resync()
                await self._catch_up(ledger)
            self._last_tick = (time.monotonic(), self.worker.height)

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    @property
    def crashed(self) -> bool:
        return bool(self.app.crashed)


async def apply_retrying(worker: ViewsWorker, offset: int, value: bytes) -> Result:
    """``worker.apply`` until it answers: a failure here is the database, not the block (the worker checks,
    rejects and quarantines what is wrong with a block), so it is retried, never skipped."""
    wait_s = 0.5
    while True:
        try:
            return await worker.apply(value, offset)
        except Exception:
            log.exception("views: folding the block at offset %d failed; retrying in %.1f s", offset, wait_s)
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, MAX_RETRY_WAIT_S)


async def fold_from_topic(settings: Settings, worker: ViewsWorker, through: int | None,
                          budget_s: float | None = None) -> int:
    """Read the blocks topic from offset ``worker.height + 1`` with a plain consumer (no group) and apply
    every record, until the worker is at height ``through`` (``None``: no limit), the end of the topic, or
    ``budget_s``. Returns the number of blocks folded."""
    topic = Topics.from_settings(settings).blocks
    tp = TopicPartition(topic, 0)
    consumer = clients.consumer(settings)
    await consumer.start()
    folded = 0
    started = time.monotonic()
    try:
        consumer.assign([tp])
        consumer.seek(tp, max(0, worker.height + 1))
        idle = 0
        while through is None or worker.height < through:
            if budget_s is not None and time.monotonic() - started > budget_s:
                log.info("views: catch-up paused at height %d (resumes shortly)", worker.height)
                break
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=16)
            records = batch.get(tp, [])
            for record in records:
                result = await apply_retrying(worker, record.offset, record.value or b"")
                folded += result.outcome is Outcome.APPLIED
                if through is not None and worker.height >= through:
                    break
            mark = consumer.highwater(tp)  # (tansu's end_offsets under-reports; the fetch's high watermark not)
            idle = 0 if records else idle + 1
            if not records and ((mark is not None and await consumer.position(tp) >= mark) or idle >= 20):
                break  # the end of the topic
    finally:
        await consumer.stop()
    log.info("views: read the blocks topic again, %d blocks folded, now at height %d", folded, worker.height)
    return folded
