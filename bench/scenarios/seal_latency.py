"""``seal-latency``: publish→sealed latency at fixed offered rates.

The validators and the sequencer run as ``coalchain`` child processes. For each rate (default 1,000, 5,000
and 10,000 events/s) the benchmark publishes signed simulator events to the raw topic at that rate for a
fixed duration (paced every 5 ms, one ``send()`` per event as a publisher would), noting
``time.perf_counter()`` just before each send. A consumer in the same process reads the blocks topic and
notes when each event id arrives in a sealed block. Same process, same clock: latency = sealed − published.
After each rate the backlog is drained before the next one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
from aiokafka import TopicPartition

from bench.ceilings import Ceilings, scratch_topic
from bench.common import Ceiling, Result, console, latency_summary, percentile
from bench.cpu import per_event_us
from bench.events import Record, event_file
from bench.monitor import Monitor
from bench.scenarios import Options
from bench.stack import Stack, stack
from bench.stages import Trace, breakdown
from bench.stages import table as stage_table
from services.config import Settings
from services.kafka import clients

NAME = "seal-latency"
DESCRIPTION = "publish→sealed latency p50/p95/p99/max at fixed offered rates"
DEFAULT_RATES = (1_000, 5_000, 10_000)
TICK_S = 0.005
WARMUP_EVENTS = 500


class _EventId(msgspec.Struct):
    id: str


class _BlockIds(msgspec.Struct):
    events: list[_EventId]


_decode_block = msgspec.json.Decoder(_BlockIds).decode


class SealWatcher:
    """Reads the blocks topic and notes when each event id (and each block height) was first seen sealed."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.sealed_at: dict[str, float] = {}
        self.block_seen_at: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = clients.consumer(self.settings, fetch_max_wait_ms=20)
        await consumer.start()
        tp = TopicPartition(self.topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)

        async def loop() -> None:
            try:
                while True:
                    batch = await consumer.getmany(tp, timeout_ms=100)
                    now = time.perf_counter()
                    for record in batch.get(tp, []):
                        if record.key:
                            self.block_seen_at.setdefault(int(record.key), now)
                        for e in _decode_block(record.value or b"{}").events:
                            self.sealed_at.setdefault(e.id, now)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(self, ids: list[str], timeout_s: float) -> int:
        """Wait until every id is sealed (or the timeout); return how many are missing."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            missing = sum(1 for i in ids if i not in self.sealed_at)
            if not missing:
                return 0
            await asyncio.sleep(0.1)
        return sum(1 for i in ids if i not in self.sealed_at)


async def publish_at_rate(settings: Settings, topic: str, records: list[Record], rate: float, st: Stack,
                          positions: dict[str, tuple[int, int]] | None = None) -> tuple[dict[str, float], float]:
    """Send ``records`` at ``rate``/s; return (event id -> publish time, seconds it took). ``positions``: filled
    with each event's raw (partition, offset)."""
    producer = clients.producer(settings)
    await producer.start()
    published: dict[str, float] = {}
    pending: list[asyncio.Future[Any]] = []

    def noted(event_id: str) -> Any:
        def done(f: asyncio.Future[Any]) -> None:
            if positions is not None and not f.cancelled() and f.exception() is None:
                positions[event_id] = (f.result().partition, f.result().offset)
        return done
    try:
        t0 = time.perf_counter()
        sent = 0
        while sent < len(records):
            due = min(len(records), int((time.perf_counter() - t0) * rate) + 1)
            while sent < due:
                r = records[sent]
                published[r.event_id] = time.perf_counter()
                fut = await producer.send(topic, r.value, key=r.key)
                if positions is not None:
                    fut.add_done_callback(noted(r.event_id))
                pending.append(fut)
                sent += 1
            if len(pending) > 5_000:
                await asyncio.gather(*pending)
                pending.clear()
                st.check_children()
            await asyncio.sleep(max(0.0, t0 + sent / rate - time.perf_counter(), TICK_S / 5))
        await asyncio.gather(*pending)
        return published, time.perf_counter() - t0
    finally:
        await producer.stop()


