"""Faults on the blocks topic, against the real broker, PostgreSQL, sequencer, faust views worker and API.

Someone who can write to ``coal.ledger.blocks.v1`` writes 40 forged unsigned blocks, blocks signed by a wrong
key, blocks signed by the real key whose ``prev_hash`` does not link, and garbage: nothing is folded (views
tables and stock figures unchanged), each is counted, readiness turns red with the reason (``/healthz`` and
``coalchain status`` agree), and genuine blocks keep folding. A validly sealed event dated 9999-12-31 is
quarantined and the views go on. ``views --rebuild`` (and a bare reset) while the stack runs under load
finish at the ledger's height, equal to a reference fold of the genuine blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from chain_anchor.block import GENESIS_PREV_HASH, header_bytes, header_hash, seal_block
from chain_anchor.canonical import canonicalize
from chain_anchor.compact import CompactRange
from chain_anchor.events import leaf_bytes
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing, Signer
from services import blockmsg, db, health
from services.blockverify import BlockRejected, BlockVerifier, Tip
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import checkpoint_note
from services.sequencer.service import Sequencer
from services.store.postgres import LedgerStore
from services.views.cli import rebuild
from services.views.memory import MemoryViews
from services.views.postgres import ViewStore
from tests.pipeline.helpers import api_server, produce_accepted, read_topic, running, tree_size, wait_until
from tests.views import events as E
from tests.views import scenario
from tests.views.stack import AUTH, ledger_height, scalar, tables, views_height, views_worker
from tests.views.test_pipeline import _rows_of

pytestmark = pytest.mark.integration

WRONG_KEY = Signer.from_seed(bytes(range(7, 39)))
GENESIS = Tip()
_tickets = itertools.count(1)


class Stack:
    def __init__(self, settings: Settings, base: str) -> None:
        self.settings = settings
        self.base = base
        self.topics = Topics.from_settings(settings)
        self.offset = 0

    async def seal(self, envelopes: list[dict[str, Any]]) -> None:
        await produce_accepted(self.settings, self.topics.accepted, envelopes, raw_offset_base=self.offset)
        self.offset += len(envelopes)

    async def caught_up(self, timeout_s: float = 60, *, at_least: int = 0) -> int:
        """Wait until the ledger is at ``at_least`` or beyond and the views at the ledger's height."""
        url = self.settings.database_url

        async def done() -> bool:
            h = await ledger_height(url)
            return h >= at_least and await views_height(url) == h

        await wait_until(done, timeout_s, "the views to reach the ledger head")
        return await views_height(url)

    async def get(self, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=10) as c:
            r = await c.get(path, params=params)
            r.raise_for_status()
            return r.json()

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as c:
            r = await c.get("/healthz")
            return r.status_code, r.json()

    async def publish_blocks(self, values: list[bytes]) -> None:
        producer = clients.producer(self.settings)
        await producer.start()
        try:
            for v in values:
                await producer.send_and_wait(self.topics.blocks, v, key=b"forged")
        finally:
            await producer.stop()

    async def rejected(self) -> int:
        n: int = await scalar(self.settings.database_url, "SELECT count(*) FROM views_rejected_blocks")
        return n


@pytest.fixture(scope="module")
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    s = settings.model_copy(update={"max_events_per_block": 4})
    async with running(Sequencer(s).run), views_worker(s), api_server(s) as base:
        st = Stack(s, base)
        n = len(scenario.events())
        await st.seal(scenario.events())

        async def sealed() -> bool:
            return await tree_size(s.database_url) == n

        await wait_until(sealed, 30, "the scenario to be sealed")
        await st.caught_up()
        yield st


def stock_report(kg: int) -> dict[str, Any]:
    return E.lot("StockReported", "FORGED-LOT", scenario.MINE, "WY-MM", kg, "JCF", "2026-03-10T12:00:00Z")


async def forge(settings: Settings, envelopes: list[dict[str, Any]], *, signer: Signer | None,
                prev_hash: bytes | None = None) -> bytes:
    """A block on top of the ledger's head, exactly as the sequencer would write it, but signed by ``signer``
    (``None``: no signature at all), optionally with another ``prev_hash``."""
    pool = await db.create_pool(settings, max_size=1)
    try:
        head = await LedgerStore(pool).head()
    finally:
        await pool.close()
    assert head is not None
    leaves = [leaf_bytes(e) for e in envelopes]
    key = signer or WRONG_KEY
    header, sig, _ = seal_block(
        ledger_id=settings.ledger_id, height=head.height + 1,
        prev_hash=prev_hash if prev_hash is not None else head.header_hash,
        compact_range=CompactRange(head.tree_size, head.compact_hashes()), leaf_hashes=[leaf_hash(x) for x in leaves],
        source_topic=Topics.from_settings(settings).accepted, source_partition=0, first_offset=head.last_offset + 1,
        last_offset=head.last_offset + len(leaves), sealed_at="2026-03-10T12:00:00Z", signer=key)
    signatures = canonicalize([sig.to_json()]) if signer is not None else b"[]"
    note = checkpoint_note(settings.ledger_id, header.tree_size, header.log_root, key)
    return blockmsg.encode(header_bytes(header), signatures, leaves, note)


