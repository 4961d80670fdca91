"""``coalchain validator``: one member of the validators' consumer group over the raw topic.

Per fetched batch: check every event (``checks``), tell replays from redeliveries with the ledger and a
local memory of ids, send the rejections and ONE signed verdict record holding the batch's accepted events
(canonical bytes + raw positions; split in several records above ``verdict_max_bytes``, format in
``chain_anchor.verdict``) to the accepted topic, wait until the broker has acknowledged all of them, and only
then commit the consumed offsets (at most once a second): at-least-once; the sequencer removes the duplicates a
crash can cause.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord

from chain_anchor.keys import Signer
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services import db, metrics
from services.config import Settings
from services.kafka import clients
from services.kafka.offsets import DEFAULT_MAX_RETRIES, Contiguity, start_offset
from services.kafka.topics import Topics
from services.keyfiles import ensure_development_validator, validator_signer
from services.receipts.shipment import RECEIPT_NAMES
from services.registry import Registry, fold_sealed_registry_events, load_genesis
from services.stagetrace import StageTrace
from services.store.postgres import LedgerStore
from services.validator import binding
from services.validator.checks import Accept, Checker, Decision, Reject
from services.validator.reasons import Reason
from services.validator.rules import LedgerRules

log = logging.getLogger(__name__)

GROUP_ID = "coalchain-validators"
REGISTRY_REFRESH_S = 1.0
COMMIT_INTERVAL_S = 1.0
"""At most one offset commit per this many seconds (see :class:`Committer`)."""
LAG_INTERVAL_S = 1.0
"""The consumer-lag gauge is refreshed at most this often (Prometheus scrapes every few seconds)."""
REGISTRY_MISSES = (Reason.UNKNOWN_PARTICIPANT, Reason.UNKNOWN_KEY)
GC_THRESHOLD = (50_000, 20, 10)
"""The collector's thresholds while a validator runs. Checking one event allocates ~20 container objects
(the decoded envelope, the typed model, the decision) that die with their batch; with Python's default
(700, 10, 10) the collector walked them ~9 µs per event, with these ~1 µs (measured over 20,000 simulator
events in 2,000-event batches). Cycles are still collected, just in larger steps."""
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


class SeenIds:
    """Bounded memory of accepted event ids -> raw (partition, offset)."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._ids: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._capacity = capacity

    def get(self, event_id: str) -> tuple[int, int] | None:
        return self._ids.get(event_id)

    def add(self, event_id: str, position: tuple[int, int]) -> None:
        self._ids[event_id] = position
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def clear(self) -> None:
        self._ids.clear()

    def __len__(self) -> int:
        return len(self._ids)


