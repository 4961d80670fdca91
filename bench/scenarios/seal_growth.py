"""``seal-growth``: does sealing slow down as the ledger grows? The sequencer's stage (verdict check, dedupe
query, Merkle, COPY into ``ledger_events`` with its indexes, block publish) on top of ledgers of 1 M and
10 M events (``--sizes``; quick: 10 k and 100 k).

For each size, in a fresh database and broker:

1. a ledger of that many events is built directly (``bench.ledger``: the sequencer's sealing code, bulk
   COPY, template leaves with fresh ids, then the migration's own indexes);
2. ``--events`` fresh simulator events (default 100,000; quick 20,000) are written to the accepted topic as
   validator verdict records (500 entries each, signed with the validator key the genesis lists — what
   the validators would send), before the sequencer starts;
3. the sequencer starts on top of the built head and seals them; the benchmark polls the tree size.

Figures per size: sealed events/s (10 → 90 % of the new events) and CPU µs per sealed event of the
sequencer and of this database's PostgreSQL backends (from ``/proc``); and the growth figure, the rate at
the largest size over the rate at the smallest (target ≥ 0.85). The validators are left out on purpose:
their per-event work does not read the ledger, except the receipt rules' few indexed lookups.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from bench.ceilings import Ceilings
from bench.common import Ceiling, Result, console
from bench.cpu import figure_key, per_event_us
from bench.events import Record, event_file
from bench.ledger import build_ledger, templated
from bench.monitor import Monitor, Sample, steady_rate
from bench.profile import Profiler, summarize
from bench.scenarios import Options
from bench.scenarios.seal_throughput import STALL_S
from bench.stack import Stack, stack
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services import blockmsg
from services.kafka import clients
from services.keyfiles import sequencer_signer, validator_signer
from services.store.postgres import LedgerStore
from services.validator.worker import rfc3339_now

NAME = "seal-growth"
DESCRIPTION = "sequencer + PostgreSQL: sealing rate and CPU per event on top of ledgers of 1 M and 10 M events"
POLL_S = 0.25
TEMPLATES = 100_000
ENTRIES_PER_VERDICT = 500
TARGET = 0.85
STATS_FLUSH_S = 11.0
"""An idle backend reports its buffer counts within 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL)."""


async def run(opts: Options, ceilings: Ceilings) -> Result:
    sizes = sorted(opts.sizes or ([10_000, 100_000] if opts.quick else [1_000_000, 10_000_000]))
    n = opts.pick(quick=20_000, full=100_000)
    events = event_file(n, opts.seed)
    templates = list(events.records(min(TEMPLATES, n)))
    result = Result(NAME, {"sizes": sizes, "events": n, "event_source": events.source,
                           "entries_per_verdict": ENTRIES_PER_VERDICT,
                           "ledger_built_by": "bench.ledger (sequencer sealing code, bulk COPY), template leaves"})
    for c in await ceilings.sha256([r.leaf() for r in templates[: ceilings.sample_events]]):
        result.ceilings[c.key] = c
    rates: dict[int, float] = {}
    for size in sizes:
        async with stack(NAME) as st:
            st.write_genesis(events.genesis)
            for c in await ceilings.postgres(st.settings.database_url, templates):
                result.ceilings[c.key] = c
            floor = _floor(result)
            if floor is not None:
                result.ceilings[floor.key] = floor
            rate = await _one_size(st, opts, result, templates, list(events.records(n)), size)
            if rate is not None:
                rates[size] = rate
            for k, v in st.peak_rss().items():
                result.peak_rss_bytes[f"{k} @ {size:,}"] = v
    if len(rates) >= 2:
        lo, hi = min(rates), max(rates)
        result.add("growth", f"sealed rate @ {_label(hi)} / @ {_label(lo)}", rates[hi] / rates[lo], "×",
                   headline=True)
    result.notes.append(f"target: the rate at 10 M events >= {TARGET:.0%} of the rate at 1 M")
    return result


async def _receipt_refs(st: Stack) -> int:
    """The bulk-loaded ledger's receipt references (the sequencer writes them per block; the bulk load COPYs
    rows past it), so the new blocks add to a table of the ledger's size, as they would in production."""
    conn = await asyncpg.connect(st.settings.database_url)
    try:
        added: int = await conn.fetchval("SELECT ledger_receipt_refs_backfill(0)")
        await conn.execute("ANALYZE ledger_receipt_refs")
    finally:
        await conn.close()
    return added


