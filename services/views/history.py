"""Daily series (history and trends) and "a past day as it was", read from the views tables in one snapshot.

Every series covers the same days, oldest first, a day without any figure counting 0:

* per station (or the whole line): tonnes loaded, trains departed (``views_station_day``);
* per published section: trains that ran against the trains it could take (``views_station_day`` via
  :func:`services.views.queries.sections`);
* per mine (and product, or all): the stock on hand at the end of each day (the sum of the day's changes up to
  it, ``views_mine_day``) and the tonnes loaded from it;
* per destination (and product, or all): the day's demand, the coal loaded toward it and the shortfall
  (Σ positive gaps, ``views_gaps``).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from typing import Any

from services.views.model import VIEWS, Row, day_end, line
from services.views.queries import Reader, sections

MAX_DAYS = 366


def day_list(end: str, days: int) -> list[str]:
    last = datetime.date.fromisoformat(end)
    return [(last - datetime.timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def day_end_utc(day: str) -> str:
    """The instant a CST business day ends, as text comparable with the views' event times (``model.day_end``)."""
    return day_end(day)


async def _capacity_rows(r: Reader, first: str, last: str) -> dict[str, list[Row]]:
    recs = await r.conn.fetch(
        f"SELECT day, figures::text AS f FROM {VIEWS['capacity'].table}"
        " WHERE day BETWEEN $1::text::date AND $2::text::date", first, last)
    by_day: dict[str, list[Row]] = defaultdict(list)
    for rec in recs:
        by_day[rec["day"].isoformat()].append(json.loads(rec["f"]))
    return by_day


async def stock_at(r: Reader, day: str, mine: str | None = None,
                   product: str | None = None) -> dict[tuple[str, str], int]:
    """Stock on hand per (mine, product) at the end of ``day``."""
    recs = await r.conn.fetch(
        f"SELECT mine_id, product, sum((figures->>'change_kg')::bigint) AS kg FROM {VIEWS['stock_day'].table}"
        " WHERE day <= $1::text::date AND ($2::text IS NULL OR mine_id = $2) AND ($3::text IS NULL OR product = $3)"
        " GROUP BY mine_id, product", day, mine, product)
    return {(rec["mine_id"], rec["product"]): int(rec["kg"] or 0) for rec in recs}


async def history(r: Reader, end: str, days: int, *, station: str | None = None, mine: str | None = None,
                  product: str | None = None, destination: str | None = None) -> dict[str, Any]:
    days = max(1, min(days, MAX_DAYS))
    span = day_list(end, days)
    first = span[0]
    cap = await _capacity_rows(r, first, end)
    on_line = {code for code, _ in line().segment_starts}
    loaded: dict[str, list[int]] = {"loaded_kg": [], "trains_departed": [], "wagons_loaded": []}
    by_section: dict[tuple[str, str, str], dict[str, list[int]]] = {}
    for i, day in enumerate(span):
        rows = cap.get(day, [])
        mine_rows = [x for x in rows if (x["station"] == station if station else x["station"] in on_line)]
        for name in ("loaded_kg", "trains_departed", "wagons_loaded"):
            loaded[name].append(sum(x.get(name, 0) for x in mine_rows))
        for sec in sections(rows):
            key = (sec["from_station"], sec["to_station"], sec["direction"])
            series = by_section.setdefault(key, {"capacity_trains": [0] * days, "used_trains": [0] * days})
            series["capacity_trains"][i] = sec["capacity_trains"]
            series["used_trains"][i] = sec["used_trains"]
    return {
        "days": span, "end": end,
        "station": {"station": station, **loaded},
        "sections": [{"from_station": k[0], "to_station": k[1], "direction": k[2], **v}
                     for k, v in sorted(by_section.items())],
        "mine": await _mine_series(r, span, mine, product),
        "demand": await _gap_series(r, span, destination, product),
    }


async def _mine_series(r: Reader, span: list[str], mine: str | None, product: str | None) -> dict[str, Any]:
    first, end = span[0], span[-1]
    base = sum((await stock_at(r, (datetime.date.fromisoformat(first) - datetime.timedelta(days=1)).isoformat(),
                               mine, product)).values())
    recs = await r.conn.fetch(
        f"SELECT day, sum((figures->>'change_kg')::bigint) AS change, sum((figures->>'loaded_kg')::bigint) AS loaded"
        f" FROM {VIEWS['stock_day'].table} WHERE day BETWEEN $1::text::date AND $2::text::date"
        " AND ($3::text IS NULL OR mine_id = $3) AND ($4::text IS NULL OR product = $4) GROUP BY day",
        first, end, mine, product)
    by_day = {rec["day"].isoformat(): (int(rec["change"] or 0), int(rec["loaded"] or 0)) for rec in recs}
    stock, loaded, level = [], [], base
    for day in span:
        change, out = by_day.get(day, (0, 0))
        level += change
        stock.append(level)
        loaded.append(out)
    return {"mine_id": mine, "product": product, "stock_kg": stock, "loaded_kg": loaded}


async def _gap_series(r: Reader, span: list[str], destination: str | None, product: str | None) -> dict[str, Any]:
    recs = await r.conn.fetch(
        f"SELECT day, sum((figures->>'demand_kg')::bigint) AS demand, sum((figures->>'supply_kg')::bigint) AS supply,"
        f" sum(greatest((figures->>'gap_kg')::bigint, 0)) AS short FROM {VIEWS['gaps'].table}"
        " WHERE day BETWEEN $1::text::date AND $2::text::date"
        " AND ($3::text IS NULL OR destination = $3) AND ($4::text IS NULL OR product = $4) GROUP BY day",
        span[0], span[-1], destination, product)
    by_day = {rec["day"].isoformat(): rec for rec in recs}
    out: dict[str, Any] = {"destination": destination, "product": product, "demand_kg": [], "supply_kg": [],
                           "shortfall_kg": []}
    for day in span:
        rec = by_day.get(day)
        out["demand_kg"].append(int(rec["demand"] or 0) if rec else 0)
        out["supply_kg"].append(int(rec["supply"] or 0) if rec else 0)
        out["shortfall_kg"].append(int(rec["short"] or 0) if rec else 0)
    return out