class Positions(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka's listener class is untyped
    """Where this validator's reading of each raw partition stands, to notice a broker that lost its data.

    :class:`SeenIds` remembers events accepted but perhaps not yet sealed; after a broker came back empty
    (tansu in memory mode) those verdicts are gone, and the publisher resubmits the events by id at new
    raw positions — which that memory would reject as replays of an event that is in no block. So the
    memory is forgotten whenever the reading of the raw topic starts over: a partition assigned anew
    (after a broker restart the group is rebuilt from nothing), a fetch whose high watermark is below what
    was read (the topic is shorter than it was), or records below what was read (the client reset a
    position beyond the new end to the beginning). Forgetting is always safe: the sequencer dedupes by event
    id against the ledger (a replay of a sealed event is rejected there as ``replay``)."""

    def __init__(self, seen: SeenIds, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self.seen = seen
        self.contiguity = Contiguity("raw", max_retries)
        self.restarts = 0

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._forget("partitions assigned")

    async def check(self, consumer: AIOKafkaConsumer,
                    batches: dict[TopicPartition, list[Record]]) -> dict[TopicPartition, list[Record]]:
        """Call with each fetch before processing it: returns the part of it to process, each partition's
        records up to its first hole (:mod:`services.kafka.offsets`; the partition is sought back to the hole
        and read again). The first fetch of a partition after it was assigned is checked against where the group
        starts reading it (its committed offset, or the partition's first): a fetch that starts beyond has a hole
        too; one that starts before it is a broker that lost its data and reset the position."""
        for tp, records in batches.items():
            if not records:
                continue
            tracker = self.contiguity.trackers.get(tp)
            if tracker is None:
                start = await start_offset(consumer, tp)
                self.contiguity.expect(tp, start if start is not None and start <= records[0].offset else None)
                continue
            expected = tracker.expected
            if expected is not None:
                mark = consumer.highwater(tp)
                if (mark is not None and mark < expected) or records[0].offset < expected:
                    log.warning("raw partition %d is read again from offset %d (this validator had read up to"
                                " %d; high watermark %s): a rebalance, or a broker that lost its data",
                                tp.partition, records[0].offset, expected - 1, mark)
                    self._forget(f"partition {tp.partition} read again")
        return self.contiguity.take(consumer, batches)

    def _forget(self, why: str) -> None:
        if len(self.seen):
            log.info("forgetting %d accepted event ids (%s): the ledger and the sequencer still catch replays",
                     len(self.seen), why)
        self.seen.clear()
        self.contiguity.forget()
        self.restarts += 1


@dataclass(frozen=True)
class InFlight:
    """A batch whose outcomes were sent: its offsets may be committed only once the broker acked them all, so
    a crash re-reads it (at-least-once). Settling one batch late lets the acks overlap the next batch's work."""

    acks: list[asyncio.Future[object]]
    offsets: dict[TopicPartition, int]


class Committer:
    """Commits the consumed offsets whose outcomes the broker acknowledged, at most every ``interval_s``.

    One OffsetCommit per fetched batch cost a broker round trip per batch — at moderate rates a batch holds a
    handful of events, so that was most of a validator's per-event work. Committing less often only widens
    what a crash or a rebalance makes the next owner read again: those records are redeliveries, dropped
    against the ledger's sealed positions or by the sequencer's dedupe, never sealed twice."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.acked: dict[TopicPartition, int] = {}
        self._due = 0.0
        self.commits = 0

    async def settle(self, batch: InFlight) -> None:
        """Wait for ``batch``'s acknowledgements; its offsets become committable."""
        await asyncio.gather(*batch.acks)
        self.acked.update(batch.offsets)

    def forget(self) -> None:
        """Drop what is not committed yet: the reading of the raw topic started over (:class:`Positions`), and
        an offset of the old reading could skip records of the new one. Not committing is always safe."""
        self.acked.clear()

    async def commit(self, consumer: AIOKafkaConsumer, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.acked or (not force and now < self._due):
            return
        mine = consumer.assignment()  # a partition moved to another validator meanwhile is its to commit
        offsets = {tp: offset for tp, offset in self.acked.items() if tp in mine}
        self.acked = {}
        if not offsets:
            return
        self._due = now + self.interval_s
        try:
            await consumer.commit(offsets)
            self.commits += 1
        except (CommitFailedError, IllegalStateError) as e:  # partitions moved to another validator meanwhile
            log.warning("offsets not committed (%s); the new owner re-validates, duplicates are dropped", e)


@dataclass
class Stats:
    accepted: int = 0
    rejected: int = 0
    redelivered: int = 0


VERDICT_OVERHEAD_BYTES = 256  # tag, key id, signature, verified_at, count
ENTRY_OVERHEAD_BYTES = 16  # raw partition, raw offset, leaf length


def verdict_chunks(entries: list[VerdictEntry], *, max_bytes: int, max_entries: int) -> Iterator[list[VerdictEntry]]:
    """Split a batch's entries, in order, into runs that each encode to at most ``max_bytes`` (an entry
    larger than that on its own travels alone) and hold at most ``max_entries``."""
    chunk: list[VerdictEntry] = []
    size = VERDICT_OVERHEAD_BYTES
    for e in entries:
        cost = ENTRY_OVERHEAD_BYTES + len(e.leaf)
        if chunk and (size + cost > max_bytes or len(chunk) >= max_entries):
            yield chunk
            chunk, size = [], VERDICT_OVERHEAD_BYTES
        chunk.append(e)
        size += cost
    if chunk:
        yield chunk


def rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Validator:
    def __init__(self, settings: Settings, registry: Registry, signer: Signer | None = None) -> None:
        """``signer`` signs the verdicts; default: the key file of the settings (in development created if
        missing and listed in the genesis file's ``validators``, so the sequencer trusts it)."""
        self.settings = settings
        if signer is None:
            signer = ensure_development_validator(settings) if settings.is_development() else validator_signer(settings)
        self.signer = signer
        self.topics = Topics.from_settings(settings)
        self.registry = registry
        self.checker = Checker(registry, max_event_bytes=settings.max_event_bytes,
                               max_future_s=settings.event_time_max_future_s, max_past_s=settings.event_time_max_past_s)
        self.rules = LedgerRules()
        self.seen = SeenIds()
        self.positions = Positions(self.seen, settings.offset_gap_max_retries)
        self.stats = Stats()
        self._registry_due = 0.0
        self.trace = StageTrace(settings, "validator")
        self._verdict_futures: list[asyncio.Future[object]] = []  # of the last batch, for the stage trace

    async def run(self, stop: asyncio.Event) -> None:
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        try:
            await self._run(stop)
        finally:
            gc.set_threshold(*thresholds)

    async def _run(self, stop: asyncio.Event) -> None:
        # the validator's queries set no session state: no reset round trip per query (db.create_pool)
        # index lookups: the receipt tables start empty and grow under a long-lived process (db.create_pool)
        pool = await db.create_pool(self.settings, role="validator", min_size=1, max_size=2, reset_session=False,
                                    index_lookups=True)
        store = LedgerStore(pool)
        consumer = clients.consumer(self.settings, group_id=self.settings.topic(GROUP_ID), max_poll_records=2000)
        consumer.subscribe([self.topics.raw], listener=self.positions)
        # one verdict record per fetched batch, sent as soon as the batch is checked: lingering would only delay it
        producer = clients.producer(self.settings, linger_ms=0)
        await producer.start()
        await consumer.start()
        try:
            await self.refresh_registry(store)
            committer = Committer(COMMIT_INTERVAL_S)
            in_flight: InFlight | None = None
            lag_due = 0.0
            restarts = self.positions.restarts
            while not stop.is_set():
                fetched = await self._getmany(consumer)
                fetched_at = time.monotonic()
                batches = await self.positions.check(consumer, fetched)
                if self.positions.restarts != restarts:  # assigned anew, or the broker lost the topic
                    restarts = self.positions.restarts
                    committer.forget()
                    if in_flight is not None:  # its acks still count; its offsets belong to the old reading
                        in_flight = InFlight(in_flight.acks, {})
                records = [r for rs in batches.values() for r in rs]
                if (now := time.monotonic()) >= lag_due:
                    lag_due = now + LAG_INTERVAL_S
                    await metrics.consumer_lag(GROUP_ID, consumer)
                sent = await self.process(store, producer, records) if records else None
                if self.trace.on and records:
                    self._trace_batch(batches, fetched_at)
                # the previous batch's acks have arrived meanwhile (or we wait for them now)
                if in_flight is not None:
                    await committer.settle(in_flight)
                in_flight = InFlight(sent, {tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs}) \
                    if sent is not None else None
                await committer.commit(consumer)
                if time.monotonic() >= self._registry_due:
                    await self.refresh_registry(store)
            if in_flight is not None:
                await committer.settle(in_flight)
            await committer.commit(consumer, force=True)
            log.info("validator stopping: %d accepted, %d rejected, %d redeliveries of sealed events dropped",
                     self.stats.accepted, self.stats.rejected, self.stats.redelivered)
        finally:
            await consumer.stop()
            await producer.stop()
            await pool.close()
            self.trace.close()

    async def _getmany(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        batches: dict[TopicPartition, list[Record]] = await consumer.getmany(timeout_ms=500, max_records=2000)
        return batches

    def _trace_batch(self, batches: dict[TopicPartition, list[Record]], fetched_at: float) -> None:
        """Stage trace: when the batch was fetched, its verdicts sent and acknowledged, and where they landed."""
        sent_at = time.monotonic()
        positions = [[tp.partition, rs[0].offset, rs[-1].offset] for tp, rs in batches.items() if rs]
        futures = self._verdict_futures
        if not futures:
            return

        def acked(done: asyncio.Future[list[object]]) -> None:
            offsets = [getattr(r, "offset", None) for r in done.result()]
            self.trace.write(k="v", fetch=fetched_at, sent=sent_at, acked=time.monotonic(), pos=positions,
                             acc=offsets)

        asyncio.gather(*futures, return_exceptions=True).add_done_callback(acked)

    async def refresh_registry(self, store: LedgerStore) -> int:
        """Fold registry events sealed since the last call: an index range scan on (type, leaf_index) per
        registry type (exact types, not LIKE: a parameterised LIKE cannot use the index)."""
        self._registry_due = time.monotonic() + REGISTRY_REFRESH_S
        return await fold_sealed_registry_events(self.registry, store)

    async def process(self, store: LedgerStore, producer: AIOKafkaProducer,
                      records: list[Record]) -> list[asyncio.Future[object]]:
        """Check ``records`` and send each outcome; return the broker acknowledgements to wait for."""
        records = [binding.structured(r) for r in records]  # CloudEvents binary mode -> structured
        self.checker.now = datetime.now(UTC)  # one clock reading per batch for the time window
        checked = [binding.check(self.checker, r) for r in records]
        # a participant or key registered moments ago: fold the newest registry events, then check again
        missed = any(isinstance(d, Reject) and d.reason in REGISTRY_MISSES for d in checked)
        if missed and await self.refresh_registry(store):
            checked = [binding.check(self.checker, r) if isinstance(d, Reject) and d.reason in REGISTRY_MISSES
                       else d for r, d in zip(records, checked, strict=True)]
        decisions = await self.rules.apply(store, await self._replays(store, records, checked))
        futures = []
        accepted: list[VerdictEntry] = []
        for record, decision in zip(records, decisions, strict=True):
            if isinstance(decision, Accept):
                accepted.append(VerdictEntry(record.partition, record.offset, decision.leaf))
            elif decision is not None:
                futures.append(await self._send_reject(producer, record, decision))
        self.stats.accepted += len(accepted)
        metrics.event_accepted(len(accepted))
        futures += await self._send_verdicts(producer, accepted)
        return futures

    async def _send_verdicts(self, producer: AIOKafkaProducer,
                             entries: list[VerdictEntry]) -> list[asyncio.Future[object]]:
        """One signed verdict record per run of ``verdict_max_bytes`` (and ``max_events_per_block``)."""
        self._verdict_futures = []
        if not entries:
            return []
        verified_at = rfc3339_now()
        futures = []
        for chunk in verdict_chunks(entries, max_bytes=self.settings.verdict_max_bytes,
                                    max_entries=self.settings.max_events_per_block):
            value = encode_verdict(chunk, verified_at, self.signer)
            fut: asyncio.Future[object] = await producer.send(self.topics.accepted, value)
            futures.append(fut)
        if self.trace.on:
            self._verdict_futures = futures
        return futures

    async def _replays(self, store: LedgerStore, records: list[Record],
                       decisions: list[Decision]) -> list[Decision | None]:
        """Replace replays by Reject(REPLAY); drop redeliveries of already-sealed receipts (None).

        Replays are caught against this process's memory of accepted ids (:class:`SeenIds`). The ledger's
        sealed ids are looked up for receipts only, so that a replayed receipt is a ``replay`` and not a
        broken ``receipt.once-per-shipment`` rule: for every other event the sequencer's dedupe by event id
        (the ledger's unique index, looked up only when it refuses a block) rejects a replay of a sealed event
        as ``replay`` and drops a redelivery, so a query per batch here would pay twice for the same check."""
        ids = [d.event.id for d in decisions  # canonical UUID text: schema-checked
               if isinstance(d, Accept) and d.event.name in RECEIPT_NAMES]
        sealed = {str(k): v for k, v in (await store.sealed_positions(ids)).items()} if ids else {}
        out: list[Decision | None] = []
        for record, d in zip(records, decisions, strict=True):
            if not isinstance(d, Accept):
                out.append(d)
                continue
            here = (record.partition, record.offset)
            prior = sealed.get(d.event.id) or self.seen.get(d.event.id)
            if prior is None or prior == here:
                if prior == here and d.event.id in sealed:
                    self.stats.redelivered += 1
                    out.append(None)  # already sealed from this very position: nothing to do
                    continue
                self.seen.add(d.event.id, here)
                out.append(d)
            else:
                out.append(Reject(Reason.REPLAY, f"event id {d.event.id} was already accepted from partition"
                                  f" {prior[0]} offset {prior[1]}", event_id=d.event.id))
        return out

    async def _send_reject(self, producer: AIOKafkaProducer, record: Record,
                           decision: Reject) -> asyncio.Future[object]:
        position = [("raw-partition", str(record.partition).encode()), ("raw-offset", str(record.offset).encode())]
        self.stats.rejected += 1
        metrics.event_rejected(decision.reason.value)
        log.info("rejected %s at %s/%s: %s", decision.reason.value, record.partition, record.offset, decision.detail)
        headers = [("reason", decision.reason.value.encode()), ("detail", decision.detail_json()),
                   ("stage", b"validator"), *position]
        fut: asyncio.Future[object] = await producer.send(self.topics.rejected, record.value, key=record.key,
                                                          headers=headers)
        return fut


def load_registry(settings: Settings) -> Registry:
    path = settings.genesis_file or settings.home / "genesis.json"
    return load_genesis(path)


async def run_validator(settings: Settings, stop: asyncio.Event, signer: Signer | None = None) -> None:
    await Validator(settings, load_registry(settings), signer).run(stop)
