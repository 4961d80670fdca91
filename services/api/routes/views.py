"""``/v1/views/*``: the dispatcher views, read from PostgreSQL, and their live stream (Server-Sent Events).

Read access needs a dispatcher bearer token (``COALCHAIN_DISPATCHER_TOKENS``, comma separated):
``Authorization: Bearer <token>``. ``/v1/views/stream`` also accepts ``?token=`` because a browser's
EventSource cannot set headers. Every answer states the block height it reflects (``as_of_height``) and
the views' lag behind the ledger.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from schemas import refdata
from services import db
from services.config import Settings
from services.views.alerts import DEFAULT_STOCK_DAYS, read_alerts
from services.views.export import to_csv
from services.views.feed import Subscription, ViewsFeed
from services.views.history import MAX_DAYS, day_end_utc, history, stock_at
from services.views.queries import ViewsReader, sections
from services.views.status import HeadVerifier

DEV_TOKEN = "dev-dispatcher-token"
STREAM_MAX_AGE_S = 30.0  # then the browser reconnects (Last-Event-ID): bounds how long a shutdown waits
KEEPALIVE_S = 15.0
DATE = r"^\d{4}-\d{2}-\d{2}$"


@dataclass
class ViewsState:
    reader: ViewsReader
    feed: ViewsFeed
    verifier: HeadVerifier


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    pool = await db.create_pool(settings, role="api", min_size=1, max_size=4)
    try:
        reader = ViewsReader(pool)
        feed = ViewsFeed(settings, reader)
        await feed.start()
        try:
            app.state.views = ViewsState(reader, feed, HeadVerifier(settings))
            yield
        finally:
            await feed.stop()
    finally:
        await pool.close()


router = APIRouter(prefix="/v1/views", tags=["views"], lifespan=lifespan)


def accepted_tokens(settings: Settings) -> list[str]:
    tokens = [t.strip() for t in settings.dispatcher_tokens.split(",") if t.strip()]
    return tokens if settings.is_development() else [t for t in tokens if t != DEV_TOKEN]


def check_token(settings: Settings, token: str | None) -> None:
    if not token or not any(hmac.compare_digest(token.encode(), t.encode()) for t in accepted_tokens(settings)):
        raise HTTPException(401, "a dispatcher token is required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": 'Bearer realm="coalchain-views"'})


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def dispatcher(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    check_token(request.app.state.settings, _bearer(authorization))


def dispatcher_stream(request: Request, authorization: Annotated[str | None, Header()] = None,
                      token: Annotated[str | None, Query(description="for EventSource, which cannot send headers")]
                      = None) -> None:
    check_token(request.app.state.settings, _bearer(authorization) or token)


def views_state(request: Request) -> ViewsState:
    state: ViewsState | None = getattr(request.app.state, "views", None)
    if state is None:
        raise HTTPException(503, "the views are not available", headers={"Retry-After": "5"})
    return state


Auth = Depends(dispatcher)
StateDep = Annotated[ViewsState, Depends(views_state)]
Day = Annotated[str | None, Query(pattern=DATE, description="business day YYYY-MM-DD (CST); default: latest")]


Code = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@dataclass(frozen=True)
class Filters:
    """The filters every table understands (each table applies those that concern it)."""

    date: str | None = None
    station: str | None = None
    product: str | None = None
    buyer: str | None = None
    mine: str | None = None
    destination: str | None = None
    status: str = "open"
    limit: int = 200


def filters(date: Day = None, station: Code = None, product: Code = None, buyer: Code = None, mine: Code = None,
            destination: Code = None) -> Filters:
    return Filters(date, station, product, buyer, mine, destination)


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("/capacity", dependencies=[Auth])
async def capacity(state: StateDep, date: Day = None, station: Code = None) -> dict[str, Any]:
    """Per station and day: wagons requested / allocated / loaded / unloaded, trains, section capacity and use."""
    async with state.reader.snapshot() as r:
        rows = await r.capacity(date, station)
        day = r.day(date)
        return {**r.snapshot.meta(), "date": day, "rows": rows, "sections": sections(await r.capacity(day))}


@router.get("/stock", dependencies=[Auth])
async def stock(state: StateDep, mine: Code = None, product: Code = None,
                flagged_lots: bool = Query(False, description="also list the lots on hand flagged against the limits")
                ) -> dict[str, Any]:
    """Per mine and product: stock on hand, last assay, lots flagged against the quality limits, offers."""
    async with state.reader.snapshot() as r:
        out: dict[str, Any] = {**r.snapshot.meta(), "rows": await r.stock(mine, product)}
        if flagged_lots:
            out["flagged_lots"] = await r.lots(mine, flagged=True, product=product)
        return out


@router.get("/demand", dependencies=[Auth])
async def demand(state: StateDep,
                 status: Annotated[str, Query(pattern="^(open|withdrawn|all)$")] = "open",
                 buyer: Code = None, order: Code = None, product: Code = None, destination: Code = None,
                 limit: Annotated[int, Query(ge=1, le=2000)] = 200) -> dict[str, Any]:
    """Per buyer order: ordered, open, in transit, delivered, confirmed and disputed tonnes (kg)."""
    async with state.reader.snapshot() as r:
        rows = await r.demand(None if status == "all" else status, buyer, order, limit, product, destination)
        return {**r.snapshot.meta(), "rows": rows}


@router.get("/gaps", dependencies=[Auth])
async def gaps(state: StateDep, date: Day = None, destination: Code = None,
               product: Code = None) -> dict[str, Any]:
    """Per destination, product and day: demand vs coal loaded vs rail capacity allocated, and the gap."""
    async with state.reader.snapshot() as r:
        return {**r.snapshot.meta(), "date": r.day(date), "rows": await r.gaps(date, destination, product)}


@router.get("/trains", dependencies=[Auth])
async def trains(state: StateDep, status: Annotated[str, Query(pattern="^(in_transit|arrived|all)$")] = "in_transit",
                 station: Code = None, date: Annotated[str | None, Query(
                     pattern=DATE, description="in transit at the end of this day (CST) instead of now")] = None,
                 limit: Annotated[int, Query(ge=1, le=2000)] = 100) -> dict[str, Any]:
    at = day_end_utc(date) if date else None
    async with state.reader.snapshot() as r:
        rows = await r.trains(None if status == "all" else status, limit, station, at)
        return {**r.snapshot.meta(), "rows": rows}


@router.get("/disputes", dependencies=[Auth])
async def disputes(state: StateDep, open_only: bool = True, buyer: Code = None, product: Code = None,
                   limit: Annotated[int, Query(ge=1, le=2000)] = 100) -> dict[str, Any]:
    async with state.reader.snapshot() as r:
        return {**r.snapshot.meta(), "rows": await r.disputes(open_only, limit, buyer, product)}


@router.get("/lots", dependencies=[Auth])
async def lots(state: StateDep, mine: Code = None, product: Code = None, flagged: bool | None = None,
               on_hand: bool = Query(True, description="only lots with coal on hand"),
               limit: Annotated[int, Query(ge=1, le=2000)] = 200) -> dict[str, Any]:
    """Per lot: on hand, the latest assay and the quality limits it breaks."""
    async with state.reader.snapshot() as r:
        rows = await r.lots(mine, flagged, limit, product, on_hand)
        return {**r.snapshot.meta(), "rows": rows, "total": await r.count_lots(mine, flagged, product, on_hand)}


@router.get("/alerts", dependencies=[Auth])
async def alerts(state: StateDep, f: FiltersDep,
                 stock_days: Annotated[float, Query(gt=0, le=365, description="days of demand a mine's stock should"
                                                    " cover")] = DEFAULT_STOCK_DAYS) -> dict[str, Any]:
    """Sections above 90 % of capacity, mines low on stock, flagged lots, open disputes (most severe first)."""
    async with state.reader.snapshot() as r:
        rows = await read_alerts(r, f.date, stock_days=stock_days, station=f.station, product=f.product,
                                 buyer=f.buyer, mine=f.mine)
        return {**r.snapshot.meta(), "date": r.day(f.date), "rows": rows}


@router.get("/history", dependencies=[Auth])
async def history_series(state: StateDep, f: FiltersDep,
                         days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30) -> dict[str, Any]:
    """Daily series over ``days`` days up to ``date`` (default the latest day): tonnes loaded and trains per
    station (or the line), trains vs capacity per section, stock per mine, demand and shortfall."""
    async with state.reader.snapshot() as r:
        end = r.day(f.date)
        meta = r.snapshot.meta()
        if end is None:
            return {**meta, "days": [], "station": None, "sections": [], "mine": None, "demand": None}
        return {**meta, **await history(r, end, days, station=f.station, mine=f.mine, product=f.product,
                                        destination=f.destination)}


_KEYS = {"capacity": ("station", "day"), "sections": ("from_station", "to_station", "direction", "day"),
         "stock": ("mine_id", "product"), "lots": ("lot_id",), "demand": ("order_id",),
         "gaps": ("destination", "product", "day"), "trains": ("train_id",), "disputes": ("shipment_id",),
         "alerts": ("kind", "key")}


def _export_route(table: str, route: Any) -> None:
    """``GET /v1/views/export/<table>.csv``: the JSON endpoint's own parameters (and checks), its rows as CSV."""

    async def export(**kwargs: Any) -> Response:
        body = await route(**kwargs)
        rows = body["sections"] if table == "sections" else body["rows"]
        name = f"coalchain-{table}-h{body.get('as_of_height')}.csv"
        return Response(to_csv(rows, _KEYS[table]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-As-Of-Height": str(body.get("as_of_height"))})

    export.__signature__ = inspect.signature(route)  # type: ignore[attr-defined]
    export.__doc__ = f"The rows of ``/v1/views/{'capacity' if table == 'sections' else table}`` as CSV."
    router.add_api_route(f"/export/{table}.csv", export, methods=["GET"], dependencies=[Auth],
                         response_class=Response, name=f"export_{table}")


@router.get("/status", dependencies=[Auth])
async def status(request: Request, state: StateDep) -> dict[str, Any]:
    """Views progress, lag behind the ledger, and the verified ledger head."""
    async with state.reader.snapshot() as r:
        meta = r.snapshot.meta()
    return {**meta, "head": await _head(request, state)}


async def _head(request: Request, state: ViewsState) -> dict[str, Any] | None:
    store = getattr(request.app.state, "store", None)
    head = await store.head() if store is not None else None
    return state.verifier.status(head).to_json() if head is not None else None


@router.get("/dashboard", dependencies=[Auth])
async def dashboard(request: Request, state: StateDep, f: FiltersDep,
                    stock_days: Annotated[float, Query(gt=0, le=365)] = DEFAULT_STOCK_DAYS) -> dict[str, Any]:
    """Everything the dashboard draws, from one snapshot. With a past ``date``: that day as it was (figures
    of that day, stock and trains in transit at its end); demand, lots and disputes are always as of now."""
    async with state.reader.snapshot() as r:
        latest = r.snapshot.progress.latest_day
        day = r.day(f.date)
        past = day is not None and latest is not None and day < latest
        at = day_end_utc(day) if past and day else None
        capacity_rows = await r.capacity(day)
        stock_rows = await r.stock(f.mine, f.product)
        if past and day:
            level = await stock_at(r, day, f.mine, f.product)
            stock_rows = [{**s, "stock_kg": level.get((s["mine_id"], s["product"]), 0)} for s in stock_rows]
        out: dict[str, Any] = {
            **r.snapshot.meta(), "date": day, "past": past, "filters": {k: v for k, v in vars(f).items()
                                                                        if k in FILTER_NAMES and v},
            "sim_clock": await r.sim_clock(),
            "capacity": capacity_rows, "sections": sections(capacity_rows), "stock": stock_rows,
            "flagged_lots": await r.lots(f.mine, flagged=True, limit=12, product=f.product),
            "flagged_lots_total": await r.count_lots(f.mine, flagged=True, product=f.product),
            "demand": await r.demand("open", f.buyer, None, 12, f.product, f.destination),
            "gaps": await r.gaps(day, f.destination or f.station, f.product),
            "trains": await r.trains("in_transit", 12, f.station, at),
            "trains_in_transit": await r.count_trains("in_transit", f.station, at),
            "disputes": await r.disputes(True, 8, f.buyer, f.product),
            "open_disputes": await r.count_disputes(f.buyer, f.product),
            "alerts": await read_alerts(r, day, stock_days=stock_days, station=f.station, product=f.product,
                                        buyer=f.buyer, mine=f.mine),
        }
        out["open_orders"], out["open_demand_kg"] = await r.open_demand(f.buyer, f.product, f.destination)
    out["head"] = await _head(request, state)
    return out


FILTER_NAMES = ("station", "product", "buyer", "mine", "destination")


@router.get("/reference")
async def reference() -> dict[str, Any]:
    """The line's stations north to south, mines with their railheads, products and participants (public)."""
    ref = refdata()
    return {
        "line": dict(ref.line),
        "stations": [{"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "line": s.line,
                      "route_km": s.route_km, "bureau": s.bureau, "kinds": list(s.kinds)}
                     for s in sorted(ref.stations, key=lambda s: (s.route_km is None, s.route_km or 0))],
        "mines": [{"mine_id": m.mine_id, "name_zh": m.name_zh, "name_en": m.name_en, "area": m.area,
                   "railhead_station": m.railhead_station} for m in ref.mines],
        "products": [{"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en} for p in ref.products],
        "participants": [{"id": p.id, "name": p.name, "name_en": p.name_en, "roles": list(p.roles)}
                         for p in ref.participants],
        "mine_products": {m.mine_id: list(m.products) for m in ref.mines},
    }


@router.get("/stream", dependencies=[Depends(dispatcher_stream)])
async def stream(request: Request, state: StateDep,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events: ``views`` (rows changed, with the height) after every folded block, ``resync``
    when a client must re-read (fell behind, views rebuilt), comments as keep-alives. Reconnect with
    ``Last-Event-ID`` to get what changed meanwhile."""
    sub = state.feed.subscribe()
    try:
        first = await _first_messages(state, last_event_id)
    except BaseException:
        state.feed.unsubscribe(sub)
        raise
    return StreamingResponse(_events(state, sub, first), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _first_messages(state: ViewsState, last_event_id: str | None) -> list[str]:
    async with state.reader.snapshot() as r:
        meta = r.snapshot.meta()
        out = ["retry: 1000\n\n", f"id: {meta['as_of_height']}\nevent: hello\ndata: {json.dumps(meta)}\n\n"]
        if last_event_id and last_event_id.lstrip("-").isdigit():
            since = int(last_event_id)
            if since > meta["as_of_height"]:
                out.append(f"event: resync\ndata: {json.dumps(meta)}\n\n")
            elif since < meta["as_of_height"]:
                rows, cut = await r.changed_since(since)
                kind, body = ("resync", meta) if cut else ("views", {**meta, "rows": rows})
                data = json.dumps(body, ensure_ascii=False)
                out.append(f"id: {meta['as_of_height']}\nevent: {kind}\ndata: {data}\n\n")
        return out


async def _events(state: ViewsState, sub: Subscription, first: list[str]) -> AsyncIterator[str]:
    try:
        for chunk in first:
            yield chunk
        shown = await _alerts_message(state, None)
        if shown is not None:
            yield shown[1]
        deadline = time.monotonic() + STREAM_MAX_AGE_S
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield msg.sse()
            changed = await _alerts_message(state, shown[0] if shown else None)
            if changed is not None:
                shown = changed
                yield changed[1]
    finally:
        state.feed.unsubscribe(sub)


async def _alerts_message(state: ViewsState, keys: frozenset[str] | None) -> tuple[frozenset[str], str] | None:
    """``event: alerts`` with every alert of the latest day, unless the set of alerts is the one last sent."""
    async with state.reader.snapshot() as r:
        rows = await read_alerts(r)
        meta = r.snapshot.meta()
    now = frozenset(a["key"] + "/" + a["severity"] for a in rows)
    if now == keys:
        return None
    new = sorted(a["key"] for a in rows if keys is not None and a["key"] + "/" + a["severity"] not in keys)
    data = json.dumps({**meta, "alerts": rows, "new": new}, ensure_ascii=False)
    return now, f"event: alerts\ndata: {data}\n\n"  # no id: Last-Event-ID stays the last views message's


for _table, _route in {"capacity": capacity, "sections": capacity, "stock": stock, "lots": lots, "demand": demand,
                       "gaps": gaps, "trains": trains, "disputes": disputes, "alerts": alerts}.items():
    _export_route(_table, _route)
