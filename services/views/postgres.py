"""The views tables in PostgreSQL (``0002_views.sql``): entities, rows and progress.

One transaction per block: lock the progress row, check it still says the height this worker expects
(anything else means another worker or a rebuild moved it: :class:`StaleProgress`), upsert the changed
entities and rows, advance the progress, and ``NOTIFY coalchain_views`` — delivered to listeners only
when the transaction commits, so a listener never sees a height whose rows are not there.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from services.views.entities import Entity, EntityRef, decode, encode
from services.views.fold import BlockDelta
from services.views.model import VIEWS, Ref, Row, ViewSpec

NOTIFY_CHANNEL = "coalchain_views"


class ViewsStoreError(RuntimeError):
    """Root of the views store errors."""

    retriable = False


class StaleProgress(ViewsStoreError):
    """The stored progress is not what this worker expected: reload and try again."""

    retriable = True

    def __init__(self, expected: int, stored: int) -> None:
        super().__init__(f"views progress is at height {stored}, this worker expected {expected}")
        self.expected = expected
        self.stored = stored


@dataclass(frozen=True)
class Progress:
    height: int
    header_hash: str | None
    latest_day: str | None
    blocks_applied: int
    events_applied: int
    events_skipped: int
    updated_at: datetime.datetime | None


def _sql_type(column: str) -> str:
    return "date" if column == "day" else "text"


def _param(column: str, value: str) -> Any:
    return datetime.date.fromisoformat(value) if column == "day" else value


def _unnest(spec: ViewSpec, first: int = 1) -> str:
    return ", ".join(f"${first + i}::{_sql_type(c)}[]" for i, c in enumerate(spec.key))


def _columns(spec: ViewSpec, keys: Iterable[tuple[str, ...]]) -> list[list[Any]]:
    keys = list(keys)
    return [[_param(c, k[i]) for k in keys] for i, c in enumerate(spec.key)]


class ViewStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def progress(self, conn: asyncpg.Connection | None = None) -> Progress:
        sql = ("SELECT height, header_hash, latest_day, blocks_applied, events_applied, events_skipped, updated_at"
               " FROM views_progress WHERE id = 1")
        r = await (conn.fetchrow(sql) if conn is not None else self.pool.fetchrow(sql))
        if r is None:
            return Progress(-1, None, None, 0, 0, 0, None)
        day = r["latest_day"].isoformat() if r["latest_day"] else None
        return Progress(r["height"], r["header_hash"], day, r["blocks_applied"], r["events_applied"],
                        r["events_skipped"], r["updated_at"])

    async def load_entities(self, refs: Iterable[EntityRef]) -> dict[EntityRef, Entity | None]:
        wanted = list(refs)
        found: dict[EntityRef, Entity | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        rows = await self.pool.fetch(
            "SELECT e.kind, e.key, e.data::text AS data FROM views_entities e"
            " JOIN unnest($1::text[], $2::text[]) AS w(kind, key) ON e.kind = w.kind AND e.key = w.key",
            [k for k, _ in wanted], [key for _, key in wanted])
        for r in rows:
            found[(r["kind"], r["key"])] = decode(r["kind"], r["data"])
        return found

    async def load_rows(self, refs: Iterable[Ref]) -> dict[Ref, Row | None]:
        by_view: dict[str, list[tuple[str, ...]]] = {}
        for view, key in refs:
            by_view.setdefault(view, []).append(key)
        found: dict[Ref, Row | None] = {}
        for view, keys in by_view.items():
            spec = VIEWS[view]
            found.update(dict.fromkeys(((view, k) for k in keys), None))
            join = " AND ".join(f"t.{c} = w.{c}" for c in spec.key)
            rows = await self.pool.fetch(
                f"SELECT t.figures::text AS figures FROM {spec.table} t"
                f" JOIN unnest({_unnest(spec)}) AS w({', '.join(spec.key)}) ON {join}", *_columns(spec, keys))
            for r in rows:
                row = json.loads(r["figures"])
                found[(view, spec.key_of(row))] = row
        return found

    async def commit(self, expected_height: int, delta: BlockDelta, rows: dict[Ref, Row],
                     header_hash: str) -> None:
        """Write one block's changes. Raises :class:`StaleProgress` (nothing written) if the stored height
        is not ``expected_height``."""
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await conn.fetchval("SELECT height FROM views_progress WHERE id = 1 FOR UPDATE")
            if stored != expected_height:
                raise StaleProgress(expected_height, -1 if stored is None else stored)
            await self._write_entities(conn, delta)
            await self._write_rows(conn, rows)
            await conn.execute(
                "UPDATE views_progress SET height = $1, header_hash = $2,"
                " latest_day = GREATEST(latest_day, $3::date), blocks_applied = blocks_applied + 1,"
                " events_applied = events_applied + $4, events_skipped = events_skipped + $5, updated_at = now()"
                " WHERE id = 1",
                delta.height, header_hash,
                datetime.date.fromisoformat(delta.latest_day) if delta.latest_day else None,
                delta.events_applied, delta.events_skipped)
            changed: dict[str, int] = {}
            for view, _ in rows:
                changed[view] = changed.get(view, 0) + 1
            await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL,
                               json.dumps({"height": delta.height, "changed": changed}))

    async def _write_entities(self, conn: asyncpg.Connection, delta: BlockDelta) -> None:
        if not delta.entities:
            return
        refs = sorted(delta.entities)
        await conn.execute(
            "INSERT INTO views_entities (kind, key, height, data)"
            " SELECT w.kind, w.key, $4::bigint, w.data"
            " FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS w(kind, key, data)"
            " ON CONFLICT (kind, key) DO UPDATE SET height = EXCLUDED.height, data = EXCLUDED.data",
            [k for k, _ in refs], [key for _, key in refs], [encode(delta.entities[r]).decode() for r in refs],
            delta.height)

    async def _write_rows(self, conn: asyncpg.Connection, rows: dict[Ref, Row]) -> None:
        by_view: dict[str, list[tuple[tuple[str, ...], Row]]] = {}
        for (view, key), row in sorted(rows.items()):
            by_view.setdefault(view, []).append((key, row))
        for view, items in by_view.items():
            spec = VIEWS[view]
            n = len(spec.key)
            cols = ", ".join(spec.key)
            await conn.execute(
                f"INSERT INTO {spec.table} ({cols}, height, figures)"
                f" SELECT {', '.join('w.' + c for c in spec.key)}, ${n + 2}::bigint, w.figures"
                f" FROM unnest({_unnest(spec)}, ${n + 1}::jsonb[]) AS w({cols}, figures)"
                f" ON CONFLICT ({cols}) DO UPDATE SET height = EXCLUDED.height, figures = EXCLUDED.figures",
                *_columns(spec, (k for k, _ in items)), [_dumps(row) for _, row in items], items[0][1]["height"])

    async def reset(self) -> None:
        """Forget every view (rebuild from block 0): empty the tables, progress back to -1, in one transaction."""
        tables = ", ".join(["views_entities", *(s.table for s in VIEWS.values())])
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM views_progress WHERE id = 1 FOR UPDATE")
            await conn.execute(f"TRUNCATE {tables}")
            await conn.execute(
                "UPDATE views_progress SET height = -1, header_hash = NULL, latest_day = NULL, blocks_applied = 0,"
                " events_applied = 0, events_skipped = 0, updated_at = now() WHERE id = 1")
            await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, json.dumps({"height": -1, "reset": True}))


_json = msgspec.json.Encoder()


def _dumps(row: Row) -> str:
    return _json.encode({k: v for k, v in row.items() if k != "height"}).decode()
