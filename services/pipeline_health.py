"""Readiness of the two hops that can stop without anything crashing loudly: validation and sealing, and
what ``coalchain up`` knows about the processes it supervises (``/healthz`` and ``coalchain status``).

* **sealing** is red when a verdict waits and nothing is sealed: the accepted topic holds, after the offset
  the ledger's last block consumed (``ledger_blocks.last_offset``), a verdict record signed by a validator key
  of the trust set with at least one event the ledger does not hold, that record has waited longer than
  ``health_sealing_stall_s`` (its broker timestamp), and no block was committed
  (``ledger_blocks.committed_at``) for as long. That is what a dead, hung or crash-looping sequencer looks like,
  whoever supervises it. Time-to-cut markers, records the sequencer quarantines and redeliveries of events
  already sealed do not count as waiting.
* **validation** is red when a raw-topic partition holds records after the validators' group committed offset,
  the oldest of them older than ``health_validation_stall_s``, and no verdict record was written to the
  accepted topic for as long (validators working through a backlog write verdicts: behind, not stalled).
* **supervisor** (only beside a running ``coalchain up``: its state file ``COALCHAIN_HOME/up-state.json``) is
  red while a service crash-loops or the embedded PostgreSQL or broker is down.

Topic ends are read as the high watermark of a fetch (tansu's ListOffsets under-reports). Cheap enough to be
polled: one database connection, one consumer and one fetch over the raw partitions and the accepted topic;
the records after the ledger's end are looked at (at most :data:`SCAN_RECORDS`) only when no block was
committed within the limit, the accepted topic's tail only when raw records wait longer than the limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from chain_anchor.errors import BadSignature, UnknownKey, VerdictFormatError
from chain_anchor.keys import KeyRing
from chain_anchor.verdict import decode_verdict, verify_verdict
from services import db
from services.config import Settings
from services.health import Check
from services.kafka import clients
from services.kafka.topics import Topics, load_topics

log = logging.getLogger(__name__)

SCAN_RECORDS = 200  # accepted-topic records looked at after the ledger's end to find one that waits
TAIL_RECORDS = 16  # newest accepted-topic records looked at for the newest verdict
FETCH_BYTES = 16 * 1024  # per partition and fetch (the broker still returns a first batch that is larger)
STATE_FILE = "up-state.json"  # written by `coalchain up` (services.up) under COALCHAIN_HOME
STATE_FRESH_S = 30.0  # an older state file (or one whose writer is gone) is a `coalchain up` that is not running
VALIDATORS_GROUP = "coalchain-validators"  # services.validator.worker.GROUP_ID

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass(frozen=True)
class PipelineHealth:
    sealing: Check
    validation: Check
    figures: dict[str, dict[str, Any]]


@dataclass
class _Read:
    """What one pass over the topics found."""

    accepted_end: int = 0
    raw_waiting: int = 0
    oldest_raw: Record | None = None  # the oldest record the validators' group has not committed
    waiting_verdict: Record | None = None  # the first verdict record after the ledger's end that waits
    scanned: int = 0
    newest_verdict_ms: int | None = None
    reset: bool = False  # the accepted topic ends before the ledger's last offset: the broker lost its data


async def check_pipeline(settings: Settings, timeout_s: float = 5.0, role: str | None = "reader") -> PipelineHealth:
    try:
        return await asyncio.wait_for(_check(settings, role), timeout_s)
    except Exception as e:  # any broker or database failure: cannot tell (the broker/database checks say why)
        detail = f"cannot tell: {type(e).__name__}: {e}"[:300]
        return PipelineHealth(Check("sealing", False, detail), Check("validation", False, detail), {})


async def _check(settings: Settings, role: str | None) -> PipelineHealth:
    conn = await asyncpg.connect(db.url_for(settings, role))
    try:
        head = await _head(conn)
        start = 0 if head is None else int(head["last_offset"]) + 1
        idle_s = None if head is None else float(head["idle_s"])
        # a block committed within the limit: sealing cannot be stalled, nothing to scan for
        scan = idle_s is None or idle_s > settings.health_sealing_stall_s
        read = await _read_topics(settings, conn, start, scan)
    finally:
        await conn.close()
    now_ms = time.time() * 1000
    return PipelineHealth(_sealing(settings, head, idle_s, read, now_ms), _validation(settings, read, now_ms),
                          {"sealing": _sealing_figures(head, idle_s, read, now_ms),
                           "validation": _validation_figures(read, now_ms)})


async def _head(conn: asyncpg.Connection) -> asyncpg.Record | None:
    try:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT height, last_offset, extract(epoch FROM now() - committed_at)::float8 AS idle_s"
            " FROM ledger_blocks ORDER BY height DESC LIMIT 1")
    except asyncpg.UndefinedColumnError:  # before migration 0013: the newest verdict time of the block
        row = await conn.fetchrow("SELECT height, last_offset, extract(epoch FROM now() - sealed_at)::float8 AS idle_s"
                                  " FROM ledger_blocks ORDER BY height DESC LIMIT 1")
    return row


def _age_s(record_ms: float | None, now_ms: float) -> float | None:
    return None if record_ms is None else max(0.0, (now_ms - record_ms) / 1000)


def _sealing(settings: Settings, head: asyncpg.Record | None, idle_s: float | None, read: _Read,
             now_ms: float) -> Check:
    limit = settings.health_sealing_stall_s
    where = "empty ledger" if head is None else f"ledger at block {head['height']}"
    offset = -1 if head is None else head["last_offset"]
    if read.waiting_verdict is None:
        more = f" ({read.scanned} records after it need nothing sealed)" if read.scanned else ""
        return Check("sealing", True, f"{where}, accepted offset {offset}; the accepted topic ends at"
                     f" {read.accepted_end}{more}: no verdict waits")
    waited = _age_s(read.waiting_verdict.timestamp, now_ms) or 0.0
    idle = "no block was ever committed" if idle_s is None else f"the last block was committed {idle_s:.0f} s ago"
    detail = (f"{where}, accepted offset {offset}; the verdict record at accepted offset"
              f" {read.waiting_verdict.offset} has waited {waited:.0f} s; {idle}")
    if waited > limit and (idle_s is None or idle_s > limit):
        return Check("sealing", False, f"NOT READY: sealing stalled: verdicts wait and no block was sealed for more"
                     f" than {limit:.0f} s (is a sequencer running?) — {detail}")
    return Check("sealing", True, detail)


def _sealing_figures(head: asyncpg.Record | None, idle_s: float | None, read: _Read,
                     now_ms: float) -> dict[str, Any]:
    w = read.waiting_verdict
    return {"ledger_last_offset": None if head is None else head["last_offset"], "accepted_end": read.accepted_end,
            "waiting_offset": None if w is None else w.offset,
            "waiting_s": None if w is None else round(_age_s(w.timestamp, now_ms) or 0.0, 1),
            "last_commit_s": None if idle_s is None else round(idle_s, 1), "broker_reset": read.reset}


def _validation(settings: Settings, read: _Read, now_ms: float) -> Check:
    limit = settings.health_validation_stall_s
    if read.oldest_raw is None:
        return Check("validation", True, "the validators' group has committed every raw-topic record")
    oldest = _age_s(read.oldest_raw.timestamp, now_ms) or 0.0
    verdict_s = _age_s(read.newest_verdict_ms, now_ms)
    last = "no verdict in the accepted topic" if verdict_s is None else f"the newest verdict is {verdict_s:.0f} s old"
    detail = (f"{read.raw_waiting} raw-topic record{'s' if read.raw_waiting != 1 else ''} not committed by the"
              f" validators' group, the oldest (partition {read.oldest_raw.partition}, offset"
              f" {read.oldest_raw.offset}) {oldest:.0f} s old; {last}")
    if oldest > limit and (verdict_s is None or verdict_s > limit):
        return Check("validation", False, f"NOT READY: validation stalled: raw events wait and no verdict was written"
                     f" for more than {limit:.0f} s (are validators running?) — {detail}")
    return Check("validation", True, detail)


def _validation_figures(read: _Read, now_ms: float) -> dict[str, Any]:
    o = read.oldest_raw
    newest = _age_s(read.newest_verdict_ms, now_ms)
    return {"waiting_records": read.raw_waiting,
            "oldest_waiting_s": None if o is None else round(_age_s(o.timestamp, now_ms) or 0.0, 1),
            "last_verdict_s": None if newest is None else round(newest, 1)}


async def _read_topics(settings: Settings, conn: asyncpg.Connection, start: int, scan: bool) -> _Read:
    topics = Topics.from_settings(settings)
    raw_parts = next(s.partitions for s in load_topics().values() if s.role == "raw")
    raw = [TopicPartition(topics.raw, p) for p in range(raw_parts)]
    acc = TopicPartition(topics.accepted, 0)
    consumer = clients.consumer(settings, group_id=settings.topic(VALIDATORS_GROUP), fetch_max_wait_ms=50,
                                max_partition_fetch_bytes=FETCH_BYTES, fetch_max_bytes=(raw_parts + 1) * FETCH_BYTES)
    await consumer.start()  # assigned, never subscribed: it does not join the validators' group
    try:
        existing = await consumer.topics()  # first: tansu creates (4 partitions) any topic a client asks about
        missing = [t for t in (topics.raw, topics.accepted) if t not in existing]
        if missing:
            raise LookupError(f"no topic {', '.join(missing)} (`coalchain topics` creates the topics)")
        committed = {tp: await consumer.committed(tp) or 0 for tp in raw}
        consumer.assign([*raw, acc])
        for tp, offset in committed.items():
            consumer.seek(tp, offset)
        consumer.seek(acc, start)
        first = await _first_fetch(consumer, [*raw, acc])
        read = _Read(accepted_end=consumer.highwater(acc) or 0)
        for tp in raw:
            end = consumer.highwater(tp) or 0
            if end > committed[tp] and first.get(tp):
                read.raw_waiting += end - committed[tp]
                r = first[tp][0]
                if read.oldest_raw is None or r.timestamp < read.oldest_raw.timestamp:
                    read.oldest_raw = r
        records = first.get(acc, [])
        if read.accepted_end < start:  # the broker came back empty: the sequencer reads the new topic from 0
            read.reset = True
            consumer.seek(acc, 0)
            records = []
        if scan:
            await _waiting_verdict(settings, conn, consumer, acc, records, read)
        oldest = _age_s(None if read.oldest_raw is None else read.oldest_raw.timestamp, time.time() * 1000)
        if oldest is not None and oldest > settings.health_validation_stall_s:  # only then: are verdicts written?
            await _newest_verdict(settings, consumer, acc, read)
        return read
    finally:
        await consumer.stop()


async def _first_fetch(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[TopicPartition, list[Record]]:
    """Fetch until every partition's high watermark is known and every partition with records beyond its
    position returned some."""
    got: dict[TopicPartition, list[Record]] = {}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        batch = await consumer.getmany(*tps, timeout_ms=10)  # returns empty at once; the fetch runs meanwhile
        for tp, rs in batch.items():
            got.setdefault(tp, []).extend(rs)
        if all(consumer.highwater(tp) is not None for tp in tps):
            pending = [tp for tp in tps
                       if not got.get(tp) and (consumer.highwater(tp) or 0) > await consumer.position(tp)]
            if not pending:
                return got
    raise TimeoutError("could not read the raw and accepted topics' ends")


def _trusted_validators(settings: Settings) -> KeyRing:
    from services.keyfiles import genesis_path
    from services.registry import load_validator_keys

    path = genesis_path(settings)
    return load_validator_keys(path) if path.exists() else KeyRing()


def _verdict_ids(value: bytes | None, validators: KeyRing) -> list[str] | None:
    """The event ids of a verdict record signed by a trusted validator; None for anything else (a marker, a
    forgery, garbage: the sequencer quarantines it and it never waits)."""
    from services.sequencer.sealing import decode_head

    if not value:
        return None
    try:
        verdict = decode_verdict(value)
        verify_verdict(verdict, validators)
    except (VerdictFormatError, UnknownKey, BadSignature):
        return None
    ids = []
    for e in verdict.entries:
        try:
            ids.append(str(decode_head(e.leaf).id))
        except Exception:  # a malformed leaf is quarantined by the sequencer, never sealed
            continue
    return ids


def _is_marker(record: Record) -> bool:
    return any(k == "ttc" for k, _ in record.headers or ())


async def _waiting_verdict(settings: Settings, conn: asyncpg.Connection, consumer: AIOKafkaConsumer,
                           tp: TopicPartition, records: list[Record], read: _Read) -> None:
    """The first record after the ledger's end that holds an event to seal, looking at up to SCAN_RECORDS."""
    validators = _trusted_validators(settings)
    deadline = time.monotonic() + 2
    while read.scanned < SCAN_RECORDS:
        for r in records:
            ids = None if _is_marker(r) else _verdict_ids(r.value, validators)
            if ids:
                sealed = await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = ANY($1::uuid[])",
                                             ids)
                if sealed < len(set(ids)):
                    read.waiting_verdict = r
                    return
            read.scanned += 1
        if await consumer.position(tp) >= read.accepted_end or time.monotonic() > deadline:
            return
        records = (await consumer.getmany(tp, timeout_ms=100)).get(tp, [])