async def test_forged_blocks_are_never_folded_counted_and_turn_readiness_red(stack: Stack) -> None:
    head = await stack.caught_up()
    before = await tables(stack.settings.database_url)
    stock_before = await stack.get("/v1/views/stock")
    s = stack.settings
    unsigned = [await forge(s, [stock_report(77_777_000 + i)], signer=None) for i in range(40)]
    wrong_key = [await forge(s, [stock_report(88_000_000)], signer=WRONG_KEY) for _ in range(3)]
    real = sequencer_signer(s)
    unlinked = [await forge(s, [stock_report(99_000_000)], signer=real, prev_hash=bytes(range(32))),
                await forge(s, [stock_report(99_000_001)], signer=real, prev_hash=GENESIS_PREV_HASH)]
    garbage = [b"\x00" * 16, b'{"checkpoint":"x","events":[],"header":{},"signatures":[]}']
    await stack.publish_blocks([*unsigned, *wrong_key, *unlinked, *garbage])

    async def all_rejected() -> bool:
        return await stack.rejected() >= 47

    await wait_until(all_rejected, 30, "47 forged or garbage records rejected")
    assert await stack.rejected() == 47  # each counted once
    assert await tables(s.database_url) == before  # nothing folded: every views table unchanged
    assert await stack.get("/v1/views/stock") == stock_before
    reasons = {r[0] for r in await _fetch(s, "SELECT reason FROM views_rejected_blocks")}
    assert any("MissingSignature" in r for r in reasons), reasons
    assert any("UnknownKey" in r for r in reasons), reasons
    assert any("prev_hash does not link" in r for r in reasons), reasons
    assert any("not a blocks-topic message" in r for r in reasons), reasons

    code, body = await stack.healthz()
    assert code == 503 and body["ok"] is False
    views = body["checks"]["views"]
    assert views["ok"] is False and views["rejected_blocks"] == 47
    assert "forged or invalid blocks-topic records rejected" in views["detail"]
    ready = await health.readiness(s)  # what `coalchain status` prints
    assert ready.ok is False
    assert {c.name: c.ok for c in ready.checks} == {n: c["ok"] for n, c in body["checks"].items()}
    assert next(c for c in ready.checks if c.name == "views").detail.split(" — ")[0] == views["detail"].split(" — ")[0]

    # genuine blocks keep folding, right after the forgeries
    await stack.seal([E.truck_weighed(f"TK-F{next(_tickets)}", "GPF", "inbound", 31_000, "2026-03-10T11:00:00Z")])
    assert await stack.caught_up(at_least=head + 1) == head + 1
    assert (await tables(s.database_url))["views_station_day"] != before["views_station_day"]


