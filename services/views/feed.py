"""The live change feed behind ``GET /v1/views/stream`` (Server-Sent Events).

One LISTEN connection per API process. The views worker NOTIFYs after each committed block; the feed then
reads every row changed since the height it last sent (one snapshot, however many blocks were committed
meanwhile: bursts coalesce) and hands the same pre-encoded message to every subscriber. A subscriber too
slow to keep up gets a ``resync`` message instead of an unbounded queue. If the LISTEN connection drops,
the feed reconnects; a 2 s poll of the stored height covers notifications lost meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services import db
from services.config import Settings
from services.views.postgres import NOTIFY_CHANNEL
from services.views.queries import MAX_ROWS, ViewsReader

log = logging.getLogger(__name__)

QUEUE_MESSAGES = 32
POLL_S = 2.0


@dataclass(frozen=True)
class Message:
    height: int
    event: str  # views | resync
    data: str  # JSON

    def sse(self) -> str:
        return f"id: {self.height}\nevent: {self.event}\ndata: {self.data}\n\n"


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_MESSAGES))

    def offer(self, msg: Message, resync: Message) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(resync)


class ViewsFeed:
    def __init__(self, settings: Settings, reader: ViewsReader) -> None:
        self.settings = settings
        self.reader = reader
        self.sent_height = -1
        self.subscribers: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self.messages = 0

    async def start(self) -> None:
        try:
            async with self.reader.snapshot() as r:
                self.sent_height = r.snapshot.progress.height
        except (OSError, asyncpg.PostgresError) as e:  # e.g. views tables not migrated yet: the loop retries
            log.warning("views feed: cannot read the views yet: %s", e)
        self._task = asyncio.create_task(self._run(), name="views-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        await self._close()
        conn = await asyncpg.connect(db.url_for(self.settings, "api"))  # in the API process
        await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        self._conn = conn
        self._wake.set()  # catch up with whatever was committed while not listening

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run(self) -> None:
        backoff_s = 0.5
        while True:
            try:
                await self._listen()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()
                await self._publish()
                backoff_s = 0.5
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("views feed: %s; retrying in %.1f s", e, backoff_s)
                await self._close()
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 10.0)

    async def _publish(self) -> None:
        async with self.reader.snapshot() as r:
            snap = r.snapshot
            height = snap.progress.height
            if height == self.sent_height:
                return
            if height < self.sent_height:  # the views were rebuilt
                rows: dict[str, list[dict[str, Any]]] = {}
                cut = True
            else:
                rows, cut = await r.changed_since(self.sent_height, MAX_ROWS)
        self.sent_height = height
        meta = snap.meta()
        resync = Message(height, "resync", json.dumps(meta))
        msg = resync if cut else Message(height, "views", json.dumps({**meta, "rows": rows}, ensure_ascii=False))
        self.messages += 1
        for sub in list(self.subscribers):
            sub.offer(msg, resync)
