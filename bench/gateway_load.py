"""Open-loop load on ``POST /v1/events``: one signed event per request, at a fixed offered rate.

    python -m bench.gateway_load --rate 1000 --seconds 10        # offered 1,000/s for 10 s
    python -m bench.gateway_load --rate 2000 --seconds 10        # above the target: what is sustained?

Runs against its own stack (bench/stack.py: a fresh tansu broker, a fresh database, the API as a child
process on a free loopback port); only loopback. Request *i* is due at ``t0 + i / rate`` whether or not
earlier ones have been answered (open loop: no coordinated omission); its latency is measured from when it
was due. Keep-alive HTTP/1.1 connections are opened as needed (at most ``--connections``); a request that
finds none free waits for one, and that wait counts in its latency. Bounded: at most ``--seconds`` of
offered load (≤ 120) and ``rate × seconds`` ≤ 200,000 events, plus a drain of at most 10 s.

Prints offered/s, answered 202/s over the offered window, status counts, latency p50/p90/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.common import console, latency_summary
from bench.events import event_file
from bench.stack import stack
from services.devstack import free_port

MAX_SECONDS = 120
MAX_EVENTS = 200_000
DRAIN_S = 10.0


@dataclass
class Outcome:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_answer: float = 0.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


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
        reader, writer = await asyncio.open_connection(self.host, self.port)
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


async def offer(pool: Pool, requests: list[bytes], rate: float, out: Outcome) -> float:
    """Send ``requests`` open-loop at ``rate``; return the offered window's length in seconds."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2
    tasks: set[asyncio.Task[None]] = set()

    async def one(request: bytes, due: float) -> None:
        conn: Connection | None = None
        try:
            conn = await pool.acquire()
            status = await conn.post(request)
            out.statuses[status] += 1
            now = loop.time()
            out.latencies_s.append(now - due)
            out.last_answer = now
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            out.errors[type(e).__name__] += 1
            if conn is not None:
                conn.writer.close()
            conn = None
        finally:
            await pool.release(conn)

    for i, request in enumerate(requests):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(request, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    window = len(requests) / rate
    if tasks:
        await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in tasks:
        task.cancel()
    return window


async def run(rate: float, seconds: float, connections: int) -> int:
    count = int(rate * seconds)
    events = event_file(count)
    async with stack("gateway-load") as s:
        s.write_genesis(events.genesis)
        port = free_port()
        s.spawn("api", "api", "--port", str(port))
        host = "127.0.0.1"
        bodies = [request_bytes(host, port, r.value) for r in events.records(count)]
        deadline = time.monotonic() + 60
        while True:  # until the API answers
            s.check_children()
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection(host, port)
                w.close()
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start in 60 s")
            await asyncio.sleep(0.2)
        pool = Pool(host, port, connections)
        out = Outcome()
        console.print(f"offering {rate:,.0f} POST/s for {seconds:g} s ({count:,} single-event requests)")
        window = await offer(pool, bodies, rate, out)
        pool.close()
    accepted = out.statuses.get(202, 0)
    lat = latency_summary(out.latencies_s) if out.latencies_s else {}
    console.print(f"offered {rate:,.0f}/s; answered 202: {accepted:,} = {accepted / window:,.0f}/s over the "
                  f"{window:g} s window; statuses {dict(out.statuses)}; errors {dict(out.errors)}")
    if lat:
        console.print("latency from due time: " + ", ".join(f"{k} {v:,.1f}" for k, v in lat.items() if k != "count"))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gateway_load", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=1000.0, help="offered requests per second (default 1000)")
    p.add_argument("--seconds", type=float, default=10.0, help=f"offered window (default 10, max {MAX_SECONDS})")
    p.add_argument("--connections", type=int, default=256, help="most keep-alive connections (default 256)")
    args = p.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS or args.rate <= 0 or args.rate * args.seconds > MAX_EVENTS:
        p.error(f"0 < seconds ≤ {MAX_SECONDS}, rate > 0 and rate × seconds ≤ {MAX_EVENTS:,}")
    return asyncio.run(run(args.rate, args.seconds, args.connections))


if __name__ == "__main__":
    sys.exit(main())