async def _one_size(st: Stack, opts: Options, result: Result, templates: list[Record], new: list[Record],
                    size: int) -> float | None:
    console.print(f"building a ledger of {size:,} events")
    leaves = templated(templates, size, history=True)  # a past of other shipments, trains, lots and orders
    built = await build_ledger(st.settings, sequencer_signer(st.settings), leaves, size)
    refs = await _receipt_refs(st)
    result.details[f"build_{size}"] = {"blocks": built.blocks, "load_seconds": round(built.seconds, 1),
                                      "index_seconds": round(built.seconds_indexes, 1), "receipt_refs": refs}
    await _publish_head(st)
    records = await _write_verdicts(st, new)
    console.print(f"  {len(new):,} events in {records:,} verdict records on the accepted topic; sealing")
    mon = await Monitor.open(st.settings, cpu=st.cpu)
    profiler = Profiler(opts.results_dir / "profiles", f"{NAME}-{size}")
    before = await _statio(st)
    try:
        t0 = time.perf_counter()
        mon.timeline.append(Sample(t0, 0, 0, 0))
        proc = st.spawn("sequencer", "sequencer")
        if opts.profile:
            profiler.attach("sequencer", proc.pid)
        async with st.sampling():
            await _wait(st, mon, size + len(new))
    finally:
        profiles = profiler.stop() if opts.profile else {}
        await mon.close()
    for name, path in profiles.items():
        s = summarize(path)
        result.details[f"profile_{size}"] = s
        console.print(f"[bold]profile {name} @ {_label(size)}[/bold] ({s['samples']} samples): top functions")
        for row in s["self_by_function"][:12]:
            console.print(f"  {row['share'] * 100:5.1f} %  {row['name']}")
    label = _label(size)
    await asyncio.sleep(STATS_FLUSH_S)
    _buffers(result, size, before, await _statio(st), len(new))
    tl = [Sample(s.t, max(0, s.sealed - size), s.accepted, s.rejected, s.cpu) for s in mon.timeline]
    rate = steady_rate(tl, len(new), "sealed")
    result.add(f"sealed_steady_{size}", f"sealed, steady (10→90 %) @ {label}", rate or float("nan"), "events/s",
               vs=["pg_copy_rows"], headline=True)
    lo = next((s for s in tl if s.cpu and s.sealed >= 0.1 * len(new)), None)
    hi = next((s for s in tl if s.cpu and s.sealed >= 0.9 * len(new)), None)
    if lo is not None and hi is not None and hi.sealed > lo.sealed:
        per = per_event_us(lo.cpu, hi.cpu, hi.sealed - lo.sealed)
        for name, us in sorted(per.items()):
            if us <= 0:  # a process with no CPU tick in a tiny run (clock ticks are 10 ms): in details only
                result.details.setdefault(f"cpu_us_per_event_{size}", {})[name] = us
                continue
            result.add(f"cpu_us_per_event_{figure_key(name)}_{size}", f"CPU per sealed event, {name} @ {label}",
                       us, "µs/event", vs=["cpu_floor_sequencer_us"] if "cpu_floor_sequencer_us" in result.ceilings
                       else [], higher_is_better=False, headline=name == "all processes")
    return rate


STATIO = """
SELECT relname AS name, coalesce(heap_blks_hit, 0) AS hit, coalesce(heap_blks_read, 0) AS read
  FROM pg_statio_user_tables
UNION ALL
SELECT indexrelname, coalesce(idx_blks_hit, 0), coalesce(idx_blks_read, 0) FROM pg_statio_user_indexes
"""


