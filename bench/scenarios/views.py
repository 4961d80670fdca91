"""``views``: seal→screen latency — from a block appearing on the blocks topic to the dispatcher's Server-Sent
Events stream (``GET /v1/views/stream``) announcing a views update that includes it.

Validators, sequencer, ``coalchain views`` (the faust worker) and ``coalchain api`` (uvicorn) run as child
processes; the benchmark publishes simulator events at a fixed rate (default 1,000 events/s; ``--rates``
takes the first value) and, in the same process and on the same clock, reads the blocks topic (when each
height was sealed) and the SSE stream like a browser's EventSource (the ``id:`` of each ``views`` message is
the height the views reflect; one message may cover several blocks). The stream is re-opened with
``Last-Event-ID`` when the server ends it (every 30 s by design).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from bench.ceilings import Ceilings, scratch_topic
from bench.common import Result, console, latency_summary
from bench.events import Record, event_file
from bench.scenarios import Options
from bench.scenarios.seal_latency import SealWatcher, broker_latency, publish_at_rate
from bench.stack import Stack, stack
from services import devstack

NAME = "views"
DESCRIPTION = "seal→SSE (dispatcher screen) latency under the simulator's load"
DEFAULT_RATE = 1_000
TOKEN = "dev-dispatcher-token"


class SseReader:
    """Reads ``/v1/views/stream``; notes when each views height was first announced."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.seen_at: dict[int, float] = {}
        self.last_id: str | None = None
        self.messages = 0
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
            try:
                async with self.client.stream("GET", "/v1/views/stream", params={"token": TOKEN},
                                              headers=headers, timeout=None) as r:
                    r.raise_for_status()
                    await self._read(r)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
            self.reconnects += 1

    async def _read(self, r: httpx.Response) -> None:
        event, ident = "", None
        async for line in r.aiter_lines():
            if line.startswith("id:"):
                ident = line[3:].strip()
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif not line and ident is not None:
                if event == "views":
                    self.seen_at.setdefault(int(ident), time.perf_counter())
                    self.messages += 1
                self.last_id, event, ident = ident, "", None

    def announced_at(self, height: int) -> float | None:
        """When a views message covering ``height`` first arrived."""
        times = [t for h, t in self.seen_at.items() if h >= height]
        return min(times) if times else None


async def run(opts: Options, ceilings: Ceilings) -> Result:
    rate = opts.rates[0] if opts.rates else DEFAULT_RATE
    duration = opts.duration_s or (6.0 if opts.quick else 60.0)
    total = 200 + int(rate * duration)
    events = event_file(total, opts.seed)
    records = list(events.records(total))
    result = Result(NAME, {"rate_events_per_s": rate, "seconds": duration, "events": total,
                           "event_source": events.source, "validators": opts.validators,
                           "clock": "time.perf_counter() in the benchmark process (blocks reader and SSE reader)",
                           "sealed_time": "block first seen on the blocks topic (fetch_max_wait_ms=20)"})
    async with stack(NAME) as st:
        result.parameters["batch_timeout_ms"] = st.settings.batch_timeout_ms
        st.write_genesis(events.genesis)
        messages = max(10, min(50, ceilings.sample_events // 250))
        for wait in (None, 20):
            c = await broker_latency(st.settings, await scratch_topic(st.settings, 1), records, wait, messages)
            result.ceilings[c.key] = c
        await _measure(st, opts, result, records, rate)
        result.peak_rss_bytes.update(st.peak_rss())
    result.notes.append("target: seal→screen <= 1 s p99")
    return result


async def _measure(st: Stack, opts: Options, result: Result, records: list[Record], rate: int) -> None:
    port = devstack.free_port()
    for name in ["sequencer", *(f"validator-{i}" for i in range(opts.validators)), "views"]:
        st.spawn(name, name.split("-")[0])
    st.spawn("api", "api", "--host", "127.0.0.1", "--port", str(port))
    watcher = SealWatcher(st.settings, st.topics.blocks)
    await watcher.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        await _wait_api(st, client)
        sse = SseReader(client)
        sse.start()
        try:
            async with st.sampling():
                await _run_load(st, watcher, sse, records, rate, result)
        finally:
            await sse.stop()
            await watcher.stop()


async def _wait_api(st: Stack, client: httpx.AsyncClient, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st.check_children()
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/v1/views/status", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the views API did not answer in {timeout_s} s:\n{st.log_tail('api')}")


async def _run_load(st: Stack, watcher: SealWatcher, sse: SseReader, records: list[Record], rate: int,
                    result: Result) -> None:
    warm = records[:200]
    await publish_at_rate(st.settings, st.topics.raw, warm, 1_000, st)
    if await watcher.wait_for([r.event_id for r in warm], 120):
        raise RuntimeError(f"warm-up events were not sealed; sequencer log:\n{st.log_tail('sequencer')}")
    first_height = max(watcher.block_seen_at) + 1
    console.print(f"publishing {rate:,} events/s for {(len(records) - 200) / rate:.0f} s with views and SSE")
    published, _ = await publish_at_rate(st.settings, st.topics.raw, records[200:], rate, st)
    missing = await watcher.wait_for(list(published), timeout_s=120)
    last_height = max(watcher.block_seen_at)
    deadline = time.perf_counter() + 30
    while sse.announced_at(last_height) is None and time.perf_counter() < deadline:
        st.check_children()
        await asyncio.sleep(0.1)
    lat, unseen = [], 0
    for h in range(first_height, last_height + 1):
        sealed, shown = watcher.block_seen_at.get(h), sse.announced_at(h)
        if sealed is None or shown is None:
            unseen += 1
            continue
        lat.append(max(0.0, shown - sealed))
    summary = latency_summary(lat)
    ceiling = ["broker_rtt_p99_ms", "broker_rtt_p99_ms_wait20"]
    for q in ("p50", "p95", "p99", "max"):
        result.add(f"seal_to_sse_{q}_ms", f"seal→SSE {q} @ {rate / 1000:g}k events/s", summary[f"{q}_ms"], "ms",
                   vs=ceiling, higher_is_better=False, headline=q in ("p50", "p99"))
    result.details["blocks"] = {"first_height": first_height, "last_height": last_height, "measured": len(lat),
                                "not_announced": unseen, "events_not_sealed": missing,
                                "sse_messages": sse.messages, "sse_reconnects": sse.reconnects, **summary}
    if unseen:
        result.notes.append(f"{unseen} blocks were not announced on the SSE stream within 30 s")
