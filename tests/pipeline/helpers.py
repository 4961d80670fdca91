"""Helpers for pipeline tests: signed envelopes, producing to topics, waiting for the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from chain_anchor.events import leaf_bytes, sign_event
from chain_anchor.keys import Signer
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services.config import Settings
from services.kafka import clients
from services.keyfiles import ensure_development_validator
from services.validator.worker import verdict_chunks


def envelope(signer: Signer, participant: str, n: int, *, event_type: str = "cn.taijiao.coal.test.Probed.v1",
             day: int = 1) -> dict[str, Any]:
    """A signed CloudEvent (not necessarily a catalogued type: the sequencer does not validate)."""
    return sign_event({
        "specversion": "1.0", "id": str(uuid.UUID(int=n + 1)), "source": f"/participants/{participant}",
        "type": event_type, "subject": f"probe-{n % 7}",
        "time": f"2026-11-{day:02d}T08:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "datacontenttype": "application/json", "data": {"n": n, "note": "煤"},
    }, signer)


async def produce_accepted(settings: Settings, topic: str, envelopes: list[dict[str, Any]],
                           raw_offset_base: int = 0, *, verified_at: str = "2026-11-01T00:00:00Z") -> None:
    """Write ``envelopes`` to the accepted topic as a validator would: signed verdict records (raw partition 0,
    raw offsets from ``raw_offset_base``) of at most ``max_events_per_block`` entries, signed by the
    development validator key that this deployment's genesis file lists."""
    signer = ensure_development_validator(settings)
    entries = [VerdictEntry(0, raw_offset_base + i, leaf_bytes(e)) for i, e in enumerate(envelopes)]
    producer = clients.producer(settings)
    await producer.start()
    try:
        futs = [await producer.send(topic, encode_verdict(chunk, verified_at, signer))
                for chunk in verdict_chunks(entries, max_bytes=settings.verdict_max_bytes,
                                            max_entries=settings.max_events_per_block)]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def produce_raw(settings: Settings, topic: str, value: bytes | None,
                      headers: list[tuple[str, bytes]] | None = None, key: bytes | None = None) -> None:
    """One record exactly as given (an attacker's, or a broken client's)."""
    producer = clients.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def tree_size(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        size: int | None = await conn.fetchval("SELECT max(tree_size) FROM ledger_blocks")
        return size or 0
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def running(service: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``service(stop)`` as a task; stop it cleanly on exit (and surface its exception)."""
    stop = asyncio.Event()
    task: asyncio.Task[None] = asyncio.create_task(service(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def read_topic(settings: Settings, topic: str, partitions: int = 1, timeout_s: float = 10) -> list[Any]:
    """Every record currently in ``topic`` (all partitions): reads until each partition's position reaches
    the high watermark its last fetch reported (tansu's end_offsets under-reports, highwater does not)."""
    consumer: AIOKafkaConsumer = clients.consumer(settings)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            out += [r for rs in batch.values() for r in rs]
            marks = [consumer.highwater(tp) for tp in tps]
            positions = [await consumer.position(tp) for tp in tps]
            if all(m is not None and p >= m for p, m in zip(positions, marks, strict=True)):
                return out
        raise AssertionError(f"could not read {topic} to its end in {timeout_s} s")
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def api_server(settings: Settings) -> AsyncIterator[str]:
    """The real API app served by uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    from services.api.app import create_app
    from services.devstack import free_port

    port = free_port()
    from services.api.cli import KEEP_ALIVE_S

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_keep_alive=KEEP_ALIVE_S))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@contextlib.contextmanager
def pgdata_dir() -> Iterator[Path]:
    """A data directory for an embedded PostgreSQL (devstack.EmbeddedPostgres). Run as root, pgserver runs
    the server as its own user, which cannot reach pytest's tmp_path (under a 0700 /tmp/pytest-of-root)."""
    parent = Path(tempfile.mkdtemp(prefix="coalchain-pg-"))
    parent.chmod(0o755)
    try:
        yield parent / "pgdata"
    finally:
        shutil.rmtree(parent, ignore_errors=True)
