"""Reading the views (API side). Every answer is one consistent snapshot "as of block h": progress and rows
are read in one REPEATABLE READ transaction, so the height stated is the height the rows reflect."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from schemas import refdata
from services.views.model import VIEWS, Row, line
from services.views.postgres import Progress, ViewStore

MAX_ROWS = 2000


@dataclass(frozen=True)
class Snapshot:
    progress: Progress
    ledger_height: int | None

    @property
    def lag_blocks(self) -> int | None:
        if self.ledger_height is None:
            return None
        return max(0, self.ledger_height - self.progress.height)

    def meta(self) -> dict[str, Any]:
        p = self.progress
        return {"as_of_height": p.height, "header_hash": p.header_hash, "ledger_height": self.ledger_height,
                "lag_blocks": self.lag_blocks, "latest_day": p.latest_day,
                "updated_at": p.updated_at.isoformat() if p.updated_at else None}


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [{**json.loads(r["figures"]), "height": r["height"]} for r in records]


def line_order() -> dict[str, int]:
    """Station code -> position north to south (stations off the route last)."""
    stations = sorted(refdata().stations, key=lambda s: (s.route_km is None, s.route_km or 0))
    return {s.code: i for i, s in enumerate(stations)}


class Reader:
    """Queries over one snapshot; get one with :meth:`ViewsReader.snapshot`."""

    def __init__(self, conn: asyncpg.Connection, snapshot: Snapshot) -> None:
        self.conn = conn
        self.snapshot = snapshot

    def day(self, day: str | None) -> str | None:
        return day or self.snapshot.progress.latest_day

    async def _fetch(self, view: str, where: str = "", *args: Any, order: str = "", limit: int = MAX_ROWS) -> list[Row]:
        table = VIEWS[view].table
        sql = f"SELECT height, figures::text AS figures FROM {table}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        sql += f" LIMIT {int(limit)}"
        return _rows(await self.conn.fetch(sql, *args))

    async def capacity(self, day: str | None, station: str | None = None) -> list[Row]:
        d = self.day(day)
        if d is None:
            return []
        rows = await self._fetch("capacity", "day = $1::text::date AND ($2::text IS NULL OR station = $2)", d, station)
        order = line_order()
        return sorted(rows, key=lambda r: (order.get(r["station"], 999), r["station"]))

    async def stock(self, mine: str | None = None, product: str | None = None) -> list[Row]:
        return await self._fetch("stock", "($1::text IS NULL OR mine_id = $1) AND ($2::text IS NULL OR product = $2)",
                                 mine, product, order="mine_id, product")

    async def lots(self, mine: str | None = None, flagged: bool | None = None, limit: int = 200) -> list[Row]:
        return await self._fetch(
            "lots", "($1::text IS NULL OR figures->>'mine_id' = $1)"
            " AND ($2::boolean IS NULL OR (figures->>'flagged')::boolean = $2)",
            mine, flagged, order="(figures->>'on_hand_kg')::bigint DESC, lot_id", limit=limit)

    async def demand(self, status: str | None = "open", buyer: str | None = None, order_id: str | None = None,
                     limit: int = 200) -> list[Row]:
        return await self._fetch(
            "demand", "($1::text IS NULL OR figures->>'status' = $1)"
            " AND ($2::text IS NULL OR figures->>'buyer_id' = $2) AND ($3::text IS NULL OR order_id = $3)",
            status, buyer, order_id,
            order="(figures->>'open_kg')::bigint DESC, order_id", limit=limit)

    async def open_demand(self) -> tuple[int, int]:
        """Open orders and their open quantity (kg), over every order."""
        r = await self.conn.fetchrow(
            f"SELECT count(*) AS n, coalesce(sum((figures->>'open_kg')::bigint), 0) AS kg"
            f" FROM {VIEWS['demand'].table} WHERE figures->>'status' = 'open'")
        return (r["n"], r["kg"]) if r else (0, 0)

    async def gaps(self, day: str | None, destination: str | None = None, product: str | None = None) -> list[Row]:
        d = self.day(day)
        if d is None:
            return []
        return await self._fetch(
            "gaps", "day = $1::text::date AND ($2::text IS NULL OR destination = $2)"
            " AND ($3::text IS NULL OR product = $3)", d, destination, product,
            order="(figures->>'gap_kg')::bigint DESC, destination, product")

    async def trains(self, status: str | None = "in_transit", limit: int = 100) -> list[Row]:
        return await self._fetch("trains", "($1::text IS NULL OR figures->>'status' = $1)", status,
                                 order="figures->>'departed_at' DESC NULLS LAST, train_id", limit=limit)

    async def count_trains(self, status: str) -> int:
        n: int = await self.conn.fetchval(
            f"SELECT count(*) FROM {VIEWS['trains'].table} WHERE figures->>'status' = $1", status)
        return n

    async def disputes(self, open_only: bool = True, limit: int = 100) -> list[Row]:
        return await self._fetch("disputes", "(NOT $1::boolean OR (figures->>'open')::boolean)", open_only,
                                 order="figures->>'at' DESC NULLS LAST, shipment_id", limit=limit)

    async def count_disputes(self) -> int:
        n: int = await self.conn.fetchval(
            f"SELECT count(*) FROM {VIEWS['disputes'].table} WHERE (figures->>'open')::boolean")
        return n

    async def changed_since(self, height: int, limit: int = MAX_ROWS) -> tuple[dict[str, list[Row]], bool]:
        """Rows changed after ``height`` per view; and whether the answer was cut at ``limit`` rows per view."""
        out: dict[str, list[Row]] = {}
        cut = False
        for view in VIEWS:
            rows = await self._fetch(view, "height > $1", height, order="height", limit=limit + 1)
            cut = cut or len(rows) > limit
            if rows:
                out[view] = rows[:limit]
        return out, cut


class ViewsReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.store = ViewStore(pool)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Reader]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            progress = await self.store.progress(conn)
            ledger = await ledger_height(conn)
            yield Reader(conn, Snapshot(progress, ledger))


async def ledger_height(conn: asyncpg.Connection) -> int | None:
    """The ledger's head height in this database (None if the database holds no ledger tables)."""
    if await conn.fetchval("SELECT to_regclass('ledger_blocks')") is None:
        return None
    h: int | None = await conn.fetchval("SELECT max(height) FROM ledger_blocks")
    return -1 if h is None else h


def sections(capacity_rows: list[Row]) -> list[dict[str, Any]]:
    """Published section capacities of one day and their use: a section is as busy as its busiest line
    segment (trains run over the section's segments; each segment's trains are counted at its start)."""
    by_station = {r["station"]: r for r in capacity_rows}
    km = line().route_km
    out: list[dict[str, Any]] = []
    for row in capacity_rows:
        for d in ("down", "up"):
            to = row.get(f"section_{d}_to")
            if not to or row["station"] not in km or to not in km:
                continue
            lo, hi = sorted((km[row["station"]], km[to]))
            inside = [s for s, k in line().segment_starts if (lo <= k < hi if d == "down" else lo < k <= hi)]
            used = [by_station.get(s, {}) for s in inside]
            out.append({
                "from_station": row["station"], "to_station": to, "direction": d, "day": row["day"],
                "capacity_trains": row[f"capacity_{d}_trains"], "capacity_wagons": row[f"capacity_{d}_wagons"],
                "used_trains": max((u.get(f"used_{d}_trains", 0) for u in used), default=0),
                "used_wagons": max((u.get(f"used_{d}_wagons", 0) for u in used), default=0),
            })
    return out
