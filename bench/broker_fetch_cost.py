"""``python -m bench.broker_fetch_cost [--rate R] [--seconds S]``: what the development broker (tansu, memory
storage) spends to hand a live consumer its records, as the topic fills.

One producer writes ``--rate`` records/s (900 bytes each, 500 keys, linger 2 ms, like the services) to a
6-partition topic for ``--seconds``; one consumer of its own group reads them as they come (the services'
consumer settings: 20 ms fetch wait). The broker's CPU (/proc) is read over each window, and the topic keeps
what earlier windows wrote, so window k reads the tail of a topic holding k × rate × seconds records. Then the
same with no consumer (the producer alone) and with an idle consumer alone (nothing written). Its own tansu
broker, stopped afterwards; nothing else.

Why: at moderate rates most of the pipeline's CPU per sealed event is the broker's (``seal-latency``), and
the figures here show how that cost depends on the number of fetches and on what the topic holds — a
property of tansu's memory storage, not of Kafka, which serves a fetch from an offset index.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cpu import cpu_seconds
from services import devstack

PARTITIONS = 6
VALUE = b"x" * 900


async def _produce(producer: AIOKafkaProducer, topic: str, rate: int, seconds: float) -> int:
    t0, sent, futures = time.perf_counter(), 0, []
    while (elapsed := time.perf_counter() - t0) < seconds:
        while sent < int(elapsed * rate):
            futures.append(await producer.send(topic, VALUE, key=str(sent % 500).encode()))
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*futures)
    return sent


async def _window(pid: int, bootstrap: str, topic: str, rate: int, seconds: float, *, consume: bool,
                  linger_ms: int) -> tuple[float, int]:
    """Broker CPU seconds over one window, and the records written."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, acks="all")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}",
                                fetch_max_wait_ms=20, auto_offset_reset="latest", enable_auto_commit=False)
    await producer.start()
    reader: asyncio.Task[None] | None = None
    if consume:
        await consumer.start()

        async def read() -> None:
            while True:
                await consumer.getmany(timeout_ms=500)

        reader = asyncio.create_task(read())
        await asyncio.sleep(3)  # joined and at the end of the topic
    try:
        before = cpu_seconds(pid) or 0.0
        sent = 0
        if rate:
            sent = await _produce(producer, topic, rate, seconds)
        else:
            await asyncio.sleep(seconds)
        return (cpu_seconds(pid) or 0.0) - before, sent
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await consumer.stop()
        await producer.stop()


async def main(rate: int, seconds: float, windows: int, linger_ms: int) -> None:
    broker = devstack.Broker(devstack.free_port())
    broker.start(Path(tempfile.gettempdir()) / f"broker-fetch-cost-{uuid.uuid4().hex[:6]}.log")
    assert broker.process is not None
    pid, bootstrap = broker.process.pid, broker.bootstrap_servers
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("fill", PARTITIONS, 1), NewTopic("empty", PARTITIONS, 1)])
        await admin.close()
        print(f"tansu {devstack.tansu_binary()} pid {pid}; {rate} records/s of {len(VALUE)} bytes for {seconds:g} s"
              f" per window, producer linger {linger_ms} ms, {PARTITIONS} partitions, consumer fetch wait 20 ms")
        used, _ = await _window(pid, bootstrap, "empty", 0, seconds, consume=True, linger_ms=linger_ms)
        print(f"idle consumer, nothing written: broker {100 * used / seconds:.1f} % of a core")
        used, sent = await _window(pid, bootstrap, "empty", rate, seconds, consume=False, linger_ms=linger_ms)
        print(f"producer alone: broker {1e6 * used / sent:.0f} µs per record ({100 * used / seconds:.1f} % of a core)")
        held = 0
        for _ in range(windows):
            used, sent = await _window(pid, bootstrap, "fill", rate, seconds, consume=True, linger_ms=linger_ms)
            print(f"producer + live consumer, topic holding {held:,} records before the window: broker"
                  f" {1e6 * used / sent:.0f} µs per record ({100 * used / seconds:.1f} % of a core)")
            held += sent
    finally:
        broker.stop()


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rate", type=int, default=1000, help="records/s written (default 1000)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per window (default 5)")
    p.add_argument("--windows", type=int, default=4, help="windows with a live consumer (default 4)")
    p.add_argument("--linger-ms", type=int, default=2, help="producer linger (default 2, as the services)")
    a = p.parse_args()
    asyncio.run(main(a.rate, a.seconds, a.windows, a.linger_ms))


if __name__ == "__main__":
    cli()