async def _fetch(settings: Settings, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def test_a_forged_block_at_the_next_height_does_not_keep_the_genuine_one_out(stack: Stack) -> None:
    head = await stack.caught_up()
    rejected = await stack.rejected()
    await stack.publish_blocks([await forge(stack.settings, [stock_report(55_000_000)], signer=WRONG_KEY)])

    async def counted() -> bool:
        return await stack.rejected() == rejected + 1

    await wait_until(counted, 30, "the forged next block rejected")
    assert await views_height(stack.settings.database_url) == head
    await stack.seal([E.truck_weighed(f"TK-F{next(_tickets)}", "GPF", "inbound", 30_000, "2026-03-10T11:05:00Z")])
    assert await stack.caught_up(at_least=head + 1) == head + 1  # the genuine block at that height folded


def test_the_verifier_checks_each_rule_on_its_own() -> None:
    """Pure checks on hand-made blocks (no services): each mutation is caught with its reason."""
    seq = Signer.from_seed(bytes(32))
    verifier = BlockVerifier(ledger_id="taijiao", keys=KeyRing([seq.public_key_raw]))
    env = stock_report(1000)
    leaves = [leaf_bytes(env)]
    header, sig, _ = seal_block(ledger_id="taijiao", height=0, prev_hash=GENESIS_PREV_HASH,
                                compact_range=CompactRange(), leaf_hashes=[leaf_hash(x) for x in leaves],
                                source_topic="t", source_partition=0, first_offset=0, last_offset=0,
                                sealed_at="2026-03-10T12:00:00Z", signer=seq)
    note = checkpoint_note("taijiao", header.tree_size, header.log_root, seq)
    good = blockmsg.encode(header_bytes(header), canonicalize([sig.to_json()]), leaves, note)
    block = verifier.verify(good, Tip())
    assert block.header_hash == header_hash(header) and block.tip() == Tip(0, header_hash(header), 1)

    def rejected(value: bytes, tip: Tip | None = GENESIS) -> str:
        with pytest.raises(BlockRejected) as e:
            verifier.verify(value, tip)
        return e.value.reason

    doc = json.loads(good)
    assert "not a blocks-topic message" in rejected(json.dumps({**doc, "extra": 1}).encode())
    tampered = json.loads(good)
    tampered["events"][0]["data"]["quantity_kg"] = 2000
    assert "block_root" in rejected(json.dumps(tampered).encode())
    assert "leaves" in rejected(json.dumps({**doc, "events": doc["events"] * 2}).encode())
    other_note = checkpoint_note("taijiao", header.tree_size, bytes(32), seq).decode()
    assert "checkpoint" in rejected(json.dumps({**doc, "checkpoint": other_note}).encode())
    assert "does not follow block" in rejected(good, Tip(5, header_hash(header), 1))
    with pytest.raises(BlockRejected, match="not 'other'"):
        BlockVerifier(ledger_id="other", keys=verifier.keys).verify(good, None)
    with pytest.raises(BlockRejected, match="no sequencer key"):
        BlockVerifier(ledger_id="taijiao", keys=None, key_source="none here").verify(good, None)


async def test_rebuild_and_reset_under_load_finish_at_the_ledger_height(stack: Stack) -> None:
    await stack.caught_up()
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            await stack.seal([E.truck_weighed(f"TK-L{next(_tickets)}", "GPF", "inbound", 20_000 + i,
                                              "2026-03-10T13:00:00Z") for i in range(3)])
            await asyncio.sleep(0.05)

    loader = asyncio.create_task(load())
    try:
        await wait_until(_grows(stack), 30, "the ledger to grow under load")
        pool = await db.create_pool(stack.settings, max_size=2)
        try:
            await ViewStore(pool).reset()  # the views emptied under the running worker (what broke it at 31)
        finally:
            await pool.close()
        at_reset = await ledger_height(stack.settings.database_url)

        async def past_reset() -> bool:
            return await views_height(stack.settings.database_url) >= at_reset

        await wait_until(past_reset, 120, "the running worker to fold everything again from block 0")
        height, ledger = await rebuild(stack.settings)  # `coalchain views --rebuild`, while the worker runs
        assert height >= ledger >= at_reset
    finally:
        stop.set()
        await loader

    async def all_sealed() -> bool:  # every event produced is sealed: the ledger stops growing
        return await tree_size(stack.settings.database_url) == stack.offset

    await wait_until(all_sealed, 60, "every produced event to be sealed")
    head = await stack.caught_up(120)
    assert head == await ledger_height(stack.settings.database_url)
    assert _rows_of(await tables(stack.settings.database_url)) == await _reference(stack.settings, head)


def _grows(stack: Stack) -> Any:
    start: list[int] = []

    async def grew() -> bool:
        h = await ledger_height(stack.settings.database_url)
        if not start:
            start.append(h)
        return h >= start[0] + 5

    return grew


async def _reference(settings: Settings, head: int) -> Any:
    """The in-memory reference fold of the genuine chain read from the topic (forgeries dropped by the same
    verifier, redeliveries by height)."""
    verifier = BlockVerifier.from_settings(settings)
    memory = MemoryViews()
    tip = Tip()
    for record in await read_topic(settings, Topics.from_settings(settings).blocks, timeout_s=30):
        with contextlib.suppress(BlockRejected):
            block = verifier.verify(record.value, tip)
            memory.apply(block.msg)
            tip = block.tip()
    assert tip.height == head
    return memory.rows


async def test_an_event_dated_9999_is_quarantined_and_the_views_go_on(stack: Stack) -> None:
    head = await stack.caught_up()
    odd = E.truck_weighed(f"TK-Z{next(_tickets)}", "GPF", "inbound", 12_345, "9999-12-31T23:59:59Z")
    await stack.seal([odd])
    assert await stack.caught_up(at_least=head + 1) == head + 1
    rows = await _fetch(stack.settings, "SELECT leaf_index, height, reason FROM views_quarantined_events")
    assert [(r["height"], r["reason"].split(":")[0]) for r in rows] == [(head + 1, "time-out-of-range")]
    await stack.seal([E.truck_weighed(f"TK-Z{next(_tickets)}", "GPF", "inbound", 10_000, "2026-03-10T14:00:00Z")])
    assert await stack.caught_up(at_least=head + 2) == head + 2  # and the next block folds as ever
    _, body = await stack.healthz()
    assert body["checks"]["views"]["quarantined_events"] == 1
    assert "1 events quarantined" in body["checks"]["views"]["detail"]


async def test_the_sequencer_finds_its_last_published_block_behind_forgeries(stack: Stack) -> None:
    """The sequencer reads the blocks topic too (on start, to republish what is missing): forged and garbage
    records at the end, with keys that are no height, neither crash it nor count as published."""
    head = await stack.caught_up()
    await stack.publish_blocks([await forge(stack.settings, [stock_report(1)], signer=WRONG_KEY), b"\x00garbage"])
    pool = await db.create_pool(stack.settings, max_size=2)
    try:
        assert await Sequencer(stack.settings)._last_published_height(LedgerStore(pool)) == head
    finally:
        await pool.close()
