"""The views, their keys and figures, and the two calendar facts every fold needs.

A view row is a flat JSON object of figures (integers, kg and counts) and attributes (strings, small
objects), addressed by a :data:`Ref` = (view name, key tuple). Keys are strings; days are ISO dates
(``YYYY-MM-DD``) of the business calendar, China Standard Time (UTC+8), taken from the event's own
``time`` — never from when the block arrived.
"""

from __future__ import annotations

import datetime
import functools
import itertools
from dataclasses import dataclass
from typing import Any

from schemas import refdata

RowKey = tuple[str, ...]
Ref = tuple[str, RowKey]  # (view name, key)
Row = dict[str, Any]

CST = datetime.timezone(datetime.timedelta(hours=8), "CST")
MAX_WINDOW_DAYS = 366  # a delivery window longer than this is spread over its first 366 days only


def business_day(t: datetime.datetime) -> str:
    """The business-calendar day (China Standard Time) of an event time."""
    return t.astimezone(CST).date().isoformat()


def business_day_of(at: str) -> str:
    """The business day of an RFC 3339 time text (an entity's ``at``)."""
    return business_day(datetime.datetime.fromisoformat(at))


def day_end(day: str) -> str:
    """The instant a business day ends (00:00 CST of the next day) as RFC 3339 UTC text, comparable with the
    ``at`` texts of the fold, with or without fractions of a second (``2025-03-01T16:00:00.000000Z`` ends
    2025-03-01: ``…T16:00:00Z`` and ``…T16:00:00.5Z`` both sort after it, ``…T15:59:59.9Z`` before)."""
    return f"{day}T16:00:00.000000Z"


def days(first: str, last: str) -> list[str]:
    """Every day from ``first`` to ``last`` inclusive (at most :data:`MAX_WINDOW_DAYS`)."""
    start, end = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    n = min((end - start).days + 1, MAX_WINDOW_DAYS)
    return [(start + datetime.timedelta(days=i)).isoformat() for i in range(max(n, 0))]


@dataclass(frozen=True)
class ViewSpec:
    """One view: its table, key columns (``day`` columns are SQL dates) and the figures that start at 0."""

    table: str
    key: tuple[str, ...]
    sums: tuple[str, ...]

    def key_of(self, row: Row) -> RowKey:
        return tuple(str(row[k]) for k in self.key)


_DIRECTIONS = ("down", "up")
_CAPACITY_SUMS = (
    "wagons_requested", "wagons_allocated", "wagons_loaded", "loaded_kg", "wagons_unloaded", "unloaded_kg",
    "trains_departed", "wagons_departed", "trains_arrived", "wagons_arrived",
    "trucks_in", "truck_in_kg", "trucks_out", "truck_out_kg",
    *(f"{what}_{d}_{unit}" for d in _DIRECTIONS for what in ("capacity", "used") for unit in ("trains", "wagons")),
    *(f"capacity_{d}_kg" for d in _DIRECTIONS),
)

VIEWS: dict[str, ViewSpec] = {
    "capacity": ViewSpec("views_station_day", ("station", "day"), _CAPACITY_SUMS),
    "stock": ViewSpec("views_mine_product", ("mine_id", "product"),
                      ("stock_kg", "lots", "flagged_lots", "flagged_kg", "offered_kg")),
    "lots": ViewSpec("views_lots", ("lot_id",), ()),
    "demand": ViewSpec("views_orders", ("order_id",), (
        "wagons_requested", "wagons_allocated", "shipments", "loaded_kg", "in_transit_kg", "delivered_kg",
        "confirmed_kg", "disputed_kg", "disputes", "truck_kg", "weight_discrepancies")),
    "gaps": ViewSpec("views_gaps", ("destination", "product", "day"),
                     ("demand_kg", "supply_kg", "capacity_kg", "requested_kg")),
    "trains": ViewSpec("views_trains", ("train_id",), ("loaded_kg", "shipments_loaded")),
    "disputes": ViewSpec("views_disputes", ("shipment_id",), ()),
    # history: the day's change of a mine's stock of a product; the stock at the end of day D is the sum up to D
    "stock_day": ViewSpec("views_mine_day", ("mine_id", "product", "day"), ("change_kg", "loaded_kg")),
}


def new_row(ref: Ref) -> Row:
    """A fresh row: its key columns, every summed figure at 0."""
    view, key = ref
    spec = VIEWS[view]
    row: Row = dict(zip(spec.key, key, strict=True))
    row.update(dict.fromkeys(spec.sums, 0))
    return row


@dataclass(frozen=True)
class Line:
    """What the fold needs to know about the railway: station order along the route and wagon loads."""

    segment_starts: tuple[tuple[str, int], ...]  # line stations (code, route km), north -> south
    load_limit_kg: dict[str, int]
    route_km: dict[str, int]

    def load_kg(self, wagon_type: str | None, wagons: int) -> int:
        """Rated load of ``wagons`` wagons of a type (0 for an unknown type)."""
        return self.load_limit_kg.get(wagon_type or "", 0) * wagons

    def on_line(self, station: str) -> bool:
        return any(code == station for code, _ in self.segment_starts)

    def link(self, origin: str, destination: str) -> tuple[str, str] | None:
        """The link off the line a train runs over (e.g. 月山 → 新乡), as (start station, end station): a train
        between a line station and a station beyond the line's end runs from the line's end to that station."""
        if self.on_line(origin) == self.on_line(destination) or not self.segment_starts:
            return None
        end = self.segment_starts[-1][0]
        return (end, destination) if self.on_line(origin) else (origin, end)

    def segments(self, origin: str, destination: str) -> list[tuple[str, str]]:
        """The line sections a train from ``origin`` to ``destination`` runs over, each as (the station it
        starts at in the direction of travel, ``down``|``up``); down = away from 修文, toward 月山."""
        a, b = self.route_km.get(origin), self.route_km.get(destination)
        if a is None or b is None or a == b:
            return []
        line = self.segment_starts
        pairs = list(itertools.pairwise(line))
        if b > a:
            return [(s[0], "down") for s, t in pairs if a <= s[1] and t[1] <= b]
        return [(t[0], "up") for s, t in reversed(pairs) if b <= s[1] and t[1] <= a]


@functools.cache
def line() -> Line:
    """The 太焦线 from ``schemas/data`` (stations on the line with a route km, wagon rated loads)."""
    ref = refdata()
    on_line = sorted(((s.code, s.route_km) for s in ref.stations if s.line == "太焦线" and s.route_km is not None),
                     key=lambda s: s[1])
    return Line(
        segment_starts=tuple(on_line),
        load_limit_kg={w.type: w.load_limit_kg for w in ref.wagons},
        route_km={s.code: s.route_km for s in ref.stations if s.route_km is not None},
    )
