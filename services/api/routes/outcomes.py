"""A publisher's own outcomes: ``GET /v1/rejections?source=…`` and the live feed ``GET /v1/outcomes/stream``.

Both need a session of the participant itself or of an auditor (sign-in by key possession,
:mod:`services.api.auth`). The router's lifespan runs the :class:`~services.api.rejections.RejectionRecorder`
(unless ``COALCHAIN_REJECTIONS_RECORDER`` is false; with several API workers, in worker 0 only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from services.api.auth import MaybeSessionDep, session_of
from services.api.deps import StoreDep
from services.api.rejections import PARTICIPANT_PREFIX, RejectionRecorder, rejections_of
from services.config import Settings
from services.kafka.topics import Topics

log = logging.getLogger(__name__)

STREAM_POLL_S = 0.1
STREAM_MAX_AGE_S = 30.0  # then the client reconnects with Last-Event-ID
KEEPALIVE_S = 15.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if (not settings.rejections_recorder or getattr(app.state, "store", None) is None
            or getattr(app.state, "worker", 0) != 0):
        yield
        return
    stop = asyncio.Event()
    recorder = RejectionRecorder(settings, app.state.store.pool, Topics.from_settings(settings).rejected)
    task = asyncio.create_task(recorder.run(stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)


router = APIRouter(prefix="/v1", tags=["outcomes"], lifespan=lifespan)


def _participant(source: str, session: MaybeSessionDep) -> str:
    pid = source[len(PARTICIPANT_PREFIX):] if source.startswith(PARTICIPANT_PREFIX) else source
    if not pid:
        raise HTTPException(422, "source: name a participant, e.g. mine-x or /participants/mine-x")
    session_of(session, pid)
    return pid


SOURCE = Query(..., description="the participant id or its source /participants/<id>: the signed-in one")


@router.get("/rejections")
async def list_rejections(session: MaybeSessionDep, store: StoreDep, source: str = SOURCE,
                          after: int = Query(0, ge=0, description="only rejections with seq > after"),
                          limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """The rejections of events claiming ``source``, oldest first (page on with ``after`` = the last seq)."""
    pid = _participant(source, session)
    items = await rejections_of(store.pool, pid, after=after, limit=limit)
    return {"source": f"{PARTICIPANT_PREFIX}{pid}", "rejections": items,
            "next_after": items[-1]["seq"] if items else after}


@router.get("/outcomes/stream")
async def outcomes_stream(request: Request, session: MaybeSessionDep, store: StoreDep, source: str = SOURCE
                          ) -> StreamingResponse:
    """Server-Sent Events of the participant's outcomes from now on: ``event: sealed`` (data: event_id,
    leaf_index, height) and ``event: rejected`` (data: a rejection as in ``/v1/rejections``)."""
    pid = _participant(source, session)
    pool = store.pool
    last_leaf = await pool.fetchval("SELECT coalesce(max(leaf_index), -1) FROM ledger_events")
    last_seq = await pool.fetchval("SELECT coalesce(max(id), 0) FROM event_rejections")

    async def events() -> AsyncIterator[bytes]:
        nonlocal last_leaf, last_seq
        loop = asyncio.get_running_loop()
        started = idle_since = loop.time()
        yield b": outcomes of " + pid.encode() + b"\n\n"
        while loop.time() - started < STREAM_MAX_AGE_S and not await request.is_disconnected():
            sealed = await pool.fetch("SELECT event_id, leaf_index, height FROM ledger_events"
                                      " WHERE leaf_index > $1 AND participant = $2 ORDER BY leaf_index",
                                      last_leaf, pid)
            last_leaf = await pool.fetchval("SELECT coalesce(max(leaf_index), $1) FROM ledger_events"
                                            " WHERE leaf_index > $1", last_leaf)
            out: list[bytes] = []
            for r in sealed:
                doc = {"status": "sealed", "event_id": str(r["event_id"]), "leaf_index": r["leaf_index"],
                       "height": r["height"], "proof": f"/v1/proofs/inclusion?event_id={r['event_id']}"}
                out.append(b"event: sealed\ndata: " + json.dumps(doc).encode() + b"\n\n")
            for rej in await rejections_of(pool, pid, after=last_seq, limit=1000):
                last_seq = rej["seq"]
                out.append(b"event: rejected\ndata: " + json.dumps({"status": "rejected", **rej},
                                                                    ensure_ascii=False).encode() + b"\n\n")
            if out:
                idle_since = loop.time()
                yield b"".join(out)
            elif loop.time() - idle_since > KEEPALIVE_S:
                idle_since = loop.time()
                yield b": keepalive\n\n"
            await asyncio.sleep(STREAM_POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
