"""Ceilings: the primitives the pipeline is made of, measured alone on the same machine, in the same run, on
the same bytes as the scenario. A figure is printed beside the ceilings that bound it, with the ratio.

* ``ed25519_verify_core``  — ``chain_anchor.ed25519.verify`` (libsodium via PyNaCl, the validators' path) on
  the events' real signing bytes, one process; ``ed25519_verify_all`` — the same on every core at once.
* ``validator_checks_core`` — the validators' own per-event checks (``Checker.check``) alone, one core.
* ``sha256_leaf``          — ``chain_anchor.hashing.leaf_hash`` (hashlib.sha256) over the events' leaf bytes.
* ``pg_copy_rows``         — asyncpg ``copy_records_to_table`` of the same rows into a scratch copy of
  ``ledger_events`` (same columns, indexes and constraints), one transaction per 2,000 rows as a block.
* ``broker_produce``       — aiokafka ``send()`` of the same values one by one (the validators' way), acks=all.
* ``broker_produce_batch`` — aiokafka's batch API (how the benchmark pre-fills).
* ``broker_consume``       — aiokafka ``getmany`` reading them back.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import Ceiling, console
from bench.cpu import cpu_seconds
from bench.events import Record
from bench.kafkaio import consume_count, produce_batched
from chain_anchor import ed25519
from chain_anchor.events import decode_signature, event_signing_bytes
from chain_anchor.hashing import leaf_hash
from services.config import Settings
from services.kafka import clients
from services.registry import from_genesis
from services.sequencer.sealing import decode_head, parse_event_time

VerifyTriple = tuple[bytes, bytes, bytes]  # public key, signature, message


def signing_triples(records: Sequence[Record], genesis: dict[str, Any]) -> list[VerifyTriple]:
    """(public key, signature, signed bytes) of each event, exactly as a validator verifies it."""
    keys = from_genesis(genesis).all_keys()
    out: list[VerifyTriple] = []
    for r in records:
        env = json.loads(r.value)
        out.append((keys[env["sigkeyid"]], decode_signature(env["signature"]), event_signing_bytes(env)))
    return out


def _verify_loop(triples: Sequence[VerifyTriple], seconds: float) -> tuple[int, float, float]:
    """Verifies done, wall seconds, CPU seconds of this process."""
    verify = ed25519.verify
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        for pk, sig, msg in triples:
            verify(pk, sig, msg)
        n += len(triples)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n, elapsed, time.process_time() - c0


def ed25519_per_core(triples: Sequence[VerifyTriple], seconds: float) -> Ceiling:
    n, elapsed, cpu = _verify_loop(triples, seconds)
    return Ceiling("ed25519_verify_core", "Ed25519 verify, 1 core", n / elapsed, "verifies/s",
                   f"chain_anchor.ed25519.verify (libsodium {_sodium()}) on {len(triples):,} events' signing bytes",
                   cpu_us=cpu * 1e6 / n)


def ed25519_all_cores(triples: Sequence[VerifyTriple], seconds: float) -> Ceiling:
    cores = os.cpu_count() or 1
    with multiprocessing.get_context("forkserver").Pool(cores) as pool:
        results = pool.starmap(_verify_loop, [(triples, seconds)] * cores)
    rate = sum(n / e for n, e, _ in results)
    return Ceiling("ed25519_verify_all", f"Ed25519 verify, {cores} cores", rate, "verifies/s",
                   f"the per-core loop in {cores} processes at once")


def _sodium() -> str:
    import nacl.bindings

    fn: Callable[[], bytes] | None = getattr(nacl.bindings, "sodium_version_string", None)
    return fn().decode() if fn else "?"


def validator_checks(records: Sequence[Record], genesis: dict[str, Any], seconds: float) -> Ceiling:
    """The validators' per-event check code alone (``Checker.check``: size, JSON, schema and rules,
    participant, key, signature, role, ownership, leaf bytes), one core, no Kafka, no database."""
    from services.validator.checks import Accept, Checker

    checker = Checker(from_genesis(genesis), max_event_bytes=Settings().max_event_bytes)
    raws = [r.value for r in records]
    accepted = sum(isinstance(checker.check(raw), Accept) for raw in raws)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for raw in raws:
            checker.check(raw)
        n += len(raws)
    elapsed = time.perf_counter() - t0
    return Ceiling("validator_checks_core", "validator checks alone, 1 core", n / elapsed, "events/s",
                   f"services.validator.checks.Checker.check on {len(raws):,} raw events ({accepted:,} accepted),"
                   " no I/O", cpu_us=(time.process_time() - c0) * 1e6 / n)


def sha256_leaves(leaves: Sequence[bytes], seconds: float = 1.0) -> Ceiling:
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for leaf in leaves:
            leaf_hash(leaf)
        n += len(leaves)
    elapsed = time.perf_counter() - t0
    mean = sum(map(len, leaves)) / len(leaves)
    return Ceiling("sha256_leaf", "sha256 leaf hash, 1 core", n / elapsed, "hashes/s",
                   f"hashlib.sha256(0x00 ‖ leaf), mean leaf {mean:.0f} B ({n * mean / elapsed / 2**20:,.0f} MiB/s)",
                   cpu_us=(time.process_time() - c0) * 1e6 / n)


def event_rows(records: Sequence[Record], first_leaf: int = 0) -> list[tuple[Any, ...]]:
    """``ledger_events`` rows of these events, as the sequencer writes them (height 0, raw position i)."""
    rows = []
    for i, r in enumerate(records):
        leaf = r.leaf()
        h = decode_head(leaf)
        rows.append((first_leaf + i, uuid.UUID(h.id), 0, leaf, leaf_hash(leaf), h.type, h.subject,
                     h.source.rsplit("/", 1)[-1], parse_event_time(h.time), i % 6, i))
    return rows


async def pg_copy(database_url: str, records: Sequence[Record], rows_per_txn: int = 2000) -> Ceiling:
    from services.store.postgres import EVENT_COLUMNS

    rows = event_rows(records)
    conn = await asyncpg.connect(database_url)
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE TABLE {table} (LIKE ledger_events INCLUDING ALL)")
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        b0, t0, c0 = cpu_seconds(backend) or 0.0, time.perf_counter(), time.process_time()
        for i in range(0, len(rows), rows_per_txn):
            async with conn.transaction():
                await conn.copy_records_to_table(table, columns=EVENT_COLUMNS, records=rows[i : i + rows_per_txn])
        elapsed = time.perf_counter() - t0
        # CPU of the server backend (same host: /proc) and of this client, which encodes the rows
        cpu = (cpu_seconds(backend) or b0) - b0 + time.process_time() - c0
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()
    return Ceiling("pg_copy_rows", "PostgreSQL COPY ledger_events rows", len(rows) / elapsed, "rows/s",
                   f"asyncpg COPY of {len(rows):,} rows into a copy of ledger_events (indexes included),"
                   f" {rows_per_txn} rows per transaction", cpu_us=cpu * 1e6 / len(rows))


async def scratch_topic(settings: Settings, partitions: int) -> str:
    name = settings.topic(f"bench.scratch.{uuid.uuid4().hex[:8]}")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def broker(settings: Settings, records: Sequence[Record]) -> list[Ceiling]:
    """Produce one by one, produce batched, consume: same values, same client, 1-partition scratch topics."""
    n = len(records)
    mean = sum(len(r.value) for r in records) / n
    topic = await scratch_topic(settings, 1)
    producer = clients.producer(settings)
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, r.value, key=r.key) for r in records]
        await asyncio.gather(*futures)
        single = n / (time.perf_counter() - t0)
    finally:
        await producer.stop()
    got, consume_s = await consume_count(settings, topic, 1, n)
    batch_topic = await scratch_topic(settings, 1)
    count, batch_s = await produce_batched(settings, batch_topic, 1, ((r.key, r.value, ()) for r in records))
    size = f"{n:,} messages of {mean:.0f} B mean"
    return [
        Ceiling("broker_produce", "broker produce, send() per message", single, "msgs/s",
                f"aiokafka send() + gather, acks={settings.kafka_acks}, {size}, tansu"),
        Ceiling("broker_produce_batch", "broker produce, batch API", count / batch_s, "msgs/s",
                f"aiokafka create_batch/send_batch, {size}"),
        Ceiling("broker_consume", "broker consume", got / consume_s, "msgs/s",
                f"aiokafka getmany from the beginning, {size}"),
    ]


class Ceilings:
    """Measures each group of ceilings at most once per ``python -m bench`` run (``all`` shares them)."""

    def __init__(self, sample_events: int, seconds: float) -> None:
        self.sample_events = sample_events
        self.seconds = seconds
        self._groups: dict[str, list[Ceiling]] = {}

    async def get(self, group: str, measure: Callable[[], Coroutine[Any, Any, list[Ceiling]]]) -> list[Ceiling]:
        if group not in self._groups:
            console.print(f"measuring ceilings: {group}")
            self._groups[group] = await measure()
        return self._groups[group]

    async def ed25519(self, records: Sequence[Record], genesis: dict[str, Any]) -> list[Ceiling]:
        async def measure() -> list[Ceiling]:
            triples = signing_triples(records[: self.sample_events], genesis)
            return [ed25519_per_core(triples, self.seconds), ed25519_all_cores(triples, self.seconds),
                    validator_checks(records[: self.sample_events], genesis, self.seconds)]

        return await self.get("ed25519", measure)

    async def sha256(self, leaves: Sequence[bytes]) -> list[Ceiling]:
        async def measure() -> list[Ceiling]:
            return [sha256_leaves(leaves[: self.sample_events], self.seconds)]

        return await self.get("sha256", measure)

    async def postgres(self, database_url: str, records: Sequence[Record]) -> list[Ceiling]:
        async def measure() -> list[Ceiling]:
            return [await pg_copy(database_url, records[: self.sample_events])]

        return await self.get("pg_copy", measure)

    async def kafka(self, settings: Settings, records: Sequence[Record]) -> list[Ceiling]:
        async def measure() -> list[Ceiling]:
            return await broker(settings, records[: self.sample_events])

        return await self.get("broker", measure)
