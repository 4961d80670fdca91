"""``verify``: how fast ``coalchain verify`` walks a large ledger.

The ledger is built from the simulator's signed events with :mod:`bench.ledger` (the sequencer's sealing
code, COPY in big chunks). Then the real command runs as a child process, twice: as is (hashes, roots,
header and checkpoint signatures, links, stored columns and nodes) and with ``--event-signatures`` (every
publisher signature re-verified too). The figure is the rate the command itself reports; the child's peak
RSS comes from ``wait4``.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from typing import Any

import asyncpg

from bench.ceilings import Ceilings
from bench.common import REPO_DIR, Ceiling, Result, console
from bench.events import event_file
from bench.ledger import as_leaves, build_ledger
from bench.scenarios import Options
from bench.stack import Stack, stack
from services.keyfiles import sequencer_signer
from services.store.postgres import EVENT_COLUMNS

NAME = "verify"
DESCRIPTION = "coalchain verify speed on a large ledger (events/s)"
_OK = re.compile(r"OK: (\d+) blocks, (\d+) events verified in ([\d.]+) s")


def run_verify_cli(st: Stack, name: str, *extra: str) -> tuple[int, float, float]:
    """Run ``coalchain verify`` (its peak RSS sampled as ``name``); return (events, seconds it reports, wall)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "verify", *extra], env=st.child_env(),
                            cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    st.rss.track(name, proc.pid)
    out, _ = proc.communicate()
    del st.rss.pids[name]
    wall = time.perf_counter() - t0
    text = out.decode(errors="replace")
    m = _OK.search(text)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"coalchain verify {' '.join(extra)} failed ({proc.returncode}):\n{text[-3000:]}")
    return int(m.group(2)), float(m.group(3)), wall


async def pg_read_ceiling(database_url: str, heights: int) -> Ceiling:
    """verify's read path alone: every block's event rows, one query per block, nothing checked."""
    conn = await asyncpg.connect(database_url)
    try:
        n, t0 = 0, time.perf_counter()
        query = f"SELECT {', '.join(EVENT_COLUMNS)} FROM ledger_events WHERE height = $1 ORDER BY leaf_index"
        for h in range(heights):
            n += len(await conn.fetch(query, h))
        elapsed = time.perf_counter() - t0
    finally:
        await conn.close()
    return Ceiling("pg_read_rows", "PostgreSQL read of the same rows", n / elapsed, "rows/s",
                   "asyncpg fetch of every block's ledger_events rows (verify's query), nothing checked")


async def run(opts: Options, ceilings: Ceilings) -> Result:
    n = opts.pick(quick=20_000, full=1_000_000)
    events = event_file(n, opts.seed)
    result = Result(NAME, {"events": n, "event_source": events.source, "seed": opts.seed,
                           "ledger_built_by": "bench.ledger (sequencer sealing code, bulk COPY)"})
    sample = list(events.records(ceilings.sample_events))
    for c in await ceilings.sha256([r.leaf() for r in sample]) + await ceilings.ed25519(sample, events.genesis):
        result.ceilings[c.key] = c
    async with stack(NAME, with_broker=False) as st:
        st.write_genesis(events.genesis)
        console.print(f"building a ledger of {n:,} events")
        built = await build_ledger(st.settings, sequencer_signer(st.settings), as_leaves(events.records(n)), n)
        result.details["build"] = _build_details(built)
        read = await pg_read_ceiling(st.settings.database_url, built.blocks)
        result.ceilings[read.key] = read
        console.print("running coalchain verify")
        async with st.sampling(0.2):
            count, seconds, wall = await asyncio.to_thread(run_verify_cli, st, "coalchain verify")
        result.add("verify_events_per_s", "coalchain verify", count / seconds, "events/s",
                   vs=["sha256_leaf", "pg_read_rows"], headline=True)
        console.print("running coalchain verify --event-signatures")
        async with st.sampling(0.2):
            count_s, seconds_s, wall_s = await asyncio.to_thread(
                run_verify_cli, st, "coalchain verify --event-signatures", "--event-signatures")
        result.add("verify_sig_events_per_s", "coalchain verify --event-signatures", count_s / seconds_s,
                   "events/s", vs=["ed25519_verify_core", "pg_read_rows"], headline=True)
        result.details["verify"] = {"events": count, "seconds": seconds, "wall_seconds_with_startup": wall,
                                    "event_signatures": {"events": count_s, "seconds": seconds_s,
                                                         "wall_seconds_with_startup": wall_s}}
        result.peak_rss_bytes.update(st.peak_rss())
    result.notes.append("target: full verify >= 50,000 events/s")
    return result


def _build_details(built: Any) -> dict[str, Any]:
    return {"events": built.events, "blocks": built.blocks, "load_seconds": round(built.seconds, 2),
            "index_seconds": round(built.seconds_indexes, 2),
            "events_per_s": round(built.events / (built.seconds + built.seconds_indexes))}
