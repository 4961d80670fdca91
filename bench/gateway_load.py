"""Open-loop load on ``POST /v1/events``: one signed event per request, at a fixed offered rate, with the
pipeline running as deployed (validators + sequencer), and a check that every 202 ends up sealed.

    python -m bench.gateway_load --rate 1000 --seconds 10        # offered 1,000/s for 10 s
    python -m bench.gateway_load --rate 2000 --seconds 10        # above the target: what is sustained?
    python -m bench.gateway_load --rate 1000 --api-workers 2     # the API as 2 worker processes
    python -m bench.gateway_load --rate 1000 --profile           # py-spy on the API process(es)
    python -m bench.gateway_load --rate 600 --api-env COALCHAIN_GATEWAY_MAX_LOOP_LAG_MS=0  # no shedding

Runs against its own stack (bench/stack.py: a fresh tansu broker, a fresh database, the API, the sequencer
and ``--validators`` validators as child processes, the API on a free loopback port); only loopback.
Request *i* is due at ``t0 + i / rate`` whether or not earlier ones have been answered (open loop: no
coordinated omission); its latency is measured from when it was due. Keep-alive HTTP/1.1 connections are
opened as needed (at most ``--connections``); a request that finds none free waits for one, and that wait
counts in its latency. Bounded: at most ``--seconds`` of offered load (≤ 120) and ``rate × seconds`` ≤
200,000 events, plus a drain of at most 10 s.

Prints: offered/s, answered 202/s over the offered window, status counts, latency p50/p90/p99/max of all
answers and of the 202s, how many refusals (429/503) carried ``Retry-After``, CPU µs per answered POST of
the API process(es) (user + system from ``/proc/<pid>/stat``, worker processes included) and of the other
processes (the broker included: on 2 cores its CPU is what keeps the API's loop waiting for a CPU), and how
many of the 202-answered events are in ``ledger_events`` (sealed) once the pipeline has
drained (at most ``--seal-wait`` s), and of the others how many the validators rejected (``event_rejections``):
"acknowledged means sealed or rejected". The simulator's events are all valid, so when nothing is refused every
202 must be sealed; once some are refused, later events of the same chain (a shipment's arrival after its
refused departure) are rightly rejected by ledger rules. Exit status 1 if a 202 is neither sealed nor rejected.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import asyncpg

from bench.common import RESULTS_DIR, console, percentile
from bench.cpu import cpu_seconds, descendants
from bench.events import event_file
from bench.profile import Profiler, summarize, summary_text
from bench.stack import Stack, stack
from services.devstack import free_port

MAX_SECONDS = 120
MAX_EVENTS = 200_000
DRAIN_S = 10.0
WARMUP_S = 1.0  # offered before the measured window (connections opened, code paths warm); not counted
REFUSED = (429, 503)
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class Outcome:
    latencies_s: list[float] = field(default_factory=list)
    accepted_latencies_s: list[float] = field(default_factory=list)
    refused_latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    refused_with_retry_after: int = 0
    details: Counter[str] = field(default_factory=Counter)  # status + the start of the body, for refusals
    accepted_ids: list[str] = field(default_factory=list)
    last_answer: float = 0.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(self, request: bytes) -> tuple[int, bool, bool, bytes]:
        """Send one request; return (status, Retry-After present, connection still usable, body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        retry_after, keep = False, True
        for line in head.split(b"\r\n"):
            name = line[: line.find(b":")].lower()
            if name == b"content-length":
                length = int(line[15:])
            elif name == b"retry-after":
                retry_after = True
            elif name == b"connection" and b"close" in line.lower():
                keep = False
        body = await self.reader.readexactly(length) if length else b""
        return status, retry_after, keep, body


class Pool:
    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[Connection] = []
        self.opened = 0
        self.freed = asyncio.Condition()

    async def acquire(self) -> Connection:
        async with self.freed:
            while not self.idle and self.opened >= self.limit:
                await self.freed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except BaseException:
            await self.release(None)
            raise
        return Connection(reader, writer)

    async def release(self, conn: Connection | None) -> None:
        async with self.freed:
            if conn is None:
                self.opened -= 1
            else:
                self.idle.append(conn)
            self.freed.notify()

    def close(self) -> None:
        for c in self.idle:
            c.writer.close()


def request_bytes(host: str, port: int, body: bytes) -> bytes:
    return (f"POST /v1/events HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def offer(pool: Pool, requests: list[tuple[str, bytes]], rate: float, sink: Outcome) -> float:
    """Send ``requests`` (event id, bytes) open-loop at ``rate``; return the offered window's length in
    seconds."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05
    tasks: set[asyncio.Task[None]] = set()

    async def one(event_id: str, request: bytes, due: float) -> None:
        conn: Connection | None = None
        try:
            conn = await pool.acquire()
            status, retry_after, keep, body = await conn.post(request)
            now = loop.time()
            sink.statuses[status] += 1
            sink.latencies_s.append(now - due)
            if status == 202:
                sink.accepted_ids.append(event_id)
                sink.accepted_latencies_s.append(now - due)
            elif status in REFUSED:
                sink.refused_latencies_s.append(now - due)
                sink.refused_with_retry_after += retry_after
            if status != 202:
                sink.details[f"{status} {_DIGITS.sub('N', body[:90].decode(errors='replace'))}"] += 1
            sink.last_answer = now
            if not keep:
                conn.writer.close()
                conn = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            sink.errors[type(e).__name__] += 1
            if conn is not None:
                conn.writer.close()
            conn = None
        finally:
            await pool.release(conn)

    for i, (event_id, request) in enumerate(requests):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(event_id, request, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    window = len(requests) / rate
    if tasks:
        await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in tasks:
        task.cancel()
    return window


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


async def wait_sealed(st: Stack, ids: list[str], timeout_s: float) -> tuple[int, Counter[str]]:
    """Wait until every id is in ``ledger_events`` (or the timeout); return how many are sealed, and the
    rejections (reason → count, from the API's ``event_rejections``) of the others."""
    wanted = [uuid.UUID(i) for i in ids]
    conn = await asyncpg.connect(st.settings.database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            sealed = int(await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = ANY($1::uuid[])",
                                             wanted))
            rows = await conn.fetch("SELECT reason, count(DISTINCT event_id) AS n FROM event_rejections"
                                    " WHERE event_id = ANY($1::uuid[]) GROUP BY reason", wanted)
            rejected = Counter({r["reason"]: int(r["n"]) for r in rows})
            if sealed + sum(rejected.values()) >= len(wanted) or time.monotonic() > deadline:
                return sealed, rejected
            st.check_children()
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def wait_listening(st: Stack, host: str, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:  # until the API answers
        st.check_children()
        with contextlib.suppress(OSError):
            _, w = await asyncio.open_connection(host, port)
            w.close()
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start in 60 s")
        await asyncio.sleep(0.2)


def _ms(xs: list[float]) -> str:
    if not xs:
        return "none"
    xs = sorted(xs)
    return ", ".join(f"{k} {percentile(xs, q) * 1000:,.1f}" for k, q in (("p50", 50), ("p90", 90), ("p99", 99))) + (
        f", max {xs[-1] * 1000:,.1f} ms")


async def run(args: argparse.Namespace) -> int:
    rate, seconds = args.rate, args.seconds
    warm = int(rate * WARMUP_S)
    count = int(rate * seconds)
    events = event_file(warm + count)
    async with stack("gateway-load") as s:
        s.write_genesis(events.genesis)
        s.spawn("sequencer", "sequencer")
        for i in range(args.validators):
            s.spawn(f"validator-{i}", "validator")
        port = free_port()
        api_argv = ["api", "--port", str(port)]
        if args.api_workers:
            api_argv += ["--workers", str(args.api_workers)]
        api_env = dict(kv.split("=", 1) for kv in args.api_env)
        base_env = s.child_env
        with mock.patch.object(s, "child_env", lambda: {**base_env(), **api_env}):
            api = s.spawn("api", *api_argv)
        host = "127.0.0.1"
        records = list(events.records(warm + count))
        bodies = [(r.event_id, request_bytes(host, port, r.value)) for r in records]
        await wait_listening(s, host, port)
        await asyncio.sleep(1.0 if args.api_workers and args.api_workers > 1 else 0.2)  # every worker up
        api_pids = descendants(api.pid)
        others = {name: descendants(p.pid) for name, p in s.children.items() if name != "api"}
        if s.broker.process is not None:  # the broker shares the host's cores: its CPU is the API's weather
            others["tansu broker"] = [s.broker.process.pid]
        pool = Pool(host, port, args.connections)
        out = Outcome()
        console.print(f"api pids {api_pids}; warm-up {warm:,} requests, then offering {rate:,.0f} POST/s for"
                      f" {seconds:g} s ({count:,} single-event requests)")
        warm_out = Outcome()
        await offer(pool, bodies[:warm], rate, warm_out)
        profiler = Profiler(args.profile_dir, "gateway-load") if args.profile else None
        if profiler:
            for i, p in enumerate(api_pids):
                profiler.attach("api" if i == 0 else f"api-worker-{i}", p)
        cpu0, own0 = cpu_of(api_pids), cpu_seconds(os.getpid()) or 0.0
        others0 = {n: cpu_of(p) for n, p in others.items()}
        window = await offer(pool, bodies[warm:], rate, out)
        cpu1, own1 = cpu_of(api_pids), cpu_seconds(os.getpid()) or 0.0
        others1 = {n: cpu_of(p) for n, p in others.items()}
        profiles = profiler.stop() if profiler else {}
        pool.close()
        ids = warm_out.accepted_ids + out.accepted_ids  # every 202 must be sealed, warm-up too
        sealed, rejected = await wait_sealed(s, ids, args.seal_wait)
    answered = sum(out.statuses.values())
    accepted = out.statuses.get(202, 0)
    refused = sum(out.statuses.get(c, 0) for c in REFUSED)
    console.print(f"offered {rate:,.0f}/s for {window:g} s; answered {answered:,}; 202: {accepted:,} ="
                  f" {accepted / window:,.0f}/s over the window; statuses {dict(sorted(out.statuses.items()))};"
                  f" errors {dict(out.errors)}")
    console.print(f"latency from due time, all answers: {_ms(out.latencies_s)}")
    if set(warm_out.statuses) - {202}:  # refusals in the warm-up also break chains (ledger-rule rejections)
        console.print(f"warm-up statuses (not counted above): {dict(sorted(warm_out.statuses.items()))}")
    console.print(f"latency from due time, 202s: {_ms(out.accepted_latencies_s)}")
    if refused:
        console.print(f"refused (429/503): {refused:,}, {out.refused_with_retry_after:,} with Retry-After;"
                      f" latency {_ms(out.refused_latencies_s)}")
    if answered:
        console.print(f"CPU of the API process(es) {api_pids}: {(cpu1 - cpu0) * 1e6 / answered:,.0f} µs per"
                      f" answered POST ({cpu1 - cpu0:.2f} s over {window:g} s = {(cpu1 - cpu0) / window:.2f} cores)")
        console.print("CPU of the rest, µs per answered POST: " + ", ".join(
            f"{n} {(others1[n] - others0[n]) * 1e6 / answered:,.0f}" for n in others)
            + f", this load generator {(own1 - own0) * 1e6 / answered:,.0f}")
    if out.details:
        console.print("refusals: " + "; ".join(f"{n:,} × {d}" for d, n in out.details.most_common(5)))
    lost = len(ids) - sealed - sum(rejected.values())
    console.print(f"sealed: {sealed:,} of the {len(ids):,} events answered 202 (warm-up included)"
                  + (f"; rejected by the validators: {dict(rejected)}" if rejected else "")
                  + (f" — [red]{lost:,} neither sealed nor rejected within {args.seal_wait:g} s[/red]" if lost else ""))
    if rejected and out.details:
        console.print("(the simulator's events form chains — a shipment's arrival follows its departure — so once"
                      " some requests are refused, later events of the same chain fail the validators' ledger"
                      " rules: acknowledged means sealed or rejected)")
    for name, path in profiles.items():
        text = summary_text(name, summarize(path))
        out_path = path.with_name(path.name.replace(".folded.txt", ".summary.txt"))
        out_path.write_text(text, encoding="utf-8")
        console.print(f"profile {name}: {path} (summary {out_path})")
        console.print("\n".join(text.splitlines()[:40]))
    return 1 if lost else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gateway_load", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=1000.0, help="offered requests per second (default 1000)")
    p.add_argument("--seconds", type=float, default=10.0, help=f"offered window (default 10, max {MAX_SECONDS})")
    p.add_argument("--connections", type=int, default=256, help="most keep-alive connections (default 256)")
    p.add_argument("--validators", type=int, default=2, help="validator processes (default 2)")
    p.add_argument("--api-workers", type=int, default=0,
                   help="pass --workers N to `coalchain api` (default: its own default, COALCHAIN_API_WORKERS)")
    p.add_argument("--api-env", action="append", default=[], metavar="COALCHAIN_NAME=VALUE",
                   help="a setting for the API process only, e.g. COALCHAIN_GATEWAY_MAX_LOOP_LAG_MS=0 (no shedding"
                        " by loop lateness: every request is checked and published, so CPU per POST compares)")
    p.add_argument("--seal-wait", type=float, default=60.0, help="seconds to wait for the 202s to be sealed")
    p.add_argument("--profile", action="store_true", help="py-spy on the API process(es) during the window")
    p.add_argument("--profile-dir", type=Path, default=RESULTS_DIR / "profiles", help="where profiles go")
    args = p.parse_args(argv)
    if any("=" not in kv or not kv.startswith("COALCHAIN_") for kv in args.api_env):
        p.error("--api-env takes COALCHAIN_NAME=VALUE")
    if not 0 < args.seconds <= MAX_SECONDS or args.rate <= 0 or args.rate * (args.seconds + WARMUP_S) > MAX_EVENTS:
        p.error(f"0 < seconds ≤ {MAX_SECONDS}, rate > 0 and rate × (seconds + 1) ≤ {MAX_EVENTS:,}")
    try:
        import uvloop  # the load generator must not be the bottleneck: uvloop when it is installed
    except ImportError:
        return asyncio.run(run(args))
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