async def _statio(st: Stack) -> dict[str, tuple[int, int]]:
    """Shared-buffer hits and reads (misses: a page from the OS) so far, per table heap and per index."""
    conn = await asyncpg.connect(st.settings.database_url)
    try:
        return {r["name"]: (int(r["hit"]), int(r["read"])) for r in await conn.fetch(STATIO)}
    finally:
        await conn.close()


def _buffers(result: Result, size: int, before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
             events: int) -> None:
    """Where sealing touched pages, per sealed event: buffer hits and misses of each heap and index (a miss
    costs PostgreSQL a copy from the OS page cache and a buffer eviction; their growth with the ledger's size is
    what slows COPY down). In details; the relations with the most misses are printed."""
    per: dict[str, dict[str, float]] = {}
    for name, (hit, read) in after.items():
        h0, r0 = before.get(name, (0, 0))
        if hit - h0 or read - r0:
            per[name] = {"hits_per_event": round((hit - h0) / events, 3),
                         "misses_per_event": round((read - r0) / events, 3)}
    result.details[f"buffers_{size}"] = per
    top = sorted(per.items(), key=lambda kv: -kv[1]["misses_per_event"])[:8]
    console.print(f"  shared buffers per sealed event @ {_label(size)}, most misses first: " + ", ".join(
        f"{name} {v['misses_per_event']:.2f} miss / {v['hits_per_event']:.1f} hit" for name, v in top))


async def _publish_head(st: Stack) -> None:
    """Put the built ledger's head block on the blocks topic, as a sequencer that sealed it would have: else
    the sequencer starts by republishing every committed block missing from the topic (all of them)."""
    pool = await asyncpg.create_pool(st.settings.database_url, min_size=1, max_size=1)
    try:
        store = LedgerStore(pool)
        head = await store.head()
        assert head is not None
        leaves = [leaf for _, leaf, _ in await store.block_leaves(head.height)]
    finally:
        await pool.close()
    producer = clients.producer(st.settings)
    await producer.start()
    try:
        await producer.send_and_wait(st.topics.blocks, blockmsg.encode(head.header, head.signatures, leaves,
                                                                       head.checkpoint), key=str(head.height).encode())
    finally:
        await producer.stop()


async def _write_verdicts(st: Stack, records: list[Record]) -> int:
    """The events as the validators would send them: signed verdict records on the accepted topic."""
    signer = validator_signer(st.settings)
    producer = clients.producer(st.settings)
    await producer.start()
    futures = []
    try:
        for i in range(0, len(records), ENTRIES_PER_VERDICT):
            chunk = [VerdictEntry(j % 6, j, r.leaf()) for j, r in enumerate(records[i : i + ENTRIES_PER_VERDICT], i)]
            futures.append(await producer.send(st.topics.accepted, encode_verdict(chunk, rfc3339_now(), signer)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(futures)


async def _wait(st: Stack, mon: Monitor, tree_size: int) -> None:
    last, last_progress = -1, time.perf_counter()
    while True:
        st.check_children()
        s = await mon.sample()
        if s.sealed >= tree_size:
            return
        if s.sealed != last:
            last, last_progress = s.sealed, s.t
        elif s.t - last_progress > STALL_S:
            raise RuntimeError(f"no progress for {STALL_S:.0f} s at tree size {s.sealed};"
                               f" sequencer log:\n{st.log_tail('sequencer')}")
        await asyncio.sleep(POLL_S)


def _floor(result: Result) -> Ceiling | None:
    """What this stage cannot skip per event, in CPU: one leaf hash and one COPY row."""
    parts = [result.ceilings.get(k) for k in ("sha256_leaf", "pg_copy_rows")]
    if any(c is None or not c.cpu_us for c in parts):
        return None
    return Ceiling("cpu_floor_sequencer_us", "leaf hash + COPY row, CPU", sum(c.cpu_us or 0 for c in parts if c),
                   "µs/event", "the CPU µs per operation of the two ceilings above (COPY: server backend included)")


def _label(size: int) -> str:
    return f"{size / 1e6:g} M" if size >= 1_000_000 else f"{size / 1e3:g} k"
