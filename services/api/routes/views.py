"""``/v1/views/*``: the dispatcher views, read from PostgreSQL, and their live stream (Server-Sent Events).

Read access needs a dispatcher bearer token (``COALCHAIN_DISPATCHER_TOKENS``, comma separated):
``Authorization: Bearer <token>``. ``/v1/views/stream`` also accepts ``?token=`` because a browser's
EventSource cannot set headers. Every answer states the block height it reflects (``as_of_height``) and
the views' lag behind the ledger.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from schemas import refdata
from services import db
from services.config import Settings
from services.views.feed import Subscription, ViewsFeed
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
    pool = await db.create_pool(settings, min_size=1, max_size=4)
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


@router.get("/capacity", dependencies=[Auth])
async def capacity(state: StateDep, date: Day = None, station: str | None = None) -> dict[str, Any]:
    """Per station and day: wagons requested / allocated / loaded / unloaded, trains, section capacity and use."""
    async with state.reader.snapshot() as r:
        rows = await r.capacity(date, station)
        day = r.day(date)
        return {**r.snapshot.meta(), "date": day, "rows": rows, "sections": sections(rows)}


@router.get("/stock", dependencies=[Auth])
async def stock(state: StateDep, mine: str | None = None, product: str | None = None,
                flagged_lots: bool = Query(False, description="also list the lots flagged against the limits")
                ) -> dict[str, Any]:
    """Per mine and product: stock on hand, last assay, lots flagged against the quality limits, offers."""
    async with state.reader.snapshot() as r:
        out: dict[str, Any] = {**r.snapshot.meta(), "rows": await r.stock(mine, product)}
        if flagged_lots:
            out["flagged_lots"] = await r.lots(mine, flagged=True)
        return out


@router.get("/demand", dependencies=[Auth])
async def demand(state: StateDep,
                 status: Annotated[str, Query(pattern="^(open|withdrawn|all)$")] = "open",
                 buyer: str | None = None, order: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=2000)] = 200) -> dict[str, Any]:
    """Per buyer order: ordered, open, in transit, delivered, confirmed and disputed tonnes (kg)."""
    async with state.reader.snapshot() as r:
        rows = await r.demand(None if status == "all" else status, buyer, order, limit)
        return {**r.snapshot.meta(), "rows": rows}


@router.get("/gaps", dependencies=[Auth])
async def gaps(state: StateDep, date: Day = None, destination: str | None = None,
               product: str | None = None) -> dict[str, Any]:
    """Per destination, product and day: demand vs coal loaded vs rail capacity allocated, and the gap."""
    async with state.reader.snapshot() as r:
        return {**r.snapshot.meta(), "date": r.day(date), "rows": await r.gaps(date, destination, product)}


@router.get("/trains", dependencies=[Auth])
async def trains(state: StateDep, status: Annotated[str, Query(pattern="^(in_transit|arrived|all)$")] = "in_transit",
                 limit: Annotated[int, Query(ge=1, le=2000)] = 100) -> dict[str, Any]:
    async with state.reader.snapshot() as r:
        return {**r.snapshot.meta(), "rows": await r.trains(None if status == "all" else status, limit)}


@router.get("/disputes", dependencies=[Auth])
async def disputes(state: StateDep, open_only: bool = True,
                   limit: Annotated[int, Query(ge=1, le=2000)] = 100) -> dict[str, Any]:
    async with state.reader.snapshot() as r:
        return {**r.snapshot.meta(), "rows": await r.disputes(open_only, limit)}


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
async def dashboard(request: Request, state: StateDep, date: Day = None) -> dict[str, Any]:
    """Everything the dashboard draws, from one snapshot."""
    async with state.reader.snapshot() as r:
        day = r.day(date)
        capacity_rows = await r.capacity(day)
        out = {
            **r.snapshot.meta(), "date": day,
            "capacity": capacity_rows, "sections": sections(capacity_rows),
            "stock": await r.stock(), "flagged_lots": await r.lots(flagged=True, limit=8),
            "demand": await r.demand("open", limit=12), "gaps": await r.gaps(day),
            "trains": await r.trains("in_transit", limit=12), "trains_in_transit": await r.count_trains("in_transit"),
            "disputes": await r.disputes(True, limit=8), "open_disputes": await r.count_disputes(),
        }
        out["open_orders"], out["open_demand_kg"] = await r.open_demand()
    out["head"] = await _head(request, state)
    return out


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
        "participants": [{"id": p.id, "name": p.name, "name_en": p.name_en} for p in ref.participants],
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
        deadline = time.monotonic() + STREAM_MAX_AGE_S
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield msg.sse()
    finally:
        state.feed.unsubscribe(sub)
