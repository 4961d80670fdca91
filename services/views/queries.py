"""Reading the views (API side). Every answer is one consistent snapshot "as of block h": progress and rows
are read in one REPEATABLE READ transaction, so the height stated is the height the rows reflect."""

from __future__ import annotations

import contextlib
import datetime
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

    _LOTS_WHERE = ("($1::text IS NULL OR figures->>'mine_id' = $1)"
                   " AND ($2::boolean IS NULL OR (figures->>'flagged')::boolean = $2)"
                   " AND ($3::text IS NULL OR figures->>'product' = $3)"
                   " AND (NOT $4::boolean OR (figures->>'on_hand_kg')::bigint > 0)")

    async def lots(self, mine: str | None = None, flagged: bool | None = None, limit: int = 200,
                   product: str | None = None, on_hand: bool = True) -> list[Row]:
        """Lots (by default only those with coal on hand: a flagged lot that was loaded out is no concern)."""
        return await self._fetch("lots", self._LOTS_WHERE, mine, flagged, product, on_hand,
                                 order="(figures->>'on_hand_kg')::bigint DESC, lot_id", limit=limit)

    async def count_lots(self, mine: str | None = None, flagged: bool | None = None, product: str | None = None,
                         on_hand: bool = True) -> int:
        n: int = await self.conn.fetchval(f"SELECT count(*) FROM {VIEWS['lots'].table} WHERE {self._LOTS_WHERE}",
                                          mine, flagged, product, on_hand)
        return n

    _DEMAND_WHERE = ("($1::text IS NULL OR figures->>'status' = $1)"
                     " AND ($2::text IS NULL OR figures->>'buyer_id' = $2) AND ($3::text IS NULL OR order_id = $3)"
                     " AND ($4::text IS NULL OR figures->>'product' = $4)"
                     " AND ($5::text IS NULL OR figures->>'destination' = $5)")

    async def demand(self, status: str | None = "open", buyer: str | None = None, order_id: str | None = None,
                     limit: int = 200, product: str | None = None, destination: str | None = None) -> list[Row]:
        return await self._fetch("demand", self._DEMAND_WHERE, status, buyer, order_id, product, destination,
                                 order="(figures->>'open_kg')::bigint DESC, order_id", limit=limit)

    async def open_demand(self, buyer: str | None = None, product: str | None = None,
                          destination: str | None = None) -> tuple[int, int]:
        """Open orders and their open quantity (kg), over every order (that matches the filters)."""
        r = await self.conn.fetchrow(
            f"SELECT count(*) AS n, coalesce(sum((figures->>'open_kg')::bigint), 0) AS kg"
            f" FROM {VIEWS['demand'].table} WHERE {self._DEMAND_WHERE}", "open", buyer, None, product, destination)
        return (r["n"], r["kg"]) if r else (0, 0)

    async def gaps(self, day: str | None, destination: str | None = None, product: str | None = None) -> list[Row]:
        d = self.day(day)
        if d is None:
            return []
        return await self._fetch(
            "gaps", "day = $1::text::date AND ($2::text IS NULL OR destination = $2)"
            " AND ($3::text IS NULL OR product = $3)", d, destination, product,
            order="(figures->>'gap_kg')::bigint DESC, destination, product")

    # a train is in transit at instant T (RFC 3339 UTC text) if it departed by T and had not arrived by T;
    # ``status`` (no T) is the train's status now
    _TRAINS_WHERE = ("($1::text IS NULL OR figures->>'status' = $1)"
                     " AND ($2::text IS NULL OR figures->>'origin' = $2 OR figures->>'destination' = $2)"
                     " AND ($3::text IS NULL OR (figures->>'departed_at' <= $3"
                     " AND (figures->>'arrived_at' IS NULL OR figures->>'arrived_at' > $3"
                     " OR figures->>'last_station' IS DISTINCT FROM figures->>'destination')))")

    async def trains(self, status: str | None = "in_transit", limit: int = 100, station: str | None = None,
                     at: str | None = None) -> list[Row]:
        return await self._fetch("trains", self._TRAINS_WHERE, None if at else status, station, at,
                                 order="figures->>'departed_at' DESC NULLS LAST, train_id", limit=limit)

    async def count_trains(self, status: str, station: str | None = None, at: str | None = None) -> int:
        n: int = await self.conn.fetchval(f"SELECT count(*) FROM {VIEWS['trains'].table} WHERE {self._TRAINS_WHERE}",
                                          None if at else status, station, at)
        return n

    _DISPUTES_WHERE = ("(NOT $1::boolean OR (figures->>'open')::boolean)"
                       " AND ($2::text IS NULL OR figures->>'buyer_id' = $2)"
                       " AND ($3::text IS NULL OR figures->>'product' = $3)")

    async def disputes(self, open_only: bool = True, limit: int = 100, buyer: str | None = None,
                       product: str | None = None) -> list[Row]:
        return await self._fetch("disputes", self._DISPUTES_WHERE, open_only, buyer, product,
                                 order="figures->>'at' DESC NULLS LAST, shipment_id", limit=limit)

    async def count_disputes(self, buyer: str | None = None, product: str | None = None) -> int:
        n: int = await self.conn.fetchval(
            f"SELECT count(*) FROM {VIEWS['disputes'].table} WHERE {self._DISPUTES_WHERE}", True, buyer, product)
        return n

    async def sim_clock(self) -> str | None:
        """The latest event time in the block the views are at (the simulated clock of a simulated feed)."""
        h = self.snapshot.progress.height
        if h < 0 or self.snapshot.ledger_height is None:
            return None
        t = await self.conn.fetchval(
            "SELECT max(e.event_time) FROM ledger_blocks b JOIN ledger_events e"
            " ON e.leaf_index >= b.first_leaf_index AND e.leaf_index < b.first_leaf_index + b.leaf_count"
            " WHERE b.height = $1", h)
        return None if t is None else str(t.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"))

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
            trains = max((u.get(f"used_{d}_trains", 0) for u in used), default=0)
            wagons = max((u.get(f"used_{d}_wagons", 0) for u in used), default=0)
            if not line().on_line(to) and d == "down":  # off the line (月山 → 新乡): trains to it or beyond it
                trains, wagons = _onward(row, km, km[to])
            out.append(_section_row(row, to, d, trains, wagons))
    return out


def _onward(row: Row, km: dict[str, int], to_km: int) -> tuple[int, int]:
    trains = wagons = 0
    for name, value in row.items():
        if name.startswith("onward_") and name.endswith("_trains") and km.get(name[7:-7], -1) >= to_km:
            trains += value
            wagons += row.get(f"onward_{name[7:-7]}_wagons", 0)
    return trains, wagons


OVER_PCT = 90  # a section above this share of its capacity is an alert (services/views/alerts.py)


def _section_row(row: Row, to: str, d: str, trains: int, wagons: int) -> dict[str, Any]:
    cap = row[f"capacity_{d}_trains"]
    pct = round(100 * trains / cap, 1) if cap else None
    return {
        "from_station": row["station"], "to_station": to, "direction": d, "day": row["day"],
        "capacity_trains": cap, "capacity_wagons": row[f"capacity_{d}_wagons"],
        "used_trains": trains, "used_wagons": wagons, "used_pct": pct,
        "over_trains": max(0, trains - cap), "overbooked": trains > cap,
    }