async def broker_latency(settings: Settings, topic: str, records: list[Record],
                         fetch_max_wait_ms: int | None, messages: int) -> Ceiling:
    """The broker's own publish→consume latency, one message at a time (a floor under any figure here),
    with the services' consumer settings (``None``) or with ``fetch_max_wait_ms`` set."""
    overrides = {} if fetch_max_wait_ms is None else {"fetch_max_wait_ms": fetch_max_wait_ms}
    producer = clients.producer(settings)
    consumer = clients.consumer(settings, **overrides)
    await producer.start()
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        lat = []
        for r in records[:messages]:
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, r.value, partition=0)
            while not (await consumer.getmany(tp, timeout_ms=2000)).get(tp):
                pass
            lat.append(time.perf_counter() - t0)
    finally:
        await consumer.stop()
        await producer.stop()
    lat.sort()
    which = "services' consumer settings" if fetch_max_wait_ms is None else f"fetch_max_wait_ms={fetch_max_wait_ms}"
    key = "broker_rtt_p99_ms" if fetch_max_wait_ms is None else f"broker_rtt_p99_ms_wait{fetch_max_wait_ms}"
    return Ceiling(key, f"broker publish→consume p99, 1 msg, {which}", percentile(lat, 99) * 1000, "ms",
                   f"aiokafka send_and_wait then getmany, {len(lat)} sequential messages 10 ms apart (p50"
                   f" {percentile(lat, 50) * 1000:.1f} ms), {which}")


