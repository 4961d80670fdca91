"""Offset contiguity: a consumer hands on only a run of records without holes.

A broker may hand a live consumer later offsets before earlier ones (tansu 0.6.0 under load does: 30 of
73,420 offsets skipped in one run, every one of them there on a re-read). A consumer that processed such a
fetch as it came, and then committed or stored its position, would never see the skipped records: an
acknowledged event would be neither sealed nor rejected. So every process that consumes a topic it must
read completely (validators: raw; sequencer: accepted; the API's rejection recorder and ``coalchain
reconcile``: rejected) cuts each fetch at the first hole and seeks back to re-read it.

On Apache Kafka a hole can be real: a transactional producer's control records and compaction leave offsets
that no fetch returns. After ``max_retries`` re-reads of the same missing offset the tracker moves on and
counts the offsets it gave up on (:attr:`OffsetTracker.skipped`, logged as an error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

log = logging.getLogger(__name__)

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
DEFAULT_MAX_RETRIES = 20


@dataclass
class OffsetTracker:
    """The next expected offset of one partition (None: adopt the first offset fetched)."""

    expected: int | None
    max_retries: int = DEFAULT_MAX_RETRIES
    label: str = "partition"
    gaps: int = 0  # holes seen (each answered by a re-read)
    skipped: int = 0  # offsets given up on
    _retries: int = 0

    def take(self, records: list[Record]) -> tuple[list[Record], int | None]:
        """The contiguous records from ``expected`` on, and the offset to seek back to (None: no hole).
        Records below ``expected`` (read before; a re-read after seeking back) are dropped."""
        out: list[Record] = []
        for r in records:
            if self.expected is None:
                self.expected = r.offset
            if r.offset < self.expected:
                continue
            if r.offset > self.expected:
                if self._retries < self.max_retries:
                    self._retries += 1
                    self.gaps += 1
                    log.warning("%s: offsets %d..%d missing from a fetch that returned %d; re-reading from %d"
                                " (retry %d)", self.label, self.expected, r.offset - 1, r.offset, self.expected,
                                self._retries)
                    return out, self.expected
                log.error("%s: offsets %d..%d still missing after %d re-reads; going on at %d",
                          self.label, self.expected, r.offset - 1, self._retries, r.offset)
                self.skipped += r.offset - self.expected
            self._retries = 0
            self.expected = r.offset + 1
            out.append(r)
        return out, None


@dataclass
class Contiguity:
    """One :class:`OffsetTracker` per partition of a consumer: :meth:`take` returns the contiguous part of a
    ``getmany`` result and seeks each partition with a hole back to it."""

    topic_label: str
    max_retries: int = DEFAULT_MAX_RETRIES
    trackers: dict[TopicPartition, OffsetTracker] = field(default_factory=dict)
    _gaps: int = 0  # of trackers dropped by expect() / forget()
    _skipped: int = 0

    def tracker(self, tp: TopicPartition, expected: int | None = None) -> OffsetTracker:
        t = self.trackers.get(tp)
        if t is None:
            label = f"{self.topic_label} partition {tp.partition}"
            t = self.trackers[tp] = OffsetTracker(expected, self.max_retries, label)
        return t

    def expect(self, tp: TopicPartition, offset: int | None) -> None:
        """Start ``tp`` at ``offset`` (where the consumer was just positioned; None: its first record)."""
        self._drop(self.trackers.pop(tp, None))
        self.tracker(tp, offset)

    def forget(self) -> None:
        """Start every partition over at its first record (the reading started over: a rebalance)."""
        for t in self.trackers.values():
            self._drop(t)
        self.trackers.clear()

    def _drop(self, t: OffsetTracker | None) -> None:
        if t is not None:
            self._gaps += t.gaps
            self._skipped += t.skipped

    @property
    def gaps(self) -> int:
        """Holes seen so far (each answered by a re-read)."""
        return self._gaps + sum(t.gaps for t in self.trackers.values())

    @property
    def skipped(self) -> int:
        """Offsets given up on after ``max_retries`` re-reads."""
        return self._skipped + sum(t.skipped for t in self.trackers.values())

    def take(self, consumer: AIOKafkaConsumer,
             batches: dict[TopicPartition, list[Record]]) -> dict[TopicPartition, list[Record]]:
        out: dict[TopicPartition, list[Record]] = {}
        for tp, records in batches.items():
            if not records:
                continue
            kept, seek_to = self.tracker(tp).take(records)
            if seek_to is not None:
                consumer.seek(tp, seek_to)
            if kept:
                out[tp] = kept
        return out


async def start_offset(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """Where a group consumer newly assigned ``tp`` starts reading: the group's committed offset, or without
    one the partition's first offset (the services' consumers reset to ``earliest``). None: the broker could
    not say."""
    try:
        offset: int | None = await consumer.committed(tp)
        if offset is None:
            offset = (await consumer.beginning_offsets([tp])).get(tp)
    except KafkaError as e:
        log.warning("start offset of %s/%d unknown (%s): its first fetch is taken as it comes", tp.topic,
                    tp.partition, e)
        return None
    return offset
