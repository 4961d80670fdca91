"""``proofs``: inclusion and consistency proof latency through the HTTP API on large ledgers.

For each size (default 1 M and 10 M events; ``--quick``: 10 k and 100 k) a ledger is built with
:mod:`bench.ledger` from the simulator's events used as templates (each leaf gets a fresh unique event id,
so the publisher signatures of those copies no longer verify — proofs do not look at them). Then
``coalchain api`` (uvicorn, ``services.api.app.create_app``) runs as a child process on 127.0.0.1 and an
``httpx.AsyncClient`` (one keep-alive connection, requests one after another) asks for:

* ``GET /v1/proofs/inclusion?event_id=`` — random leaves, against the latest tree size;
* ``GET /v1/proofs/consistency?first=&second=`` — random pairs of tree sizes.

Latency is client-side wall time per request. Every proof returned is verified afterwards with
``chain_anchor.merkle`` against the roots it came with (outside the timing). Floors, same run:
``GET /v1/blocks/latest`` (HTTP + one query) and the same proof computed in this process straight from the
store (no HTTP).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.ceilings import Ceilings
from bench.common import Ceiling, Result, console, latency_summary
from bench.events import event_file
from bench.ledger import build_ledger, templated, templated_id
from bench.scenarios import Options
from bench.stack import Stack, stack
from chain_anchor.merkle import verify_consistency, verify_inclusion
from services import db, devstack
from services.keyfiles import sequencer_signer
from services.store import proofs
from services.store.postgres import LedgerStore

NAME = "proofs"
DESCRIPTION = "inclusion and consistency proof latency through the API (uvicorn) at 1 M and 10 M events"
TEMPLATES = 20_000


def leaf_id(i: int) -> str:
    """The event id :func:`bench.ledger.templated` gave leaf ``i``."""
    return templated_id(i)


async def timed(n: int, call: Callable[[int], Awaitable[Any]]) -> tuple[list[float], list[Any]]:
    lat, out = [], []
    for i in range(n):
        t0 = time.perf_counter()
        out.append(await call(i))
        lat.append(time.perf_counter() - t0)
    return lat, out


async def run(opts: Options, ceilings: Ceilings) -> Result:
    sizes = opts.sizes or ([10_000, 100_000] if opts.quick else [1_000_000, 10_000_000])
    requests = opts.requests or (300 if opts.quick else 2_000)
    events = event_file(min(TEMPLATES, max(sizes)), opts.seed)
    templates = list(events.records(min(TEMPLATES, max(sizes))))
    result = Result(NAME, {"sizes": sizes, "requests_per_kind": requests, "event_source": events.source,
                           "server": "coalchain api (uvicorn, 1 worker) on 127.0.0.1, separate process",
                           "client": "httpx.AsyncClient, 1 keep-alive connection, sequential requests",
                           "ledger_built_by": "bench.ledger (sequencer sealing code, bulk COPY), template leaves"})
    for size in sizes:
        async with stack(NAME) as st:
            await _one_size(st, opts, result, templates, size, requests)
            for k, v in st.peak_rss().items():
                result.peak_rss_bytes[f"{k} @ {size:,}"] = v
    result.notes.append("target: inclusion proof <= 5 ms p99 at 10 M events")
    return result


async def _one_size(st: Stack, opts: Options, result: Result, templates: list[Any], size: int,
                    requests: int) -> None:
    console.print(f"building a ledger of {size:,} events")
    built = await build_ledger(st.settings, sequencer_signer(st.settings), templated(templates, size), size)
    result.details[f"build_{size}"] = {"blocks": built.blocks, "load_seconds": round(built.seconds, 1),
                                      "index_seconds": round(built.seconds_indexes, 1)}
    port = devstack.free_port()
    st.spawn("api", "api", "--host", "127.0.0.1", "--port", str(port))
    rng = random.Random(opts.seed + size)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        await _wait_ready(st, client)
        async with st.sampling():
            figures = await _measure(st, client, rng, size, requests)
    label = _label(size)
    floors = [f"floor_latest_p99_ms_{size}", f"floor_store_inclusion_p99_ms_{size}"]
    for kind, summary in figures.items():
        if kind.startswith("floor"):
            key = f"{kind}_p99_ms_{size}"
            result.ceilings[key] = Ceiling(key, f"{summary['title']} @ {label}", summary["p99_ms"], "ms",
                                           summary["how"])
            continue
        for q in ("p50", "p95", "p99", "max"):
            result.add(f"{kind}_{q}_ms_{size}", f"{kind} proof {q} @ {label}", summary[f"{q}_ms"], "ms",
                       vs=floors if q == "p99" else [], higher_is_better=False, headline=q == "p99")
    result.details[f"latency_{size}"] = figures


def _label(size: int) -> str:
    return f"{size / 1e6:g} M" if size >= 1_000_000 else f"{size / 1e3:g} k"


async def _wait_ready(st: Stack, client: httpx.AsyncClient, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st.check_children()
        try:
            if (await client.get("/v1/blocks/latest")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the API did not answer in {timeout_s} s:\n{st.log_tail('api')}")


async def _measure(st: Stack, client: httpx.AsyncClient, rng: random.Random, size: int,
                   requests: int) -> dict[str, Any]:
    head = (await client.get("/v1/blocks/latest")).json()["header"]["tree_size"]
    leaves = [rng.randrange(size) for _ in range(requests)]
    pairs = [tuple(sorted((rng.randrange(1, head + 1), rng.randrange(1, head + 1)))) for _ in range(requests)]

    async def inclusion(i: int) -> Any:
        r = await client.get("/v1/proofs/inclusion", params={"event_id": leaf_id(leaves[i])})
        r.raise_for_status()
        return r.json()

    async def consistency(i: int) -> Any:
        r = await client.get("/v1/proofs/consistency", params={"first": pairs[i][0], "second": pairs[i][1]})
        r.raise_for_status()
        return r.json()

    async def latest(_: int) -> Any:
        return (await client.get("/v1/blocks/latest")).status_code

    for call in (inclusion, consistency, latest):  # warm-up: connections, caches, code paths
        await timed(min(50, requests), call)
    out: dict[str, Any] = {}
    lat, answers = await timed(requests, inclusion)
    out["inclusion"] = {**latency_summary(lat), "bad_proofs": _check_inclusion(answers)}
    lat, answers = await timed(requests, consistency)
    out["consistency"] = {**latency_summary(lat), "bad_proofs": _check_consistency(answers)}
    lat, _ = await timed(requests, latest)
    out["floor_latest"] = {**latency_summary(lat), "title": "GET /v1/blocks/latest p99 (HTTP + 1 query)",
                           "how": "same server and client, same run"}
    out["floor_store_inclusion"] = await _store_floor(st, leaves, head, requests)
    for kind in ("inclusion", "consistency"):
        if out[kind]["bad_proofs"]:
            raise RuntimeError(f"{out[kind]['bad_proofs']} {kind} proofs did not verify")
    return out


async def _store_floor(st: Stack, leaves: list[int], head: int, requests: int) -> dict[str, Any]:
    pool = await db.create_pool(st.settings, min_size=1, max_size=1)
    try:
        store = LedgerStore(pool)

        async def call(i: int) -> Any:
            return await proofs.inclusion(store, index=leaves[i], tree_size=head)

        await timed(min(50, requests), call)
        lat, _ = await timed(requests, call)
    finally:
        await pool.close()
    return {**latency_summary(lat), "title": "inclusion proof from the store, no HTTP, p99",
            "how": "services.store.proofs.inclusion in the benchmark process (asyncpg pool of 1)"}


def _check_inclusion(answers: list[Any]) -> int:
    bad = 0
    for a in answers:
        try:
            verify_inclusion(leaf_hash=bytes.fromhex(a["leaf_hash"]), index=a["leaf_index"], tree_size=a["tree_size"],
                             proof=[bytes.fromhex(p) for p in a["proof"]], root=bytes.fromhex(a["root"]))
        except ValueError:
            bad += 1
    return bad


def _check_consistency(answers: list[Any]) -> int:
    bad = 0
    for a in answers:
        try:
            verify_consistency(size1=a["first"], size2=a["second"], root1=bytes.fromhex(a["first_root"]),
                               root2=bytes.fromhex(a["second_root"]), proof=[bytes.fromhex(p) for p in a["proof"]])
        except ValueError:
            bad += 1
    return bad
