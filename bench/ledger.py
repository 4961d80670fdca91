"""Building a large ledger directly in PostgreSQL, as the sequencer would have sealed it — but with COPY in
big chunks instead of one transaction per block, so 10 M events take minutes, not an hour.

Same code as the sequencer where it matters: blocks are cut by ``chain_anchor.cutter.BlockCutter`` with the
settings' limits, each block goes through ``chain_anchor.block.seal_block`` (leaf hashes, compact range
extension and the new perfect nodes, header, sequencer signature) and gets the same C2SP checkpoint, header
and signature bytes and derived columns as ``services.sequencer.sealing.BlockSealer`` writes. Accepted-topic
offsets are the leaf indices (a topic with no time-to-cut markers and no duplicates). ``coalchain verify``
passes on the result; the ``verify`` scenario checks exactly that.

Bulk mode (default): the secondary indexes and constraints of ``ledger_events`` and ``ledger_nodes`` are
dropped during the load and re-created afterwards from their own stored definitions, so the tables end up
with exactly the schema the migration made.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.common import console
from bench.events import Record
from chain_anchor.block import GENESIS_PREV_HASH, header_bytes, header_hash, seal_block
from chain_anchor.canonical import canonicalize
from chain_anchor.compact import CompactRange
from chain_anchor.cutter import BlockCutter
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import Signer
from services.config import Settings
from services.kafka.topics import Topics
from services.sequencer.sealing import checkpoint_note, decode_head, parse_event_time, sealed_at
from services.store.postgres import EVENT_COLUMNS, BlockRow, pack_hashes

BLOCK_COLUMNS = tuple(BlockRow.__dataclass_fields__)
BULK_TABLES = ("ledger_events", "ledger_nodes")


@dataclass(frozen=True)
class Built:
    events: int
    blocks: int
    tree_size: int
    seconds: float
    seconds_indexes: float


_SPREAD = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: i -> i * _SPREAD mod 2**128 is a bijection
_RUN_TAG = re.compile(rb'"[A-Z]{2,4}-([0-9A-F]{4})-[0-9]{4,8}"')


def templated_id(i: int) -> str:
    """The event id :func:`templated` gives leaf ``i``: unique per ``i`` and spread over the whole id space
    as publishers' random (version 4) ids are, so the ``event_id`` index takes inserts all over, not at one
    end."""
    return str(uuid.UUID(int=(i * _SPREAD) % (1 << 128)))


def templated(records: list[Record], count: int, *, history: bool = False) -> Iterator[tuple[bytes, int, int]]:
    """``count`` leaves made from ``records`` in turn, each with a fresh unique event id (same length, so the
    bytes stay canonical). Their publisher signatures no longer verify: only for ledgers whose event
    signatures are not re-checked.

    ``history=True``: every pass over ``records`` but the last gets business ids of its own (the simulator
    run's tag in ``SHP-7F3A-000123`` becomes ``Z001``, ``Z002``…, never hexadecimal), as a ledger's past
    holds other shipments, trains, lots and orders than the ones live now. The last pass keeps the records'
    own ids: events sealed next (the same simulator run) continue those subjects."""
    hole = b'"id":"\x00"'  # where each leaf's own id goes (no canonical JSON holds a raw control character)
    templates = [r.leaf().replace(f'"id":"{r.event_id}"'.encode(), hole, 1) for r in records]
    tag = _run_tag(templates) if history else b""
    last = (count - 1) // len(templates)
    for i in range(count):
        leaf = templates[i % len(templates)]
        cycle = i // len(templates)
        if history and cycle < last:
            leaf = leaf.replace(b"-" + tag + b"-", f"-Z{cycle:03X}-".encode())
        yield leaf.replace(hole, f'"id":"{templated_id(i)}"'.encode(), 1), i % 6, i


def _run_tag(leaves: list[bytes]) -> bytes:
    """The simulator run's tag in the business ids of ``leaves`` (``7F3A`` of ``SHP-7F3A-000123``)."""
    for leaf in leaves:
        m = _RUN_TAG.search(leaf)
        if m:
            return m.group(1)
    raise ValueError("no simulator business id (like SHP-7F3A-000123) in the template events")


def as_leaves(records: Iterable[Record]) -> Iterator[tuple[bytes, int, int]]:
    """The events' leaves as a validator makes them (valid signatures), raw positions (i mod 6, i)."""
    for i, r in enumerate(records):
        yield r.leaf(), i % 6, i


class _Loader:
    def __init__(self, conn: asyncpg.Connection, chunk_events: int) -> None:
        self.conn = conn
        self.chunk_events = chunk_events
        self.events: list[tuple[Any, ...]] = []
        self.nodes: list[tuple[int, int, bytes]] = []
        self.blocks: list[tuple[Any, ...]] = []

    async def maybe_flush(self) -> None:
        if len(self.events) >= self.chunk_events:
            await self.flush()

    async def flush(self) -> None:
        async with self.conn.transaction():
            if self.events:
                await self.conn.copy_records_to_table("ledger_events", columns=EVENT_COLUMNS, records=self.events)
            if self.nodes:
                await self.conn.copy_records_to_table("ledger_nodes", columns=("level", "idx", "hash"),
                                                      records=self.nodes)
            if self.blocks:
                await self.conn.copy_records_to_table("ledger_blocks", columns=BLOCK_COLUMNS, records=self.blocks)
        self.events, self.nodes, self.blocks = [], [], []


async def _drop_secondary(conn: asyncpg.Connection) -> list[str]:
    """Drop the constraints and indexes of the bulk tables; return the DDL that re-creates them."""
    ddl: list[str] = []
    for table in BULK_TABLES:
        for r in await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid = $1::regclass AND contype IN ('p', 'u')", table):
            ddl.append(f'ALTER TABLE {table} ADD CONSTRAINT "{r["conname"]}" {r["def"]}')
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{r["conname"]}"')
        for r in await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", table):
            ddl.append(r["indexdef"])
            await conn.execute(f'DROP INDEX "{r["indexname"]}"')
    return ddl


async def build_ledger(settings: Settings, signer: Signer, leaves: Iterable[tuple[bytes, int, int]],
                       total: int, *, chunk_events: int = 50_000, bulk: bool = True) -> Built:
    """Seal ``leaves`` (leaf bytes, raw partition, raw offset) into an empty ledger database."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("SET synchronous_commit = off")
        if await conn.fetchval("SELECT count(*) FROM ledger_blocks"):
            raise RuntimeError("build_ledger needs an empty ledger")
        ddl = await _drop_secondary(conn) if bulk else []
        t0 = time.perf_counter()
        loader = _Loader(conn, chunk_events)
        blocks = await _seal_all(settings, signer, leaves, total, loader)
        await loader.flush()
        loaded = time.perf_counter()
        for statement in ddl:
            await conn.execute(statement)
        await conn.execute("ANALYZE ledger_events; ANALYZE ledger_nodes; ANALYZE ledger_blocks")
        done = time.perf_counter()
        tree_size = int(await conn.fetchval("SELECT coalesce(max(tree_size), 0) FROM ledger_blocks"))
    finally:
        await conn.close()
    return Built(tree_size, blocks, tree_size, loaded - t0, done - loaded)


async def _seal_all(settings: Settings, signer: Signer, leaves: Iterable[tuple[bytes, int, int]], total: int,
                    loader: _Loader) -> int:
    cutter: BlockCutter[tuple[bytes, int, int]] = BlockCutter(
        max_events=settings.max_events_per_block, preferred_max_bytes=settings.preferred_max_bytes,
        absolute_max_bytes=settings.absolute_max_bytes)
    sealer = _Sealer(settings, signer, Topics.from_settings(settings).accepted)
    last_report = time.perf_counter()
    for item in leaves:
        batches, _ = cutter.ordered(item, len(item[0]))
        for batch in batches:
            sealer.seal(batch, loader)
            await loader.maybe_flush()
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                console.print(f"  ledger: {sealer.compact.size:,} / {total:,} events sealed")
    if cutter.pending_count:
        sealer.seal(cutter.cut(), loader)
    return sealer.height


class _Sealer:
    """``BlockSealer.seal`` without the database round trips (no dedupe: every id is fresh)."""

    def __init__(self, settings: Settings, signer: Signer, source_topic: str) -> None:
        self.ledger_id = settings.ledger_id
        self.signer = signer
        self.source_topic = source_topic
        self.compact = CompactRange()
        self.height = 0
        self.prev_hash = GENESIS_PREV_HASH

    def seal(self, batch: list[tuple[bytes, int, int]], loader: _Loader) -> None:
        first = self.compact.size
        heads = [decode_head(leaf) for leaf, _, _ in batch]
        hashes = [leaf_hash(leaf) for leaf, _, _ in batch]
        header, sig, nodes = seal_block(
            ledger_id=self.ledger_id, height=self.height, prev_hash=self.prev_hash, compact_range=self.compact,
            leaf_hashes=hashes, source_topic=self.source_topic, source_partition=0, first_offset=first,
            last_offset=first + len(batch) - 1, sealed_at=sealed_at([h.time for h in heads]), signer=self.signer)
        hh = header_hash(header)
        row = BlockRow(
            height=self.height, header=header_bytes(header), header_hash=hh, signatures=canonicalize([sig.to_json()]),
            first_leaf_index=first, leaf_count=len(batch), tree_size=header.tree_size, log_root=header.log_root,
            source_partition=0, first_offset=header.first_offset, last_offset=header.last_offset,
            compact_range=pack_hashes(self.compact.hashes),
            checkpoint=checkpoint_note(self.ledger_id, header.tree_size, header.log_root, self.signer),
            sealed_at=parse_event_time(header.sealed_at))
        loader.blocks.append(tuple(getattr(row, f) for f in BLOCK_COLUMNS))
        loader.nodes.extend(nodes)
        loader.events.extend(
            (first + i, uuid.UUID(h.id), self.height, leaf, hashes[i], h.type, h.subject,
             h.source.rsplit("/", 1)[-1], parse_event_time(h.time), rp, ro)
            for i, (h, (leaf, rp, ro)) in enumerate(zip(heads, batch, strict=True)))
        self.height += 1
        self.prev_hash = hh
