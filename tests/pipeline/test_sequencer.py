"""The sequencer against a real broker and a real PostgreSQL: sealing, dedupe, resume, standby, determinism,
replication and tamper detection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from chain_anchor.keys import KeyRing, Signer
from services import db
from services.config import Settings
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.ledger_check import BlockChecker
from services.replica.service import Replica
from services.sequencer.service import Sequencer
from services.store.postgres import BlockRow, LedgerStore
from services.verify import Report, verify_ledger
from tests.pipeline.helpers import envelope, produce_accepted, read_topic, running, tree_size, wait_until

pytestmark = pytest.mark.integration

MINE = Signer.from_seed(bytes(range(32)))
N = 4500


def checker(settings: Settings, *, events: bool = True) -> BlockChecker:
    return BlockChecker(ledger_id=settings.ledger_id,
                        sequencer_keys=KeyRing([sequencer_signer(settings).public_key_raw]),
                        event_keys=KeyRing([MINE.public_key_raw]) if events else None)


async def verify(settings: Settings, url: str) -> Report:
    pool = await db.create_pool(settings.model_copy(update={"database_url": url}), max_size=2)
    try:
        return await verify_ledger(LedgerStore(pool), checker(settings))
    finally:
        await pool.close()


async def headers(url: str) -> list[bytes]:
    conn = await asyncpg.connect(url)
    try:
        return [bytes(r["header"]) for r in await conn.fetch("SELECT header FROM ledger_blocks ORDER BY height")]
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def sealed(settings: Settings) -> Settings:
    """N events produced to the accepted topic and sealed by one sequencer run."""
    topics = Topics.from_settings(settings)
    await produce_accepted(settings, topics.accepted, [envelope(MINE, "mine-a", n) for n in range(N)])
    async with running(Sequencer(settings).run):
        await wait_until(lambda: _size_is(settings.database_url, N), what=f"{N} sealed events")
    return settings


async def _size_is(url: str, n: int) -> bool:
    return await tree_size(url) == n


async def test_backlog_is_sealed_in_full_blocks_then_a_timed_cut(sealed: Settings) -> None:
    conn = await asyncpg.connect(sealed.database_url)
    try:
        counts = [r["leaf_count"] for r in await conn.fetch("SELECT leaf_count FROM ledger_blocks ORDER BY height")]
        # verdict records (≤ 900 KB each, so ~1,990 of these events) are never split across blocks: two
        # blocks filled as far as whole records fit under max_events_per_block, then the timed cut
        assert len(counts) == 3 and all(c <= 2000 for c in counts) and sum(counts) == N
        assert min(counts[:2]) > 1900
        assert await conn.fetchval("SELECT count(DISTINCT event_id) FROM ledger_events") == N
    finally:
        await conn.close()
    report = await verify(sealed, sealed.database_url)
    assert report.first_bad is None and report.events == N


async def test_redelivery_is_dropped_and_replay_is_rejected(sealed: Settings) -> None:
    topics = Topics.from_settings(sealed)
    again = [envelope(MINE, "mine-a", n) for n in range(10)]
    await produce_accepted(sealed, topics.accepted, again)  # same raw positions: a validator redelivery
    await produce_accepted(sealed, topics.accepted, again[:3], raw_offset_base=10_000)  # elsewhere: replays
    fresh = [envelope(MINE, "mine-a", n) for n in range(N, N + 5)]
    await produce_accepted(sealed, topics.accepted, fresh, raw_offset_base=N)
    async with running(Sequencer(sealed).run):
        await wait_until(lambda: _size_is(sealed.database_url, N + 5), what="the 5 fresh events")
    rejected = await read_topic(sealed, topics.rejected, partitions=3)
    reasons = [dict(r.headers)["reason"] for r in rejected]
    assert reasons == [b"replay"] * 3
    assert {json.loads(r.value)["id"] for r in rejected} == {e["id"] for e in again[:3]}
    assert (await verify(sealed, sealed.database_url)).first_bad is None


async def test_a_block_of_only_duplicates_does_not_stop_the_timer(sealed: Settings) -> None:
    """A timer-cut batch whose events are all sealed already (a publisher resubmitting after a 503, a
    validator that restarted) seals no block; the height stays, and the next pending events still get
    their time-to-cut marker — the sequencer does not wait for a size cut that may never come."""
    topics = Topics.from_settings(sealed)
    base = await tree_size(sealed.database_url)
    before = len(await read_topic(sealed, topics.rejected, partitions=3))
    async with running(Sequencer(sealed).run):
        await produce_accepted(sealed, topics.accepted, [envelope(MINE, "mine-a", n) for n in range(3)],
                               raw_offset_base=20_000)  # replays of sealed events, nothing else
        await wait_until(lambda: _rejected_count(sealed, before + 3), what="the 3 replays rejected")
        await produce_accepted(sealed, topics.accepted, [envelope(MINE, "mine-a", n) for n in range(base, base + 4)],
                               raw_offset_base=base)
        await wait_until(lambda: _size_is(sealed.database_url, base + 4), what="the 4 fresh events sealed by the timer")
    assert (await verify(sealed, sealed.database_url)).first_bad is None


async def _rejected_count(settings: Settings, n: int) -> bool:
    return len(await read_topic(settings, Topics.from_settings(settings).rejected, partitions=3, timeout_s=1)) >= n


async def test_standby_takes_over_when_the_active_sequencer_dies(sealed: Settings) -> None:
    topics = Topics.from_settings(sealed)
    base = await tree_size(sealed.database_url)
    active, standby = Sequencer(sealed), Sequencer(sealed)
    stop_active, stop_standby = asyncio.Event(), asyncio.Event()
    t_active = asyncio.create_task(active.run(stop_active))
    await asyncio.sleep(1.0)
    t_standby = asyncio.create_task(standby.run(stop_standby))
    try:
        await produce_accepted(sealed, topics.accepted, [envelope(MINE, "mine-a", n) for n in range(base, base + 50)],
                               raw_offset_base=base)
        await wait_until(lambda: _size_is(sealed.database_url, base + 50), what="sealing by the active one")
        assert active.sealed_events == 50 and standby.sealed_events == 0
        t_active.cancel()  # dies without cleanup code running its unit of work: the lock goes with its connection
        with pytest.raises(asyncio.CancelledError):
            await t_active
        await produce_accepted(sealed, topics.accepted,
                               [envelope(MINE, "mine-a", n) for n in range(base + 50, base + 80)],
                               raw_offset_base=base + 50)
        await wait_until(lambda: _size_is(sealed.database_url, base + 80), what="the standby to take over")
        assert standby.sealed_events == 30
    finally:
        stop_standby.set()
        await asyncio.wait_for(t_standby, 30)
    assert (await verify(sealed, sealed.database_url)).first_bad is None


async def test_resealing_the_same_topic_from_scratch_is_byte_identical(
    sealed: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    original = await headers(sealed.database_url)
    size = await tree_size(sealed.database_url)
    again = sealed.model_copy(update={"database_url": await make_database("reseal")})
    async with running(Sequencer(again).run):
        await wait_until(lambda: _size_is(again.database_url, size), what="re-sealing")
    assert await headers(again.database_url) == original


async def test_replica_verifies_and_ends_identical(
    sealed: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    size = await tree_size(sealed.database_url)
    replica_settings = sealed.model_copy(update={"database_url": await make_database("replica")})
    replica = Replica(replica_settings, checker(sealed))
    async with running(replica.run):
        await wait_until(lambda: _size_is(replica_settings.database_url, size), what="the replica to catch up")
    assert await headers(replica_settings.database_url) == await headers(sealed.database_url)
    assert (await verify(sealed, replica_settings.database_url)).first_bad is None


async def test_edit_behind_the_triggers_is_found_at_its_height(
    sealed: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    size = await tree_size(sealed.database_url)
    copy = sealed.model_copy(update={"database_url": await make_database("tamper")})
    async with running(Sequencer(copy).run):
        await wait_until(lambda: _size_is(copy.database_url, size), what="a copy to tamper with")
    conn = await asyncpg.connect(copy.database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE ledger_events SET subject = 'x' WHERE leaf_index = 2345")
        await conn.execute("SET session_replication_role = replica")  # triggers off: an attacker with superuser
        height = await conn.fetchval("SELECT height FROM ledger_events WHERE leaf_index = 2345")
        await conn.execute(
            "UPDATE ledger_events SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '\"n\":2345',"
            " '\"n\":2346'), 'UTF8') WHERE leaf_index = 2345")
    finally:
        await conn.close()
    report = await verify(sealed, copy.database_url)
    assert report.first_bad is not None
    assert report.first_bad.height == height == 1
    assert "leaf" in report.first_bad.reason or "root" in report.first_bad.reason


async def test_a_broker_that_lost_its_topics_is_read_from_the_beginning(
    sealed: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    """tansu keeps nothing across a restart: the ledger (PostgreSQL) has consumed offsets the new, empty
    accepted topic does not reach. The sequencer must notice and read the new topic from its start."""
    from services.kafka.topics import ensure_topics

    size = await tree_size(sealed.database_url)
    fresh_broker = sealed.model_copy(update={"kafka_topic_prefix": sealed.kafka_topic_prefix + "after-restart."})
    await ensure_topics(fresh_broker)
    more = [envelope(MINE, "mine-a", n) for n in range(100_000, 100_010)]
    await produce_accepted(fresh_broker, Topics.from_settings(fresh_broker).accepted, more)
    async with running(Sequencer(fresh_broker).run):
        await wait_until(lambda: _size_is(sealed.database_url, size + 10), what="sealing from the new topic")
    blocks = await read_topic(fresh_broker, Topics.from_settings(fresh_broker).blocks)
    heights = sorted(int(r.key) for r in blocks)
    assert heights == list(range(heights[-1] + 1))  # all republished to the empty blocks topic, then the new


def test_block_time_is_the_latest_event_time_and_never_goes_back() -> None:
    from datetime import datetime

    from services.sequencer.sealing import sealed_at

    times = ["2026-03-02T08:00:00Z", "2026-03-02T09:30:00.250Z", "2026-03-02T07:00:00Z"]
    assert sealed_at(times) == "2026-03-02T09:30:00.250000Z"
    later = datetime.fromisoformat("2026-03-02T10:00:00Z")
    assert sealed_at(times, later) == "2026-03-02T10:00:00Z"


async def test_replica_skips_a_tampered_block_stores_nothing_after_it_and_goes_on_with_the_genuine_one(
    sealed: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    """A forged block is logged, counted and skipped — never stored, never a halt (it used to halt the
    replica: then anyone who can write to the topic could stop every replica)."""
    from services.kafka import clients
    from services.kafka.topics import ensure_topics

    source = await read_topic(sealed, Topics.from_settings(sealed).blocks)
    by_height = {int(r.key): r.value for r in source}
    forged = json.loads(by_height[1])
    forged["events"][3]["data"]["n"] += 1  # one event changed, its block header and signatures left as they were
    feed = sealed.model_copy(update={"kafka_topic_prefix": sealed.kafka_topic_prefix + "forged.",
                                     "database_url": await make_database("forged_replica")})
    await ensure_topics(feed)
    producer = clients.producer(feed)
    await producer.start()

    async def send(*items: tuple[int, bytes]) -> None:
        for height, value in items:
            await producer.send_and_wait(Topics.from_settings(feed).blocks, value, key=str(height).encode())

    try:
        await send((0, by_height[0]), (1, json.dumps(forged).encode()), (2, by_height[2]))
        replica = Replica(feed, checker(sealed))
        async with running(replica.run):
            async def three_seen() -> bool:
                return replica.rejected >= 2
            await wait_until(three_seen, what="the forged block 1 and the unlinked block 2 rejected")
            assert len(await headers(feed.database_url)) == 1  # block 0 only: nothing after the forgery
            await send((1, by_height[1]), (2, by_height[2]))  # the genuine block 1 comes, then 2 again

            async def stored() -> bool:
                return len(await headers(feed.database_url)) == 3
            await wait_until(stored, what="the genuine blocks 1 and 2 stored")
        assert replica.rejected == 2 and replica.stored == 3
    finally:
        await producer.stop()


def _row(height: int, first: int, last: int) -> BlockRow:
    from datetime import UTC, datetime

    return BlockRow(height=height, header=b"{}", header_hash=b"\0" * 32, signatures=b"[]", first_leaf_index=height,
                    leaf_count=1, tree_size=height + 1, log_root=b"\0" * 32, source_partition=0,
                    first_offset=first, last_offset=last, compact_range=b"", checkpoint=b"",
                    sealed_at=datetime(2026, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(("first", "last", "at", "bad"), [
    (10, 12, 11, None),  # right after the previous block's range
    (0, 3, 2, None),  # the range starts again at 0: a broker that lost its data (a restart of tansu)
    (8, 12, 11, "overlap the previous block's"),  # a genuinely bad offset: back into the previous range
    (1, 3, 2, "overlap the previous block's"),  # not a new topic's start either
    (10, 12, 13, "outside the block's range"),
    (12, 10, 11, "is after last_offset"),
])
def test_accepted_offsets_may_start_again_at_zero_but_never_overlap(first: int, last: int, at: int,
                                                                    bad: str | None) -> None:
    from services.ledger_check import BlockInvalid
    from services.verify import check_accepted_offsets

    prev = _row(0, 0, 9)
    rows: list[Any] = [{"accepted_offset": at, "accepted_index": 0}]
    if bad is None:
        check_accepted_offsets(_row(1, first, last), prev, rows)
        return
    with pytest.raises(BlockInvalid, match=bad):
        check_accepted_offsets(_row(1, first, last), prev, rows)


async def test_a_running_sequencer_notices_the_topic_lost_only_when_it_ends_before_the_expected_offset(
    sealed: Settings,
) -> None:
    """The running loop's sign (services/sequencer/service.py ``_topic_lost``) against a real topic of 5
    records: expected offsets up to its end are normal reading (a re-read after a hole included); beyond its
    end, the topic is shorter than what was read."""
    from aiokafka import TopicPartition

    from services.kafka import clients
    from services.kafka.offsets import OffsetTracker
    from services.kafka.topics import ensure_topics

    short = sealed.model_copy(update={"kafka_topic_prefix": sealed.kafka_topic_prefix + "short."})
    await ensure_topics(short)
    accepted = Topics.from_settings(short).accepted
    for n in range(200_000, 200_005):  # five verdict records: offsets 0..4
        await produce_accepted(short, accepted, [envelope(MINE, "mine-a", n)], raw_offset_base=n)
    assert len(await read_topic(short, accepted)) == 5
    sequencer = Sequencer(short)
    tp = TopicPartition(accepted, 0)
    consumer = clients.consumer(short)
    await consumer.start()
    try:
        consumer.assign([tp])
        lost: dict[int | None, bool] = {}
        for expected in (None, 0, 3, 5, 6, 50):
            await consumer.seek_to_beginning(tp) if expected is None else consumer.seek(tp, min(expected, 5))
            fetched = (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
            sequencer.offsets = OffsetTracker(expected, 3)
            lost[expected] = await sequencer._topic_lost(consumer, tp, fetched)
        # records below the expected offset with no seek back to them: only from a topic that is too short
        consumer.seek(tp, 0)
        fetched = (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
        sequencer.offsets = OffsetTracker(4, 3)
        assert fetched and fetched[0].offset < 4
        below_but_there = await sequencer._topic_lost(consumer, tp, fetched)
    finally:
        await consumer.stop()
    assert lost == {None: False, 0: False, 3: False, 5: False, 6: True, 50: True}
    assert below_but_there is False  # confirmed against the topic's end before anything is reset
