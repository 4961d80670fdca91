"""Rejections: stored from the rejected topic so that publishers learn what became of their events.

:class:`RejectionRecorder` runs as a task inside the API process: it assigns itself every partition of the rejected
topic, starts after the last position it stored (``max(rejected_offset) + 1`` per partition) and inserts one
``event_rejections`` row per record (``ON CONFLICT DO NOTHING``: several API processes may run it, each row
lands once). It stores only a contiguous run of offsets (:mod:`services.kafka.offsets`): a fetch with a hole
is read again from the hole, so a rejection is never passed over. ``envelope_sha256`` (SHA-256 of the RFC 8785
bytes of the rejected envelope) lets a publisher tell a rejection of its own bytes from one of other bytes
claiming its event id. A record it cannot make sense of is stored with what it could read; it never stops the
recorder (a topic is a transport, not a trust boundary: the claimed ``source`` and ``id`` only help find a
rejection, see 0007).

:func:`record_row` is the pure part: one Kafka record (value, headers, position, timestamp) -> one row.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from chain_anchor.canonical import canonicalize
from chain_anchor.errors import ChainAnchorError
from services.config import Settings
from services.kafka import clients
from services.kafka.offsets import Contiguity, Record

log = logging.getLogger(__name__)

PARTICIPANT_PREFIX = "/participants/"
COLUMNS = ("rejected_partition", "rejected_offset", "event_id", "participant", "type", "reason", "detail", "stage",
           "raw_partition", "raw_offset", "sigkeyid", "signature", "envelope_sha256", "rejected_at")


def _int(value: bytes | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def record_row(*, partition: int, offset: int, timestamp_ms: int, value: bytes | None,
               headers: Sequence[tuple[str, bytes]]) -> tuple[Any, ...]:
    """The ``event_rejections`` row of one record of the rejected topic (columns in :data:`COLUMNS`)."""
    h = {k: v for k, v in headers}
    try:
        detail = json.loads(h.get("detail", b"{}"))
        if not isinstance(detail, dict):
            detail = {"detail": str(detail)}
    except (UnicodeDecodeError, json.JSONDecodeError):
        detail = {"detail": h.get("detail", b"").decode("utf-8", "replace")}
    try:
        envelope = json.loads(value or b"")
    except (UnicodeDecodeError, json.JSONDecodeError):
        envelope = None
    env: dict[str, Any] = envelope if isinstance(envelope, dict) else {}
    event_id: uuid.UUID | None = None
    for candidate in (detail.get("event_id"), env.get("id")):
        try:
            event_id = uuid.UUID(str(candidate)) if candidate else None
        except ValueError:
            continue
        if event_id is not None:
            break
    source = _str(env.get("source"))
    participant = source[len(PARTICIPANT_PREFIX):] if source and source.startswith(PARTICIPANT_PREFIX) else None
    reason = h.get("reason", b"").decode("utf-8", "replace") or str(detail.get("reason") or "unknown")
    detail.setdefault("reason", reason)
    return (partition, offset, event_id, participant or None, _str(env.get("type")), reason,
            json.dumps(detail, ensure_ascii=False), h.get("stage", b"validator").decode("utf-8", "replace"),
            _int(h.get("raw-partition")), _int(h.get("raw-offset")), _str(env.get("sigkeyid")),
            _str(env.get("signature")), envelope_sha256(envelope), datetime.fromtimestamp(timestamp_ms / 1000, UTC))


def envelope_sha256(envelope: object) -> bytes | None:
    """SHA-256 of the RFC 8785 bytes of a JSON object, or None (not an object, or not canonicalisable)."""
    if not isinstance(envelope, dict):
        return None
    try:
        return hashlib.sha256(canonicalize(envelope)).digest()
    except ChainAnchorError:
        return None


INSERT = (f"INSERT INTO event_rejections ({', '.join(COLUMNS)}) VALUES"
          f" ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))}) ON CONFLICT DO NOTHING")


class RejectionRecorder:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, topic: str) -> None:
        self.settings = settings
        self.pool = pool
        self.topic = topic
        self.stored = 0
        self.contiguity = Contiguity("rejected", settings.offset_gap_max_retries)

    async def run(self, stop: asyncio.Event) -> None:
        """Store rejections until ``stop``; a broker or database outage is retried, never fatal."""
        while not stop.is_set():
            try:
                await self._consume(stop)
            except (KafkaError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("rejection recorder: %s; retrying in 1 s", e)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = clients.consumer(self.settings)
        await consumer.start()
        try:
            partitions = sorted(consumer.partitions_for_topic(self.topic) or {0})
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            rows = await self.pool.fetch("SELECT rejected_partition AS p, max(rejected_offset) AS o"
                                         " FROM event_rejections GROUP BY rejected_partition")
            stored = {r["p"]: r["o"] for r in rows}
            for tp in tps:
                if tp.partition in stored:
                    consumer.seek(tp, stored[tp.partition] + 1)
                    self.contiguity.expect(tp, stored[tp.partition] + 1)
                else:
                    await consumer.seek_to_beginning(tp)
                    self.contiguity.expect(tp, None)
            while not stop.is_set():
                batches = self.contiguity.take(consumer, await self._getmany(consumer))
                records = [r for rs in batches.values() for r in rs]
                if not records:
                    continue
                await self.pool.executemany(INSERT, [
                    record_row(partition=r.partition, offset=r.offset, timestamp_ms=r.timestamp, value=r.value,
                               headers=list(r.headers or ())) for r in records])
                self.stored += len(records)
                log.debug("stored %d rejections", len(records))
        finally:
            await consumer.stop()

    async def _getmany(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        batches: dict[TopicPartition, list[Record]] = await consumer.getmany(timeout_ms=200, max_records=1000)
        return batches


def rejection_json(row: asyncpg.Record) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    return {
        "event_id": str(row["event_id"]) if row["event_id"] else None,
        "source": f"{PARTICIPANT_PREFIX}{row['participant']}" if row["participant"] else None,
        "type": row["type"],
        "reason": row["reason"],
        "detail": detail.get("detail", ""),
        "errors": detail.get("errors", []),
        "stage": row["stage"],
        "rejected_at": row["rejected_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "sigkeyid": row["sigkeyid"],
        "signature": row["signature"],
        "envelope_sha256": bytes(row["envelope_sha256"]).hex() if row["envelope_sha256"] else None,
        "position": {"partition": row["rejected_partition"], "offset": row["rejected_offset"]},
        "seq": row["id"],
    }


SELECT = f"SELECT id, {', '.join(COLUMNS)} FROM event_rejections"


async def rejections_of_event(pool: asyncpg.Pool, event_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"{SELECT} WHERE event_id = $1 ORDER BY id", event_id)
    return [rejection_json(r) for r in rows]


async def rejections_of(pool: asyncpg.Pool, participant: str, *, after: int = 0,
                        limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"{SELECT} WHERE participant = $1 AND id > $2 ORDER BY id LIMIT $3",
                            participant, after, limit)
    return [rejection_json(r) for r in rows]
