"""Fast producing and reading for the benchmarks (aiokafka, the client the services use).

Pre-filling uses aiokafka's batch API (one ``BatchBuilder`` per partition, sent when full, a bounded number
in flight) with the default partitioner's murmur2 of the key, so partitions are what any Kafka client
publishing ``key = subject`` would produce.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from services.config import Settings
from services.kafka import clients

Headers = Sequence[tuple[str, bytes]]
MAX_IN_FLIGHT = 16


def partition_of(key: bytes, partitions: int, memo: dict[bytes, int]) -> int:
    p = memo.get(key)
    if p is None:
        p = memo[key] = (murmur2(key) & 0x7FFFFFFF) % partitions
    return p


async def produce_batched(settings: Settings, topic: str, partitions: int,
                          records: Iterable[tuple[bytes | None, bytes, Headers]]) -> tuple[int, float]:
    """Produce every ``(key, value, headers)`` record; return (count, seconds). acks as configured."""
    producer = clients.producer(settings, linger_ms=0)
    await producer.start()
    try:
        return await _produce(producer, topic, partitions, records)
    finally:
        await producer.stop()


async def _produce(producer: AIOKafkaProducer, topic: str, partitions: int,
                   records: Iterable[tuple[bytes | None, bytes, Headers]]) -> tuple[int, float]:
    memo: dict[bytes, int] = {}
    batches: dict[int, Any] = {}
    in_flight: list[asyncio.Future[Any]] = []
    count = 0
    t0 = time.perf_counter()

    async def flush(p: int) -> None:
        batch = batches.pop(p)
        in_flight.append(await producer.send_batch(batch, topic, partition=p))
        if len(in_flight) >= MAX_IN_FLIGHT:
            await asyncio.gather(*in_flight)
            in_flight.clear()

    for i, (key, value, headers) in enumerate(records):
        p = partition_of(key, partitions, memo) if key is not None else i % partitions
        batch = batches.get(p) or batches.setdefault(p, producer.create_batch())
        if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
            await flush(p)
            batch = batches[p] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in an empty batch")
        count += 1
    for p in list(batches):
        await flush(p)
    await asyncio.gather(*in_flight)
    return count, time.perf_counter() - t0


async def end_offsets(consumer: AIOKafkaConsumer, topic: str, partitions: int) -> int:
    """Sum of the high watermarks of ``topic``: messages ever written to it."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    ends = await consumer.end_offsets(tps)
    return int(sum(ends.values()))


async def consume_count(settings: Settings, topic: str, partitions: int, expected: int,
                        timeout_s: float = 120) -> tuple[int, float]:
    """Read ``topic`` from the beginning until ``expected`` messages came; return (count, seconds)."""
    consumer = clients.consumer(settings)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        n, t0 = 0, time.perf_counter()
        deadline = t0 + timeout_s
        while n < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            n += sum(len(rs) for rs in batch.values())
        return n, time.perf_counter() - t0
    finally:
        await consumer.stop()
