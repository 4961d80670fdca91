"""Faults of the validator → sequencer hop (issue 11), against the real broker and PostgreSQL.

Whoever can write to the accepted topic must not get anything sealed: the sequencer seals only verdict
records signed by a validator key of the trust set, quarantines everything else to the rejected topic with
``stage: sequencer`` and a reason, and keeps sealing. Offsets are read without gaps, and ``coalchain verify``
checks where each event was read.
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from chain_anchor.events import leaf_bytes, sign_event
from chain_anchor.keys import KeyRing, Signer
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services import db
from services.config import Settings
from services.kafka.topics import Topics, ensure_topics
from services.keyfiles import ensure_development_validator, sequencer_signer
from services.ledger_check import BlockChecker
from services.sequencer.service import Record, Sequencer
from services.store.postgres import LedgerStore
from services.verify import Report, verify_ledger
from tests.pipeline.helpers import envelope, produce_accepted, produce_raw, read_topic, running, tree_size, wait_until

pytestmark = pytest.mark.integration

MINE = Signer.from_seed(b"\x31" * 32)
BUYER = Signer.from_seed(b"\x32" * 32)
STRANGER = Signer.from_seed(b"\x33" * 32)  # a validator key nobody listed


class Hop:
    """A running sequencer over this module's accepted topic, and ways to feed it."""

    def __init__(self, settings: Settings, sequencer: Sequencer) -> None:
        self.settings = settings
        self.sequencer = sequencer
        self.topics = Topics.from_settings(settings)
        self.next_n = 0
        self.raw_offset = 0

    def events(self, count: int, **kw: Any) -> list[dict[str, Any]]:
        out = [envelope(MINE, "mine-a", self.next_n + i, **kw) for i in range(count)]
        self.next_n += count
        return out

    async def seal_good(self, count: int) -> list[dict[str, Any]]:
        """Publish ``count`` good events through a trusted verdict and wait until they are sealed."""
        before = await tree_size(self.settings.database_url)
        events = self.events(count)
        await produce_accepted(self.settings, self.topics.accepted, events, raw_offset_base=self.raw_offset)
        self.raw_offset += count
        await wait_until(lambda: _size_at_least(self.settings.database_url, before + count), 30, "good events sealed")
        return events

    async def quarantined(self, reason: str) -> list[Any]:
        records = await read_topic(self.settings, self.topics.rejected, partitions=3)
        return [r for r in records if dict(r.headers).get("stage") == b"sequencer"
                and dict(r.headers).get("reason") == reason.encode()]

    async def wait_quarantined(self, reason: str, count: int = 1) -> list[Any]:
        async def enough() -> bool:
            return len(await self.quarantined(reason)) >= count

        await wait_until(enough, 30, f"{count} record(s) quarantined as {reason}")
        return await self.quarantined(reason)


async def _size_at_least(url: str, n: int) -> bool:
    return await tree_size(url) >= n


