"""The faust-streaming app of ``coalchain views``: one agent over the blocks topic feeding :class:`ViewsWorker`.

The blocks topic has one partition, so one worker of the consumer group folds at a time and a standby
takes over on a rebalance. Which blocks are folded is decided by the stored height in PostgreSQL, not by
the group's committed offset: that offset only saves re-reading. So a block is never folded twice and
never skipped, whether the worker restarts, the group's offsets are lost or the views are rebuilt — on a
gap the agent seeks back to offset ``stored height + 1`` (every height is published at least once, in
order, so the first copy of height h sits at offset h or later).

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
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types import TP

from services.config import Settings
from services.kafka.clients import MAX_MESSAGE_BYTES
from services.kafka.topics import Topics
from services.views.worker import Outcome, ViewsWorker

log = logging.getLogger(__name__)

MAX_RETRY_WAIT_S = 30.0
SEEK_AGAIN_S = 5.0  # still seeing a gap this long after seeking back: seek again (the seek may have been lost)
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
        self._sought_for: int | None = None
        self._sought_at = 0.0
        self.applied = 0

    async def _fold(self, stream: Any) -> None:
        async for event in stream.events():
            await self._handle(event.message.offset, event.value)

    async def _handle(self, offset: int, value: bytes) -> None:
        wait_s = 0.5
        while True:
            try:
                result = await self.worker.apply(value)
                break
            except Exception:  # the database is down, or a bug: never skip a block, retry until it folds
                log.exception("views: folding the block at offset %d failed; retrying in %.1f s", offset, wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, MAX_RETRY_WAIT_S)
        if result.outcome is Outcome.APPLIED:
            self.applied += 1
            self._sought_for = None
        elif result.outcome is Outcome.GAP:
            await self._seek_back(result.stored_height + 1, seen=result.height)

    async def _seek_back(self, height: int, seen: int) -> None:
        now = time.monotonic()
        if self._sought_for == height and now - self._sought_at < SEEK_AGAIN_S:
            return  # already reading from there: these were buffered before the seek
        log.warning("views: next block is %d but the topic gave %d; reading again from offset %d", height, seen, height)
        self._sought_for, self._sought_at = height, now
        await self.app.consumer.seek(TP(self.blocks, 0), height)

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    @property
    def crashed(self) -> bool:
        return bool(self.app.crashed)
