"""``coalchain verify``: walk a whole ledger database and check every hash, root, signature and link.

Beyond what :class:`services.ledger_check.BlockChecker` recomputes from the bytes, it compares what the
database stores beside them (header hash, log root, tree size, compact range, leaf hashes, leaf indices,
event ids, stored Merkle nodes), so an edit made behind the append-only triggers is found at its height.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from chain_anchor.checkpoint import NoteVerifier
from services import db
from services.config import Settings
from services.ledger_check import BlockChecker, BlockInvalid, ChainState, CheckedBlock
from services.rotation import deployment_anchors, stored_rotations
from services.sequencer.sealing import decode_head
from services.store.postgres import BlockRow, LedgerStore, pack_hashes
from services.trust import load_trust
from services.trustset import RotationInvalid, trusted_sequencer_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    blocks: int
    events: int
    seconds: float
    first_bad: BlockInvalid | None = None

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def check_stored(store: LedgerStore, row: BlockRow, checked: CheckedBlock) -> None:
    """Compare the derived columns and node rows with what was just recomputed."""
    h = row.height
    expect = {
        "header_hash": (row.header_hash, checked.header_hash),
        "log_root": (row.log_root, checked.header.log_root),
        "tree_size": (row.tree_size, checked.header.tree_size),
        "first_leaf_index": (row.first_leaf_index, checked.header.first_leaf_index),
        "leaf_count": (row.leaf_count, checked.header.leaf_count),
        "compact_range": (row.compact_range, pack_hashes(checked.compact.hashes)),
        "first_offset": (row.first_offset, checked.header.first_offset),
        "last_offset": (row.last_offset, checked.header.last_offset),
    }
    for name, (stored, computed) in expect.items():
        if stored != computed:
            raise BlockInvalid(h, f"stored {name} differs from the value recomputed from the block")
    ids = [(lvl, i) for lvl, i, _ in checked.nodes]
    stored_nodes = await store.nodes(ids)
    for lvl, i, digest in checked.nodes:
        if stored_nodes.get((lvl, i)) != digest:
            raise BlockInvalid(h, f"stored Merkle node (level {lvl}, index {i}) is missing or wrong")


def check_event_rows(height: int, first: int, rows: list[asyncpg.Record], hashes: list[bytes]) -> None:
    for n, (rec, digest) in enumerate(zip(rows, hashes, strict=True)):
        if rec["leaf_index"] != first + n:
            raise BlockInvalid(height, f"leaf index {first + n} is missing")
        if bytes(rec["leaf_hash"]) != digest:
            raise BlockInvalid(height, f"stored leaf_hash of leaf {first + n} is not the hash of its bytes")
        head = decode_head(bytes(rec["leaf"]))
        if uuid.UUID(head.id) != rec["event_id"] or head.type != rec["type"] or head.subject != rec["subject"]:
            raise BlockInvalid(height, f"stored columns of leaf {first + n} differ from its bytes")


def check_accepted_offsets(row: BlockRow, prev: BlockRow | None, rows: list[asyncpg.Record]) -> None:
    """The block's accepted-topic range follows the previous block's without overlap (or starts again at 0:
    a development broker lost its data), and every event was read inside it, in leaf order: each event's
    (accepted_offset, accepted_index) lies in [first_offset, last_offset] and strictly increases. Rows a
    replica stored (or sealed before migration 0005) carry no accepted position: all NULL is allowed."""
    h = row.height
    if row.first_offset > row.last_offset:
        raise BlockInvalid(h, f"first_offset {row.first_offset} is after last_offset {row.last_offset}")
    if prev is not None and row.first_offset <= prev.last_offset and row.first_offset != 0:
        raise BlockInvalid(h, f"accepted offsets [{row.first_offset}, {row.last_offset}] overlap the previous"
                           f" block's [{prev.first_offset}, {prev.last_offset}]")
    positions = [(r["accepted_offset"], r["accepted_index"]) for r in rows]
    if all(o is None for o, _ in positions):
        return
    last: tuple[int, int] | None = None
    for n, (offset, index) in enumerate(positions):
        leaf = row.first_leaf_index + n
        if offset is None or index is None:
            raise BlockInvalid(h, f"leaf {leaf} has no accepted offset while others of its block have one")
        if not row.first_offset <= offset <= row.last_offset:
            raise BlockInvalid(h, f"leaf {leaf} was read at accepted offset {offset}, outside the block's range"
                               f" [{row.first_offset}, {row.last_offset}]")
        if last is not None and (offset, index) <= last:
            raise BlockInvalid(h, f"leaf {leaf} was read at accepted offset {offset} entry {index}, not after the"
                               f" previous leaf's offset {last[0]} entry {last[1]}")
        last = (offset, index)


async def verify_ledger(store: LedgerStore, checker: BlockChecker, progress: Progress | None = None) -> Report:
    start = time.perf_counter()
    head = await store.head()
    total = head.height + 1 if head else 0
    task = progress.add_task("verifying", total=total) if progress else None
    state, events = ChainState(), 0
    prev: BlockRow | None = None
    try:
        for first in range(0, total, 256):
            for row in await store.blocks(first, min(first + 255, total - 1)):
                if row.height != state.height + 1:
                    raise BlockInvalid(state.height + 1, "block is missing")
                rows = await store.block_events(row.height)
                leaves = [bytes(r["leaf"]) for r in rows]
                checked = checker.check(state, row.header, json.loads(row.signatures), leaves, row.checkpoint)
                check_event_rows(row.height, row.first_leaf_index, list(rows), checked.leaf_hashes)
                if len(rows) != row.leaf_count:
                    raise BlockInvalid(row.height, f"the block holds {len(rows)} events; its leaf_count is"
                                       f" {row.leaf_count}")
                check_accepted_offsets(row, prev, list(rows))
                await check_stored(store, row, checked)
                prev = row
                state = BlockChecker.advance(state, checked)
                events += len(leaves)
                if progress and task is not None:
                    progress.advance(task)
    except BlockInvalid as bad:
        return Report(state.height + 1, events, time.perf_counter() - start, bad)
    return Report(total, events, time.perf_counter() - start)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", type=Path, help="trust file (sequencer keys, participants); default: this"
                   " deployment's sequencer key and genesis file")
    p.add_argument("--event-signatures", action="store_true", help="also re-verify every publisher signature")
    p.add_argument("--database-url", help="the database to verify (default DATABASE_URL), e.g. a replica's")
    p.add_argument("--cosigned", type=Path, action="append", default=[],
                   help="a witness state file or a cosigned checkpoint note to compare the database with"
                   " (repeatable; default: every $COALCHAIN_HOME/witnesses/*/state.json)")


def build_checker(args: argparse.Namespace, settings: Settings, rotations: list[dict[str, Any]] | None = None
                  ) -> BlockChecker:
    """Keys from the trust file (its rotations included), or this deployment's genesis, key file and the
    ``rotations`` stored with the ledger."""
    if args.trust:
        trust = load_trust(args.trust)
        schedule, registry = trust.sequencer_schedule, trust.registry
    else:
        from services.validator.worker import load_registry

        schedule = trusted_sequencer_keys(deployment_anchors(settings), rotations or [], ledger_id=settings.ledger_id)
        registry = load_registry(settings)
    return BlockChecker(ledger_id=settings.ledger_id, sequencer_keys=schedule.ring, schedule=schedule,
                        event_keys=registry.all_keys() if args.event_signatures else None)


async def _run(args: argparse.Namespace, settings: Settings) -> Report:
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    # the user's files first (one clear line for a bad --trust or genesis), then the database
    checker = build_checker(args, settings) if args.trust else None
    if checker is None:
        from services.validator.worker import load_registry

        load_registry(settings)
    # an explicit --database-url is used as given (an auditor's own credentials); else the read-only role
    pool = await db.create_pool(settings, role=None if args.database_url else "reader", min_size=1, max_size=2)
    try:
        checker = checker or build_checker(args, settings, await stored_rotations(pool))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True) as progress:
            return await verify_ledger(LedgerStore(pool), checker, progress)
    finally:
        await pool.close()


async def _against_cosigned(args: argparse.Namespace, settings: Settings) -> tuple[list[str], int]:
    """Compare the database with the cosigned checkpoints held outside it (services/witness/against.py)."""
    from services.sequencer.sealing import checkpoint_origin
    from services.witness import against

    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    origin = checkpoint_origin(settings.ledger_id)
    trust = load_trust(args.trust) if args.trust else None
    held = against.read_sources(args.cosigned or against.default_sources(settings.home), origin)
    if not held:
        return [], 0
    pool = await db.create_pool(settings, role=None if args.database_url else "reader", min_size=1, max_size=1)
    try:
        checker = build_checker(args, settings, None if args.trust else await stored_rotations(pool))
        keys = [NoteVerifier(origin, 1, k) for k in checker.sequencer_keys.values()]
        return await against.compare(LedgerStore(pool), held, keys, origin, trust.witnesses if trust else ())
    finally:
        await pool.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        report = asyncio.run(_run(args, settings))
    except RotationInvalid as e:
        print(f"FAILED: a sequencer key rotation does not verify: {e}")
        return 1
    problems, compared = asyncio.run(_against_cosigned(args, settings))
    for problem in problems:
        print(problem)
    if any(p.startswith(("SHORTENED", "FORKED")) for p in problems):
        return 1
    if compared:
        print(f"the database agrees with {compared} cosigned checkpoint(s) held outside it")
    rate = f"{report.events_per_s:,.0f} events/s"
    if report.first_bad:
        print(f"FAILED at height {report.first_bad.height}: {report.first_bad.reason}")
        print(f"({report.blocks} blocks, {report.events} events verified before it, {rate})")
        return 1
    print(f"OK: {report.blocks} blocks, {report.events} events verified in {report.seconds:.2f} s ({rate})")
    return 0