async def sealed_ids(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM ledger_events")]
    finally:
        await conn.close()


def checker(settings: Settings) -> BlockChecker:
    return BlockChecker(ledger_id=settings.ledger_id,
                        sequencer_keys=KeyRing([sequencer_signer(settings).public_key_raw]),
                        event_keys=KeyRing([MINE.public_key_raw]))


async def verify(settings: Settings, url: str) -> Report:
    pool = await db.create_pool(settings.model_copy(update={"database_url": url}), max_size=2)
    try:
        return await verify_ledger(LedgerStore(pool), checker(settings))
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def hop(settings: Settings) -> AsyncIterator[Hop]:
    ensure_development_validator(settings)  # genesis lists the development validator key
    sequencer = Sequencer(settings)
    async with running(sequencer.run) as task:
        h = Hop(settings, sequencer)
        await h.seal_good(5)
        yield h
        assert not task.done(), "the sequencer stopped"


async def test_a_buyer_signed_event_written_into_the_accepted_topic_is_not_sealed(hop: Hop) -> None:
    forged = sign_event({
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/participants/buyer-x",
        "type": "cn.taijiao.coal.inventory.StockReported.v1", "subject": "mine-a", "time": "2026-11-30T08:00:00Z",
        "datacontenttype": "application/json", "data": {"mine_id": "mine-a", "stock_kg": 1},
    }, BUYER)
    await produce_raw(hop.settings, hop.topics.accepted, leaf_bytes(forged))  # the old, unsigned format
    [q] = await hop.wait_quarantined("malformed-record")
    assert q.value == leaf_bytes(forged)
    await hop.seal_good(3)  # sealing goes on
    assert forged["id"] not in await sealed_ids(hop.settings.database_url)


async def test_a_forged_99_999_999_999_kg_event_is_not_sealed_raw_or_inside_a_tampered_verdict(hop: Hop) -> None:
    event = envelope(MINE, "mine-a", 900_000)
    event["data"] = {"stock_kg": 99_999_999_999}  # signature no longer matches
    await produce_raw(hop.settings, hop.topics.accepted, leaf_bytes(event))
    # a genuine verdict whose leaf was swapped after the validator signed it
    validator = ensure_development_validator(hop.settings)
    honest = leaf_bytes(envelope(MINE, "mine-a", 900_001))
    record = encode_verdict([VerdictEntry(0, 900_001, honest)], "2026-11-30T08:00:00Z", validator)
    swapped = leaf_bytes({**json.loads(honest), "data": {"stock_kg": 99_999_999_999}})
    prefix = record[: len(record) - len(honest) - 16]  # everything before the one entry's head
    tampered = prefix + struct.pack(">IQI", 0, 900_001, len(swapped)) + swapped
    await produce_raw(hop.settings, hop.topics.accepted, tampered)
    await hop.wait_quarantined("bad-verdict-signature")
    assert len(await hop.wait_quarantined("malformed-record", 2)) >= 2
    await hop.seal_good(2)
    ids = await sealed_ids(hop.settings.database_url)
    assert event["id"] not in ids and json.loads(honest)["id"] not in ids


async def test_sixteen_garbage_bytes_are_quarantined_and_sealing_goes_on(hop: Hop) -> None:
    before = len(await hop.quarantined("malformed-record"))
    await produce_raw(hop.settings, hop.topics.accepted, bytes(range(16)))
    await produce_raw(hop.settings, hop.topics.accepted, b"oops", headers=[("ttc", b"1")])  # a marker with a value
    await produce_raw(hop.settings, hop.topics.accepted, b"", headers=[("ttc", b"not-a-height")])
    await produce_raw(hop.settings, hop.topics.accepted, None, key=b"k")  # no value, no ttc header
    quarantined = await hop.wait_quarantined("malformed-record", before + 4)
    assert bytes(range(16)) in [q.value for q in quarantined]
    assert all("detail" in dict(q.headers) for q in quarantined)
    good = await hop.seal_good(4)
    assert {e["id"] for e in good} <= set(await sealed_ids(hop.settings.database_url))
    assert hop.sequencer.quarantined >= before + 4


async def test_a_verdict_signed_by_an_unknown_validator_key_is_quarantined(hop: Hop) -> None:
    event = envelope(MINE, "mine-a", 910_000)
    record = encode_verdict([VerdictEntry(0, 910_000, leaf_bytes(event))], "2026-11-30T08:00:00Z", STRANGER)
    await produce_raw(hop.settings, hop.topics.accepted, record)
    [q] = await hop.wait_quarantined("unknown-validator-key")
    assert STRANGER.key_id in json.loads(dict(q.headers)["detail"])["detail"]
    await hop.seal_good(2)
    assert event["id"] not in await sealed_ids(hop.settings.database_url)


async def test_a_malformed_leaf_is_quarantined_alone_and_its_neighbours_are_sealed(hop: Hop) -> None:
    validator = ensure_development_validator(hop.settings)
    good = hop.events(2)
    entries = [VerdictEntry(0, 920_000, leaf_bytes(good[0])), VerdictEntry(0, 920_001, b'{"id":"not-a-uuid"}'),
               VerdictEntry(0, 920_002, leaf_bytes(good[1]))]
    await produce_raw(hop.settings, hop.topics.accepted, encode_verdict(entries, "2026-11-30T08:00:00Z", validator))
    [q] = await hop.wait_quarantined("malformed-leaf")
    headers = dict(q.headers)
    assert (headers["raw-partition"], headers["raw-offset"]) == (b"0", b"920001")
    await wait_until(lambda: _all_sealed(hop.settings.database_url, {e["id"] for e in good}), 30, "the neighbours")


async def _all_sealed(url: str, ids: set[str]) -> bool:
    return ids <= set(await sealed_ids(url))


async def test_sealed_at_comes_from_the_verdicts_not_from_event_times(hop: Hop) -> None:
    """A trusted validator vouched for an event dated 9999-12-31 (validators reject it since `time` is
    checked, see the validator test below): the block's time is the verdict's verified_at, not 9999."""
    validator = ensure_development_validator(hop.settings)
    late = envelope(MINE, "mine-a", 930_000)
    late["time"] = "9999-12-31T23:59:59Z"
    late = sign_event({k: v for k, v in late.items() if k not in ("signature", "sigkeyid")}, MINE)
    verified_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    await produce_raw(hop.settings, hop.topics.accepted,
                      encode_verdict([VerdictEntry(0, 930_000, leaf_bytes(late))], verified_at, validator))
    await wait_until(lambda: _all_sealed(hop.settings.database_url, {str(late["id"])}), 30, "the late event")
    await hop.seal_good(2)
    conn = await asyncpg.connect(hop.settings.database_url)
    try:
        times = [r["sealed_at"] for r in await conn.fetch("SELECT sealed_at FROM ledger_blocks ORDER BY height")]
    finally:
        await conn.close()
    assert times == sorted(times)  # monotonic
    assert times[-1] < datetime.now(UTC) + timedelta(days=1)


async def test_verify_passes_then_catches_an_accepted_offset_outside_its_block(
    hop: Hop, make_database: Callable[[str], Awaitable[str]]
) -> None:
    assert (await verify(hop.settings, hop.settings.database_url)).first_bad is None
    size = await tree_size(hop.settings.database_url)
    copy_settings = hop.settings.model_copy(update={"database_url": await make_database("hop_tamper")})
    async with running(Sequencer(copy_settings).run):  # re-seal the same topic into a copy to tamper with
        await wait_until(lambda: _size_at_least(copy_settings.database_url, size), 60, "the copy")
    assert (await verify(hop.settings, copy_settings.database_url)).first_bad is None
    conn = await asyncpg.connect(copy_settings.database_url)
    try:
        await conn.execute("SET session_replication_role = replica")  # triggers off: an attacker with superuser
        height = await conn.fetchval("SELECT height FROM ledger_events WHERE leaf_index = 3")
        await conn.execute("UPDATE ledger_events SET accepted_offset = accepted_offset + 1000000 WHERE leaf_index = 3")
    finally:
        await conn.close()
    report = await verify(hop.settings, copy_settings.database_url)
    assert report.first_bad is not None and report.first_bad.height == height
    assert "outside the block's range" in report.first_bad.reason


class GappySequencer(Sequencer):
    """A sequencer whose broker, once, hands it a fetch with a hole in the offsets (as tansu does under load)."""

    dropped: int | None = None

    async def _getmany(self, consumer: Any, tp: Any, timeout_ms: int) -> list[Record]:
        records = await super()._getmany(consumer, tp, timeout_ms)
        if self.dropped is None and len(records) >= 3:
            self.dropped = records[1].offset
            return [records[0], *records[2:]]
        return records


async def test_an_offset_gap_is_re_read_and_every_event_is_sealed_once(
    settings: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    s = settings.model_copy(update={"kafka_topic_prefix": settings.kafka_topic_prefix + "gap.",
                                    "database_url": await make_database("hop_gap"), "max_events_per_block": 4})
    await ensure_topics(s)
    events = [envelope(MINE, "mine-a", 950_000 + i) for i in range(15)]
    await produce_accepted(s, Topics.from_settings(s).accepted, events)  # 4 verdict records: 4 + 4 + 4 + 3
    sequencer = GappySequencer(s)
    async with running(sequencer.run):
        await wait_until(lambda: _size_at_least(s.database_url, 15), 30, "all 15 events")
        await asyncio.sleep(0.3)  # anything sealed twice would show up now
    assert sequencer.dropped is not None and sequencer.offsets.gaps >= 1 and sequencer.offsets.skipped == 0
    ids = await sealed_ids(s.database_url)
    assert sorted(ids) == sorted(e["id"] for e in events)  # each once
    assert (await verify(s, s.database_url)).first_bad is None
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await conn.fetch("SELECT accepted_offset, accepted_index FROM ledger_events ORDER BY leaf_index")
    finally:
        await conn.close()
    assert [(r["accepted_offset"], r["accepted_index"]) for r in rows] == sorted(
        (r["accepted_offset"], r["accepted_index"]) for r in rows)
    assert sequencer.dropped in {r["accepted_offset"] for r in rows}  # the record the fetch skipped is sealed


def stock_report(when: datetime | str) -> dict[str, Any]:
    """A valid, signed StockReported of the demo consortium (seed 0) at ``when``."""
    from pathlib import Path

    from services.simulator import participant_signer

    doc = json.loads((Path(__file__).parents[2] / "schemas/examples/valid/inventory.StockReported.json").read_text())
    doc = {k: v for k, v in doc.items() if k not in ("signature", "sigkeyid")}
    doc["id"] = str(uuid.uuid4())
    doc["time"] = when if isinstance(when, str) else when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return sign_event(doc, participant_signer(0, "jincheng-anthracite-sales"))


async def test_an_event_outside_the_time_window_is_rejected_by_the_validators(
    settings: Settings, make_database: Callable[[str], Awaitable[str]]
) -> None:
    """`time` 9999-12-31 (and 60 days ago, and 20 min ahead) → rejected `time-out-of-range` with the default
    window; events within it are sealed, and every block's sealed_at is a sane clock reading."""
    from services.registry import load_genesis
    from services.simulator import genesis, write_genesis
    from services.validator.worker import Validator

    defaults = Settings()
    s = settings.model_copy(update={
        "kafka_topic_prefix": settings.kafka_topic_prefix + "time.", "database_url": await make_database("hop_time"),
        "genesis_file": settings.home / "genesis-time.json",
        "event_time_max_past_s": defaults.event_time_max_past_s,
        "event_time_max_future_s": defaults.event_time_max_future_s})
    await ensure_topics(s)
    assert s.genesis_file is not None
    write_genesis(s.genesis_file, genesis(0, created=datetime.now(UTC), ledger_id=s.ledger_id))
    ensure_development_validator(s)
    now = datetime.now(UTC)
    bad = [stock_report("9999-12-31T23:59:59Z"), stock_report(now - timedelta(days=60)),
           stock_report(now + timedelta(minutes=20))]
    good = [stock_report(now - timedelta(days=30)), stock_report(now + timedelta(minutes=5)), stock_report(now)]
    topics = Topics.from_settings(s)
    for e in bad + good:
        await produce_raw(s, topics.raw, leaf_bytes(e), key=str(e["subject"]).encode())
    async with running(Validator(s, load_genesis(s.genesis_file)).run), running(Sequencer(s).run):
        await wait_until(lambda: _all_sealed(s.database_url, {str(e["id"]) for e in good}), 60, "the good events")

        async def three_rejected() -> bool:
            return len([r for r in await read_topic(s, topics.rejected, partitions=3)
                        if dict(r.headers).get("reason") == b"time-out-of-range"]) >= 3

        await wait_until(three_rejected, 30, "three time-out-of-range rejections")
    rejected = [r for r in await read_topic(s, topics.rejected, partitions=3)
                if dict(r.headers).get("reason") == b"time-out-of-range"]
    assert {json.loads(r.value)["id"] for r in rejected} == {e["id"] for e in bad}
    assert all(dict(r.headers)["stage"] == b"validator" for r in rejected)
    assert not {str(e["id"]) for e in bad} & set(await sealed_ids(s.database_url))
    conn = await asyncpg.connect(s.database_url)
    try:
        times = [r["sealed_at"] for r in await conn.fetch("SELECT sealed_at FROM ledger_blocks ORDER BY height")]
    finally:
        await conn.close()
    assert times and all(now - timedelta(minutes=5) < t < datetime.now(UTC) + timedelta(seconds=5) for t in times)


@pytest.mark.parametrize(("command", "names"), [("validator", "COALCHAIN_VALIDATOR_KEY_FILE"),
                                                 ("sequencer", "COALCHAIN_GENESIS_FILE")])
def test_in_production_a_validator_without_its_key_and_a_sequencer_without_genesis_refuse_to_start(
    command: str, names: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.setenv("COALCHAIN_ENVIRONMENT", "production")
    monkeypatch.setenv("COALCHAIN_HOME", str(tmp_path))
    assert main([command]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and names in err and "Traceback" not in err
    assert not (tmp_path / "keys" / "validator.key").exists()
