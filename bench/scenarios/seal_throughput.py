"""``seal-throughput``: catch-up rate of the whole pipeline on a pre-filled backlog.

1. N signed simulator events are produced to the raw topic (6 partitions, key = subject) before anything
   consumes it.
2. The sequencer and the validators (``--validators``, default 2) start as ``coalchain`` child processes,
   with py-spy attached to each from its start (``--no-profile`` to skip).
3. The benchmark polls ``max(tree_size)`` and the accepted/rejected topics' high watermarks every 0.25 s
   until every event is sealed or rejected.

Figures: the steady sealed rate (10 % → 90 % of N, so process start and consumer-group join are left out),
the rate including start-up, and the validators' accepted rate the same way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.ceilings import Ceilings
from bench.common import Ceiling, Result, console
from bench.cpu import figure_key, per_event_us
from bench.events import event_file
from bench.kafkaio import produce_batched
from bench.monitor import Monitor, Sample, steady_rate, time_at
from bench.profile import Profiler, summarize, summary_text
from bench.scenarios import Options
from bench.stack import Stack, stack
from services.kafka.topics import load_topics

NAME = "seal-throughput"
DESCRIPTION = "events/s sealed end to end while catching up a pre-filled backlog"
POLL_S = 0.25
STALL_S = 60.0


async def prefill(st: Stack, records: Any, n: int) -> dict[str, float]:
    partitions = load_topics()["raw"].partitions
    count, seconds = await produce_batched(st.settings, st.topics.raw, partitions,
                                           ((r.key, r.value, ()) for r in records))
    if count != n:
        raise RuntimeError(f"pre-filled {count} events, expected {n}")
    return {"events": count, "seconds": round(seconds, 2), "events_per_s": round(count / seconds)}


async def wait_for_backlog(st: Stack, mon: Monitor, n: int) -> Sample:
    """Poll until sealed + rejected == n; fail on a dead child or no progress for STALL_S."""
    last_progress, last = time.perf_counter(), (-1, -1)
    while True:
        st.check_children()
        s = await mon.sample()
        if s.sealed + s.rejected >= n:
            return s
        if (s.sealed, s.rejected) != last:
            last, last_progress = (s.sealed, s.rejected), s.t
        elif s.t - last_progress > STALL_S:
            raise RuntimeError(f"no progress for {STALL_S:.0f} s at {s.sealed} sealed, {s.rejected} rejected;"
                               f" sequencer log:\n{st.log_tail('sequencer')}")
        await asyncio.sleep(POLL_S)


async def run(opts: Options, ceilings: Ceilings) -> Result:
    n = opts.pick(quick=20_000, full=1_000_000)
    events = event_file(n, opts.seed)
    params = {"events": n, "event_source": events.source, "seed": opts.seed, "validators": opts.validators,
              "raw_partitions": load_topics()["raw"].partitions, "profile": opts.profile}
    result = Result(NAME, params)
    sample = list(events.records(ceilings.sample_events))
    for c in await ceilings.ed25519(sample, events.genesis) + await ceilings.sha256([r.leaf() for r in sample]):
        result.ceilings[c.key] = c
    async with stack(NAME) as st:
        params.update(batch_timeout_ms=st.settings.batch_timeout_ms,
                      max_events_per_block=st.settings.max_events_per_block)
        st.write_genesis(events.genesis)
        for c in await ceilings.postgres(st.settings.database_url, sample) + await ceilings.kafka(st.settings, sample):
            result.ceilings[c.key] = c
        console.print(f"pre-filling the raw topic with {n:,} events")
        result.details["prefill"] = await prefill(st, events.records(n), n)
        mon = await Monitor.open(st.settings, cpu=st.cpu)
        profiler = Profiler(opts.results_dir / "profiles", NAME)
        try:
            await _seal(st, mon, profiler, opts, result, n)
        finally:
            profiles = profiler.stop() if opts.profile else {}
            await mon.close()
        result.peak_rss_bytes.update(st.peak_rss())
    _profile_details(result, profiles)
    result.notes.append("target: >= 20,000 signed events/s sealed end to end")
    return result


async def _seal(st: Stack, mon: Monitor, profiler: Profiler, opts: Options, result: Result, n: int) -> None:
    t0 = time.perf_counter()
    mon.timeline.append(Sample(t0, 0, 0, 0))
    names = ["sequencer", *(f"validator-{i}" for i in range(opts.validators))]
    for name in names:
        proc = st.spawn(name, name.split("-")[0])
        if opts.profile:  # from the start: includes ~1-2 s of imports per process, a few % of a full-size run
            profiler.attach(name, proc.pid)
    console.print(f"started {', '.join(names)}; waiting for {n:,} events to be sealed")
    async with st.sampling():
        end = await wait_for_backlog(st, mon, n)
    tl = mon.timeline
    sealed_rate = steady_rate(tl, end.sealed, "sealed")
    accepted_rate = steady_rate(tl, end.accepted, "accepted")
    first = time_at(tl, 1, "sealed")
    result.add("sealed_steady", "sealed, steady (10→90 %)", sealed_rate or float("nan"), "events/s",
               vs=["ed25519_verify_all", "validator_checks_core", "pg_copy_rows", "broker_produce", "broker_consume"],
               headline=True)
    result.add("sealed_with_startup", "sealed, incl. process start-up", end.sealed / (end.t - t0), "events/s",
               vs=["ed25519_verify_all"])
    # the accepted topic holds one signed verdict record per validator batch (not one record per event)
    result.add("verdicts_steady", "verdict records on the accepted topic, steady", accepted_rate or float("nan"),
               "records/s")
    result.details["run"] = {
        "sealed": end.sealed, "rejected": end.rejected, "seconds_total": round(end.t - t0, 2),
        "seconds_to_first_block": round(first - t0, 2) if first else None,
        "timeline": [{"t": round(s.t - t0, 2), "sealed": s.sealed, "accepted": s.accepted, "rejected": s.rejected}
                     for s in tl[:: max(1, len(tl) // 200)]],
    }
    if end.rejected:
        result.notes.append(f"{end.rejected} events were rejected (see the rejected topic); sealed {end.sealed}")
    _cpu_figures(result, tl, end.sealed)


def cpu_floor(result: Result) -> Ceiling | None:
    """The primitives no design can skip, per event, 1 core: one Ed25519 verify, one leaf hash, one COPY row."""
    parts = [result.ceilings.get(k) for k in ("ed25519_verify_core", "sha256_leaf", "pg_copy_rows")]
    if any(c is None or not c.value for c in parts):
        return None
    # CPU time per operation where measured (it holds on a busy machine, as the figures do), else wall time
    us = sum(c.cpu_us if c.cpu_us else 1e6 / c.value for c in parts if c is not None)
    return Ceiling("cpu_floor_us", "Ed25519 verify + leaf hash + COPY row, CPU", us, "µs/event",
                   "sum of the CPU µs per operation of the three ceilings measured above (user + system, the"
                   " COPY's server backend included)")


def _cpu_figures(result: Result, tl: list[Sample], sealed: int) -> None:
    """CPU µs per sealed event per process (from /proc) between 10 % and 90 % sealed."""
    lo = next((s for s in tl if s.cpu and s.sealed >= 0.1 * sealed), None)
    hi = next((s for s in tl if s.cpu and s.sealed >= 0.9 * sealed), None)
    if lo is None or hi is None or hi.sealed <= lo.sealed:
        result.notes.append("too few samples between 10 % and 90 % sealed for CPU per event")
        return
    floor = cpu_floor(result)
    if floor is not None:
        result.ceilings[floor.key] = floor
    vs = [floor.key] if floor else []
    per = per_event_us(lo.cpu, hi.cpu, hi.sealed - lo.sealed)
    result.add("cpu_us_per_event", "CPU per sealed event, all processes (10→90 %)", per.pop("all processes"),
               "µs/event", vs=vs, higher_is_better=False, headline=True)
    result.details["cpu_us_per_event"] = {k: round(v, 2) for k, v in sorted(per.items())}
    for name, us in sorted(per.items()):
        if us <= 0:  # e.g. a validator that was assigned no partition in a small run: in details only
            continue
        result.add(f"cpu_us_per_event_{figure_key(name)}", f"CPU per sealed event, {name}", us, "µs/event",
                   vs=vs, higher_is_better=False)


def _profile_details(result: Result, profiles: dict[str, Any]) -> None:
    summaries = {}
    for name, path in profiles.items():
        s = summarize(path)
        summaries[name] = s
        path.with_name(path.name.replace(".folded.txt", ".summary.txt")).write_text(summary_text(name, s))
        console.print(f"[bold]profile {name}[/bold] ({s['samples']} samples, ~{s['seconds_sampled']} s on CPU)"
                      " — self time by kind, then the top functions:")
        for row in s["self_by_category"][:6]:
            console.print(f"  {row['share'] * 100:5.1f} %  {row['name']}")
        for row in s["self_by_function"][:6]:
            console.print(f"  {row['share'] * 100:5.1f} %  {row['name']}")
    if summaries:
        result.details["profile"] = {"tool": "py-spy record --nonblocking --nolineno --format raw",
                                     "files": {k: str(v) for k, v in profiles.items()}, "summaries": summaries}
