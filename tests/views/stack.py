"""Running pieces for the views tests: the sequencer, the views faust worker and the API, in-process against
the session's real broker and PostgreSQL; plus reading the views tables and the event stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from services.config import Settings
from services.views.cli import serve
from services.views.model import VIEWS

TOKEN = "dev-dispatcher-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def views_worker(settings: Settings, *, rebuild: bool = False) -> AsyncIterator[asyncio.Task[None]]:
    """``coalchain views`` in-process (the faust app, really consuming the blocks topic)."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, rebuild=rebuild, ready=ready))
    try:
        done, _ = await asyncio.wait([task, asyncio.create_task(ready.wait())], timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def scalar(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def views_height(url: str) -> int:
    h: int = await scalar(url, "SELECT height FROM views_progress WHERE id = 1")
    return h


async def ledger_height(url: str) -> int:
    h: int = await scalar(url, "SELECT coalesce(max(height), -1) FROM ledger_blocks")
    return h


async def tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every views table, rows in key order (figures as parsed JSON), plus the entities and the progress."""
    conn = await asyncpg.connect(url)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for spec in VIEWS.values():
            rows = await conn.fetch(f"SELECT {', '.join(spec.key)}, height, figures::text AS f FROM {spec.table}"
                                    f" ORDER BY {', '.join(spec.key)}")
            out[spec.table] = [(*tuple(r)[:-1], json.loads(r["f"])) for r in rows]
        ents = await conn.fetch("SELECT kind, key, height, data::text AS d FROM views_entities ORDER BY kind, key")
        out["views_entities"] = [(r["kind"], r["key"], r["height"], json.loads(r["d"])) for r in ents]
        p = await conn.fetchrow("SELECT height, header_hash, latest_day, blocks_applied, events_applied,"
                                " events_skipped FROM views_progress")
        out["views_progress"] = [tuple(p)] if p else []
        return out
    finally:
        await conn.close()


@dataclass
class Stream:
    """An open ``/v1/views/stream``: events as (arrival monotonic time, event name, data)."""

    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def wait_for(self, pred: Any, timeout_s: float, what: str) -> tuple[float, str, dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            for ev in self.events[seen:]:
                if pred(ev[1], ev[2]):
                    return ev
            seen = len(self.events)
            if self.task is not None and self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        raise AssertionError(f"no stream event {what} within {timeout_s} s; got {[e[1] for e in self.events]}")


@contextlib.asynccontextmanager
async def open_stream(base: str, *, query_token: bool = True) -> AsyncIterator[Stream]:
    stream = Stream()
    url = f"{base}/v1/views/stream" + (f"?token={TOKEN}" if query_token else "")

    async def read() -> None:
        async with httpx.AsyncClient(timeout=None) as client, client.stream(
                "GET", url, headers={} if query_token else AUTH) as r:
            r.raise_for_status()
            name, data = "message", ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    stream.events.append((time.monotonic(), name, json.loads(data)))
                    name, data = "message", ""

    stream.task = asyncio.create_task(read())
    try:
        await stream.wait_for(lambda n, d: n == "hello", 10, "hello")
        yield stream
    finally:
        stream.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream.task