async def run(opts: Options, ceilings: Ceilings) -> Result:
    rates = opts.rates or list(DEFAULT_RATES)
    duration = opts.duration_s or (3.0 if opts.quick else 20.0)
    total = WARMUP_EVENTS + sum(int(r * duration) for r in rates)
    events = event_file(total, opts.seed)
    records = list(events.records(total))
    result = Result(NAME, {"rates_events_per_s": rates, "seconds_per_rate": duration, "events": total,
                           "event_source": events.source, "validators": opts.validators,
                           "clock": "time.perf_counter() in the benchmark process (publisher and block reader)"})
    for c in await ceilings.ed25519(records[: ceilings.sample_events], events.genesis):
        result.ceilings[c.key] = c
    async with stack(NAME) as st:
        if opts.stages:
            st.settings = st.settings.model_copy(update={"stage_trace_dir": st.home / "stages"})
        result.parameters.update(batch_timeout_ms=st.settings.batch_timeout_ms,
                                 max_events_per_block=st.settings.max_events_per_block)
        st.write_genesis(events.genesis)
        for c in await ceilings.kafka(st.settings, records[: ceilings.sample_events]):
            result.ceilings[c.key] = c
        for wait in (None, 20):
            rtt = await broker_latency(st.settings, await scratch_topic(st.settings, 1), records, wait,
                                       messages=max(10, min(50, ceilings.sample_events // 250)))
            result.ceilings[rtt.key] = rtt
        await _measure(st, opts, result, records, rates, duration)
        result.peak_rss_bytes.update(st.peak_rss())
    result.notes.append("target: p99 publish→sealed <= 500 ms at 5,000 events/s")
    return result


async def _measure(st: Stack, opts: Options, result: Result, records: list[Record], rates: list[int],
                   duration: float) -> None:
    watcher = SealWatcher(st.settings, st.topics.blocks)
    await watcher.start()
    mon = await Monitor.open(st.settings)
    try:
        for name in ["sequencer", *(f"validator-{i}" for i in range(opts.validators))]:
            st.spawn(name, name.split("-")[0])
        async with st.sampling():
            warm = records[:WARMUP_EVENTS]
            await publish_at_rate(st.settings, st.topics.raw, warm, 1_000, st)
            if await watcher.wait_for([r.event_id for r in warm], 120):
                raise RuntimeError(f"warm-up events were not sealed; sequencer log:\n{st.log_tail('sequencer')}")
            start = WARMUP_EVENTS
            per_rate = {}
            for rate in rates:
                batch = records[start : start + int(rate * duration)]
                start += len(batch)
                per_rate[rate] = await _one_rate(st, watcher, mon, batch, rate, result)
            result.details["per_rate"] = per_rate
    finally:
        await mon.close()
        await watcher.stop()


async def _one_rate(st: Stack, watcher: SealWatcher, mon: Monitor, batch: list[Record], rate: int,
                    result: Result) -> dict[str, Any]:
    console.print(f"offering {rate:,} events/s for {len(batch) / rate:.0f} s")
    await st.sample_postgres_rss()  # track the backends that exist now, so the CPU window starts with them
    cpu0 = st.cpu.snapshot()
    sealed0 = await mon.sealed()
    positions: dict[str, tuple[int, int]] = {}
    published, seconds = await publish_at_rate(st.settings, st.topics.raw, batch, rate, st,
                                               positions if st.settings.stage_trace_dir else None)
    sealed1 = await mon.sealed()
    missing = await watcher.wait_for(list(published), timeout_s=max(60.0, 3 * seconds))
    await st.sample_postgres_rss()
    cpu1 = st.cpu.snapshot()
    sealed2 = await mon.sealed()
    lat = [watcher.sealed_at[i] - t for i, t in published.items() if i in watcher.sealed_at]
    summary = latency_summary(lat)
    offered = len(batch) / seconds
    label = f"{rate / 1000:g}k/s"
    ceiling = ["broker_rtt_p99_ms", "broker_rtt_p99_ms_wait20"]
    result.add(f"p50_ms_{rate}", f"p50 publish→sealed @ {label}", summary["p50_ms"], "ms", vs=ceiling,
               higher_is_better=False, headline=True)
    result.add(f"p95_ms_{rate}", f"p95 @ {label}", summary["p95_ms"], "ms", vs=ceiling, higher_is_better=False)
    result.add(f"p99_ms_{rate}", f"p99 publish→sealed @ {label}", summary["p99_ms"], "ms", vs=ceiling,
               higher_is_better=False, headline=True)
    result.add(f"max_ms_{rate}", f"max @ {label}", summary["max_ms"], "ms", vs=ceiling, higher_is_better=False)
    result.add(f"offered_rate_{rate}", f"offered (achieved by the publisher) @ {label}", offered, "events/s",
               vs=["broker_produce"])
    result.add(f"sealed_rate_{rate}", f"sealed during the window @ {label}", (sealed1 - sealed0) / seconds,
               "events/s", vs=["ed25519_verify_all"], headline=True)
    # CPU per sealed event at this rate: from just before the first send until every event is sealed (the
    # services idle between rates, so the window's idle tail is part of what a rate costs)
    per = per_event_us(cpu0, cpu1, sealed2 - sealed0)
    console.print(f"CPU per sealed event @ {label}: " + ", ".join(f"{k} {v:.0f} µs" for k, v in sorted(per.items())))
    result.add(f"cpu_us_per_event_{rate}", f"CPU per sealed event, all processes @ {label}",
               per.pop("all processes", 0.0), "µs/event", higher_is_better=False, headline=True)
    if missing:
        result.notes.append(f"@ {label}: {missing} events not sealed within the wait")
    stages: dict[str, Any] = {}
    if st.settings.stage_trace_dir is not None:
        trace = Trace.load(st.settings.stage_trace_dir)
        stages = breakdown(trace, [(t, *positions[i], watcher.sealed_at[i]) for i, t in published.items()
                                   if i in watcher.sealed_at and i in positions])
        console.print(f"stages @ {label} ({stages.get('events_traced')} events traced, {stages.get('blocks')} blocks"
                      f" in the run, {stages.get('events_per_block_mean', 0):.0f} events per block, validator batches"
                      f" of {stages.get('validator_batch_events_mean', 0):.0f}; p50/p99 ms by 5 s:"
                      f" {stages.get('p50_p99_ms_by_5s')}):\n"
                      + stage_table(stages))
    return {**summary, **({"stages": stages} if stages else {}), "offered_events_per_s": round(offered),
            "missing": missing,
            "sealed_during_window_events_per_s": round((sealed1 - sealed0) / seconds),
            "cpu_us_per_event": {k: round(v, 2) for k, v in sorted(per.items())}}