async def _newest_verdict(settings: Settings, consumer: AIOKafkaConsumer, tp: TopicPartition, read: _Read) -> None:
    """The broker timestamp of the newest verdict record among the last TAIL_RECORDS of the accepted topic
    (read backwards one record at a time: the newest is usually the last or the one before a marker)."""
    validators = _trusted_validators(settings)
    for offset in range(read.accepted_end - 1, max(-1, read.accepted_end - 1 - TAIL_RECORDS), -1):
        consumer.seek(tp, offset)
        records = (await consumer.getmany(tp, timeout_ms=500, max_records=1)).get(tp, [])
        if records and not _is_marker(records[0]) and _verdict_ids(records[0].value, validators) is not None:
            read.newest_verdict_ms = records[0].timestamp
            return


def check_supervisor(settings: Settings) -> Check | None:
    """What ``coalchain up`` reports about its children and its embedded servers; None when no ``coalchain up``
    runs with this home (no state file, or a stale one)."""
    path = settings.home / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid, updated = int(state["pid"]), float(state["updated_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if time.time() - updated > STATE_FRESH_S or not _alive(pid):
        return None
    reasons = []
    for c in state.get("children", []):
        if c.get("state") == "crash-looping":
            wait = c.get("restart_in_s")
            reasons.append(f"{c['name']} is crash-looping: it exited {c.get('fast_exits')} times in a row soon after"
                           f" starting (last status {c.get('last_exit')}); "
                           + ("started again, not yet for long" if wait is None else f"next start in {wait} s"))
    for name in ("postgres", "broker"):
        infra = state.get(name)
        if infra and infra.get("state") != "running":
            reasons.append(f"the embedded {name} has been down for {infra.get('down_s')} s"
                           + (f" ({infra['last_error']})" if infra.get("last_error") else ""))
    children = state.get("children", [])
    running = sum(1 for c in children if c.get("state") == "running")
    restarted = ", ".join(f"{c['name']} {c['restarts']}" for c in children if c.get("restarts"))
    detail = f"coalchain up pid {pid}: {running} of {len(children)} services running"
    detail += f"; restarts: {restarted}" if restarted else ""
    for name, label in (("postgres", "embedded PostgreSQL"), ("broker", "embedded broker")):
        if state.get(name, {}).get("restarts"):
            detail += f"; {label} restarted {state[name]['restarts']} time{'s' if state[name]['restarts'] != 1 else ''}"
    if reasons:
        detail = "NOT READY: " + "; ".join(reasons) + " — " + detail
    return Check("supervisor", not reasons, detail)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
