"""``coalchain reconcile``: prove that every acknowledged event is sealed exactly once or rejected with a reason.

Acknowledged = what was published to the raw topic (everything the gateway answered 202 for, everything a
Kafka publisher got acks=all for). For a time range, the raw topic is read from the broker over that range
(record timestamps); ``--ids`` (or ``--ids-file``) names the events instead (e.g. a publisher's list of
202 answers, which also covers a broker that lost its records). Each event id is then looked up:

* sealed: rows in ``ledger_events`` (the id is unique there, so "more than once" would be a broken ledger);
* rejected: the rejected topic (read from the broker) and the stored rejections (``event_rejections``),
  with the reason code.

An id that is neither is printed (``missing <id>``); the exit code is 1 if there is any (and 0 otherwise).
Records of the raw topic that are not events at all (garbage) have no id to account for: they are counted
and must be in the rejected topic at their raw position.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from schemas import ijson
from services import db
from services.config import Settings
from services.errors import UserError
from services.kafka import clients
from services.kafka.offsets import Contiguity
from services.kafka.topics import Topics

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 60.0


@dataclass
class Report:
    acknowledged: int = 0
    sealed: dict[str, int] = field(default_factory=dict)  # id -> times sealed (1 unless the ledger is broken)
    rejected: dict[str, str] = field(default_factory=dict)  # id -> reason
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unidentified_raw: int = 0  # raw records that name no event id
    unidentified_unrejected: list[tuple[int, int]] = field(default_factory=list)  # their raw positions

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated and not self.unidentified_unrejected


@dataclass
class RawRecord:
    partition: int
    offset: int
    event_id: str | None


async def read_topic(settings: Settings, topic: str, *, since_ms: int | None = None, until_ms: int | None = None,
                     timeout_s: float = READ_TIMEOUT_S) -> list[Any]:
    """Every record of ``topic`` with since_ms ≤ timestamp < until_ms (all when None), read to the end."""
    consumer = clients.consumer(settings)
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            await consumer.topics()  # refresh metadata once
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        contiguity = Contiguity(topic)  # a fetch with a hole is read again from it (services.kafka.offsets)
        if since_ms is not None:
            found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
            for tp, at in found.items():
                if at is not None:
                    consumer.seek(tp, at.offset)
                    contiguity.expect(tp, at.offset)
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while True:
            batch = contiguity.take(consumer, await consumer.getmany(timeout_ms=200))
            for rs in batch.values():
                out += [r for r in rs if (since_ms is None or r.timestamp >= since_ms)
                        and (until_ms is None or r.timestamp < until_ms)]
            marks = [consumer.highwater(tp) for tp in tps]
            positions = [await consumer.position(tp) for tp in tps]
            if all(m is not None and p >= m for p, m in zip(positions, marks, strict=True)):
                return out
            if time.monotonic() > deadline:
                raise UserError(f"could not read {topic} to its end in {timeout_s:.0f} s")
    finally:
        await consumer.stop()


def _event_id(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        doc = ijson.loads(value)
    except ijson.JSONError:
        return None
    event_id = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(event_id, str):
        return None
    try:
        return str(uuid.UUID(event_id))
    except ValueError:
        return None


def _header(record: Any, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value)
    return None


async def reconcile(settings: Settings, *, ids: Iterable[str] | None = None,
                    since: datetime.datetime | None = None, until: datetime.datetime | None = None) -> Report:
    topics = Topics.from_settings(settings)
    report = Report()
    wanted: set[str] = set()
    raw_unidentified: list[tuple[int, int]] = []
    if ids is not None:
        wanted = {str(uuid.UUID(i)) for i in ids}
    else:
        since_ms = int(since.timestamp() * 1000) if since else None
        until_ms = int(until.timestamp() * 1000) if until else None
        for r in await read_topic(settings, topics.raw, since_ms=since_ms, until_ms=until_ms):
            eid = _event_id(r.value)
            if eid is None:
                raw_unidentified.append((r.partition, r.offset))
            else:
                wanted.add(eid)
    report.acknowledged = len(wanted)
    report.unidentified_raw = len(raw_unidentified)

    # rejections: the rejected topic, and what the API stored of it (survives a broker that lost it)
    rejected_at_raw: set[tuple[int, int]] = set()
    for r in await read_topic(settings, topics.rejected):
        reason = (_header(r, "reason") or b"?").decode(errors="replace")
        eid = _event_id(r.value)
        detail = _header(r, "detail")
        if eid is None and detail:
            try:
                eid = _event_id(json.dumps({"id": json.loads(detail).get("event_id")}).encode())
            except (ValueError, AttributeError):
                eid = None
        if eid is not None and eid in wanted:
            report.rejected.setdefault(eid, reason)
        part, off = _header(r, "raw-partition"), _header(r, "raw-offset")
        if part is not None and off is not None and part.isdigit() and off.isdigit():
            rejected_at_raw.add((int(part), int(off)))
    conn = await db.connect(settings, role="reader")
    try:
        rows = await conn.fetch("SELECT event_id::text AS id, count(*) AS n FROM ledger_events"
                                " WHERE event_id = ANY($1::uuid[]) GROUP BY event_id", sorted(wanted))
        report.sealed = {r["id"]: int(r["n"]) for r in rows}
        has_table = await conn.fetchval("SELECT to_regclass('event_rejections') IS NOT NULL")
        if has_table:
            for r in await conn.fetch("SELECT DISTINCT ON (event_id) event_id::text AS id, reason"
                                      " FROM event_rejections WHERE event_id = ANY($1::uuid[])"
                                      " ORDER BY event_id, id", sorted(wanted)):
                report.rejected.setdefault(r["id"], r["reason"])
    finally:
        await conn.close()
    report.missing = sorted(i for i in wanted if i not in report.sealed and i not in report.rejected)
    report.duplicated = sorted(i for i, n in report.sealed.items() if n > 1)
    report.unidentified_unrejected = sorted(p for p in raw_unidentified if p not in rejected_at_raw)
    return report


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=_time, help="raw-topic records from this time (ISO 8601, e.g. 2026-12-01T10:00Z)")
    p.add_argument("--until", type=_time, help="… up to (not including) this time")
    p.add_argument("--ids", nargs="+", metavar="EVENT_ID", help="these event ids instead of a time range")
    p.add_argument("--ids-file", type=Path, help="a file of event ids, one a line (e.g. every 202 answer)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _time(text: str) -> datetime.datetime:
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=datetime.UTC)


def run(args: argparse.Namespace, settings: Settings) -> int:
    ids: list[str] | None = None
    if args.ids or args.ids_file:
        ids = list(args.ids or [])
        if args.ids_file:
            try:
                ids += [line.strip() for line in args.ids_file.read_text(encoding="utf-8").splitlines() if line.strip()]
            except OSError as e:
                raise UserError(f"cannot read {args.ids_file}: {e.strerror or e}") from None
        for i in ids:
            try:
                uuid.UUID(i)
            except ValueError:
                raise UserError(f"not an event id (UUID): {i!r}") from None
    report = asyncio.run(reconcile(settings, ids=ids, since=args.since, until=args.until))
    if args.json:
        print(json.dumps({"ok": report.ok, "acknowledged": report.acknowledged, "sealed": len(report.sealed),
                          "rejected": len(report.rejected), "missing": report.missing,
                          "duplicated": report.duplicated, "unidentified_raw": report.unidentified_raw,
                          "unidentified_unrejected": report.unidentified_unrejected}))
    else:
        for i in report.missing:
            print(f"missing {i}")
        for i in report.duplicated:
            print(f"duplicated {i}")
        for part, off in report.unidentified_unrejected:
            print(f"unaccounted raw record partition {part} offset {off}")
        print(f"{report.acknowledged} acknowledged: {len(report.sealed)} sealed, {len(report.rejected)} rejected,"
              f" {len(report.missing)} missing, {len(report.duplicated)} duplicated"
              + (f"; {report.unidentified_raw} raw records with no event id" if report.unidentified_raw else ""),
              file=sys.stdout)
    return 0 if report.ok else 1
