"""BlockSealer.seal finds duplicates of sealed events through the unique index on event_id (the block is
stored optimistically, then looked up and sealed again only when the index refuses it): the blocks and the
duplicates it reports are those of looking every id up first. Real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import Signer
from services.sequencer.sealing import Accepted, BlockSealer, VerdictBatch, decode_head, parse_event_time
from services.store.postgres import LedgerStore

pytestmark = pytest.mark.integration


def entry(offset: int, index: int, event_id: str, raw: tuple[int, int]) -> Accepted:
    leaf = json.dumps({"id": event_id, "source": "/participants/p1", "subject": "s", "time": "2026-01-01T00:00:00Z",
                       "type": "cn.taijiao.coal.demand.DemandPosted.v1"}, sort_keys=True,
                      separators=(",", ":")).encode()
    head = decode_head(leaf)
    return Accepted(offset, index, leaf, leaf_hash(leaf), raw[0], raw[1], head, parse_event_time(head.time))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[LedgerStore]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield LedgerStore(pool)
    finally:
        await pool.close()


async def test_sealed_duplicates_are_found_by_the_index_and_the_block_is_sealed_without_them(
        store: LedgerStore) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    sealer = BlockSealer(store, Signer.from_seed(b"\x05" * 32), ledger_id="t", source_topic="acc",
                         head=await store.head())
    first, dups = await sealer.seal([VerdictBatch(0, "2026-01-01T00:00:01Z",
                                                  [entry(0, i, ids[i], (0, i)) for i in range(3)])])
    assert first is not None and first.row.leaf_count == 3 and dups == []
    # ids[0] again from the same raw position (a redelivery), ids[1] from another (a replay), ids[3] twice
    batch = [entry(1, 0, ids[0], (0, 0)), entry(1, 1, ids[3], (0, 3)), entry(1, 2, ids[1], (5, 9)),
             entry(1, 3, ids[3], (0, 3)), entry(1, 4, ids[4], (0, 4))]
    looked_up = BlockSealer(store, Signer.from_seed(b"\x05" * 32), ledger_id="t", source_topic="acc",
                            head=await store.head())
    expected_fresh, expected_dups = await looked_up.dedupe(batch)
    second, dups = await sealer.seal([VerdictBatch(1, "2026-01-01T00:00:02Z", batch)])
    assert second is not None and second.leaves == [m.leaf for m in expected_fresh]
    assert [(d.event_id, d.redelivery) for d in dups] == [(d.event_id, d.redelivery) for d in expected_dups]
    assert [(d.event_id, d.redelivery) for d in dups] == [(ids[0], True), (ids[1], False), (ids[3], True)]
    assert second.row.height == first.row.height + 1 and second.row.first_leaf_index == first.row.tree_size
    assert await store.pool.fetchval("SELECT count(*) FROM ledger_events") == 5
    # a batch of nothing but sealed events seals nothing and reports them all
    third, dups = await sealer.seal([VerdictBatch(2, "2026-01-01T00:00:03Z", [entry(2, 0, ids[4], (0, 4))])])
    assert third is None and [(d.event_id, d.redelivery) for d in dups] == [(ids[4], True)]
    assert (await store.head()) == second.row
