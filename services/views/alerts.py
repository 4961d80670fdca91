"""Alerts for dispatchers, derived from one snapshot of the views (pure rules; :func:`read_alerts` reads).

* ``section_busy`` — a published section's trains used above :data:`~services.views.queries.OVER_PCT` % of its
  capacity on the day (severity ``alert`` when over 100 %: overbooked, else ``warn``);
* ``stock_low`` — a mine's stock of a product covers fewer than ``stock_days`` days of the day's open demand
  for that product (the demand spread evenly over the mines that hold that product);
* ``lot_flagged`` — a lot on hand that breaks the quality limits;
* ``dispute_open`` — a buyer's receipt disputes a shipment (an alert on the day it was opened and the next; it
  stays in the open disputes table until resolved).

Each alert has a stable ``key`` (the same condition keeps its key from one snapshot to the next), so a client
can tell a new alert from one already shown.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from services.views.model import day_end
from services.views.queries import MAX_ROWS, OVER_PCT, Reader, sections


def _shift(day: str, n: int) -> str:
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=n)).isoformat()

DEFAULT_STOCK_DAYS = 2.0
ORDER = {"alert": 0, "warn": 1}
KINDS = {"section_busy": 0, "stock_low": 1, "dispute_open": 2, "lot_flagged": 3}  # a dispatcher's first concern first


def section_alerts(secs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in secs:
        cap, used = s["capacity_trains"], s["used_trains"]
        if not used or (cap and 100 * used <= OVER_PCT * cap):
            continue  # (a section cut to 0 trains that still ran trains is overbooked too)
        out.append({
            "kind": "section_busy", "severity": "alert" if used > cap else "warn",
            "key": f"section:{s['from_station']}>{s['to_station']}/{s['direction']}@{s['day']}",
            "day": s["day"], "from_station": s["from_station"], "to_station": s["to_station"],
            "used_trains": used, "capacity_trains": cap, "used_pct": s["used_pct"], "over_trains": s["over_trains"],
        })
    return out


def stock_alerts(stock: list[dict[str, Any]], gaps: list[dict[str, Any]], day: str | None,
                 stock_days: float) -> list[dict[str, Any]]:
    demand: dict[str, int] = defaultdict(int)
    for g in gaps:
        demand[g["product"]] += g.get("demand_kg", 0)
    holders: dict[str, int] = defaultdict(int)
    for s in stock:
        if s.get("stock_kg", 0) > 0 or s.get("lots", 0) > 0:
            holders[s["product"]] += 1
    out = []
    for s in stock:
        need = demand.get(s["product"], 0) / max(1, holders.get(s["product"], 0) or 1)
        if need <= 0:
            continue
        cover = s.get("stock_kg", 0) / need
        if cover < stock_days:
            out.append({
                "kind": "stock_low", "severity": "alert" if cover < stock_days / 2 else "warn",
                "key": f"stock:{s['mine_id']}/{s['product']}", "day": day, "mine_id": s["mine_id"],
                "product": s["product"], "stock_kg": s.get("stock_kg", 0), "daily_demand_kg": round(need),
                "days_of_cover": round(cover, 2), "stock_days": stock_days,
            })
    return out


def lot_alerts(lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": "lot_flagged", "severity": "warn", "key": f"lot:{x['lot_id']}", "lot_id": x["lot_id"],
             "mine_id": x.get("mine_id"), "product": x.get("product"), "on_hand_kg": x.get("on_hand_kg", 0),
             "flags": x.get("flags", [])} for x in lots]


def dispute_alerts(disputes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": "dispute_open", "severity": "alert", "key": f"dispute:{x['shipment_id']}",
             "shipment_id": x["shipment_id"], "buyer_id": x.get("buyer_id"), "order_id": x.get("order_id"),
             "product": x.get("product"), "reason_code": x.get("reason_code"), "measured_kg": x.get("measured_kg", 0),
             "at": x.get("at")} for x in disputes]


def ranked(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(alerts, key=lambda a: (ORDER.get(a["severity"], 9), KINDS.get(a["kind"], 9), a["key"]))


async def read_alerts(r: Reader, day: str | None = None, *, stock_days: float = DEFAULT_STOCK_DAYS,
                      station: str | None = None, product: str | None = None, buyer: str | None = None,
                      mine: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Every alert of the day (default: the latest day) that matches the filters, most severe first."""
    d = r.day(day)
    secs = sections(await r.capacity(d)) if d else []
    if station:
        secs = [s for s in secs if station in (s["from_station"], s["to_station"])]
    gaps = await r.gaps(d, None, product) if d else []
    low = stock_alerts(await r.stock(None, product), gaps, d, stock_days)  # every holder of a product shares it
    out = section_alerts(secs) + [a for a in low if not mine or a["mine_id"] == mine]
    out += lot_alerts(await r.lots(mine, flagged=True, limit=limit, product=product))
    if not mine and d:
        # a dispute is news on the day it is opened and the day after; the disputes table keeps every open one
        since, until = day_end(_shift(d, -2)), day_end(d)
        recent = [x for x in await r.disputes(True, limit=MAX_ROWS, buyer=buyer, product=product)
                  if x.get("at") and since <= x["at"] < until]
        out += dispute_alerts(recent)
    return ranked(out)[:limit]
