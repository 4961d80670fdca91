"""Watching a running pipeline from outside: sealed tree size (PostgreSQL), accepted and rejected counts
(topic high watermarks), sampled on one clock (``time.perf_counter``) into a timeline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.cpu import CpuMeter
from bench.kafkaio import end_offsets
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics, load_topics


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    sealed: int
    accepted: int  # accepted-topic messages (includes the sequencer's time-to-cut markers)
    rejected: int
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process so far (bench.cpu)


@dataclass
class Monitor:
    settings: Settings
    conn: asyncpg.Connection
    consumer: AIOKafkaConsumer
    timeline: list[Sample] = field(default_factory=list)
    cpu: CpuMeter | None = None

    @classmethod
    async def open(cls, settings: Settings, cpu: CpuMeter | None = None) -> Monitor:
        conn = await asyncpg.connect(settings.database_url)
        consumer = clients.consumer(settings)
        await consumer.start()
        return cls(settings, conn, consumer, cpu=cpu)

    async def close(self) -> None:
        await self.consumer.stop()
        await self.conn.close()

    async def sealed(self) -> int:
        size = await self.conn.fetchval("SELECT max(tree_size) FROM ledger_blocks")
        return int(size or 0)

    async def sample(self) -> Sample:
        topics, specs = Topics.from_settings(self.settings), load_topics()
        s = Sample(
            time.perf_counter(), await self.sealed(),
            await end_offsets(self.consumer, topics.accepted, specs["accepted"].partitions),
            await end_offsets(self.consumer, topics.rejected, specs["rejected"].partitions),
            self.cpu.snapshot() if self.cpu else {},
        )
        self.timeline.append(s)
        return s


def time_at(timeline: list[Sample], value: float, attr: str) -> float | None:
    """First time ``attr`` reached ``value``, linearly interpolated between samples."""
    prev: Sample | None = None
    for s in timeline:
        v = getattr(s, attr)
        if v >= value:
            if prev is None:
                return s.t
            pv = getattr(prev, attr)
            frac = (value - pv) / (v - pv) if v != pv else 1.0
            return prev.t + frac * (s.t - prev.t)
        prev = s
    return None


def steady_rate(timeline: list[Sample], total: int, attr: str, lo: float = 0.1, hi: float = 0.9) -> float | None:
    """Events/s between ``lo`` and ``hi`` of ``total`` (startup and tail left out)."""
    t_lo, t_hi = time_at(timeline, lo * total, attr), time_at(timeline, hi * total, attr)
    if t_lo is None or t_hi is None or t_hi <= t_lo:
        return None
    return (hi - lo) * total / (t_hi - t_lo)
