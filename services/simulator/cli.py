"""``coalchain simulate``: simulated 太焦线 traffic to Kafka (default) or to JSON lines.

    coalchain simulate --seed 7 --count 0 --write-genesis .coalchain/genesis.json --write-keys .coalchain/keys
    coalchain simulate --seed 7 --rate 200 --duration-s 60                 # to Kafka, 200 events/s
    coalchain simulate --seed 7 --count 10000 --out events.jsonl           # to a file, as fast as possible
    coalchain simulate --seed 7 --start 2026-11-01T16:00:00Z --realtime --catch-up  # the past at once, then live 1x
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.config import Settings
from services.simulator.kafka import PublishError, publish_kafka
from services.simulator.keys import genesis, write_genesis, write_keys
from services.simulator.output import Bounds, Pacer, write_jsonl
from services.simulator.stream import SimConfig, simulate

__all__ = ["RAW_TOPIC", "configure_parser", "run"]

log = logging.getLogger(__name__)

RAW_TOPIC = "coal.events.v1"


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="seed of the traffic and of the participants' keys (default 0)")
    p.add_argument("--start", type=_instant, default=None,
                   help="event time of the first simulated instant, RFC 3339 (default: now, to the second)")
    p.add_argument("--time-compression", type=float, default=1.0, metavar="FACTOR",
                   help="divide simulated durations by FACTOR: 1440 = a day of traffic per minute of event time. For"
                   " load tests only: several simulated days then share one calendar date (plan dates repeat)")
    p.add_argument("--rate", type=float, default=0.0, metavar="EVENTS_PER_S",
                   help="events per second; 0 = as fast as possible (default)")
    p.add_argument("--realtime", action="store_true",
                   help="release each event when the wall clock has advanced as far as event time (overrides --rate)")
    p.add_argument("--catch-up", action="store_true",
                   help="with --realtime and a --start in the past: send the past at once, then go live")
    p.add_argument("--count", type=int, default=None, help="stop after this many events (0: only write files)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds of wall time")
    p.add_argument("--out", default=None, metavar="-|FILE",
                   help="write JSON lines to FILE or stdout (-) instead of publishing to Kafka")
    p.add_argument("--write-genesis", type=Path, default=None, metavar="PATH",
                   help="write the genesis participant registry (ids, roles, holdings, public keys)")
    p.add_argument("--write-keys", type=Path, default=None, metavar="DIR",
                   help="write every participant's private key as DIR/<id>.pem (demo only)")


def _instant(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from e
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if (args.count is not None and args.count < 0) or args.rate < 0 or args.time_compression <= 0:
        sys.stderr.write("simulate: --count and --rate must not be negative, --time-compression must be positive\n")
        return 2
    start: datetime = args.start or datetime.now(UTC).replace(microsecond=0)
    if args.write_genesis:
        write_genesis(args.write_genesis, genesis(args.seed, created=start, ledger_id=settings.ledger_id))
    if args.write_keys:
        write_keys(args.write_keys, args.seed)
    if args.count == 0:
        return 0
    events = simulate(SimConfig(seed=args.seed, start=start, time_compression=args.time_compression))
    bounds = Bounds(count=args.count, duration_s=args.duration_s)
    pacer = Pacer(rate_per_s=args.rate, realtime=args.realtime,
                  anchor=datetime.now(UTC) if args.catch_up else None)
    if args.out is not None:
        return _to_file(args.out, events, bounds, pacer)
    return _to_kafka(settings, events, bounds, pacer)


def _to_file(out: str, events: Iterator[dict[str, object]], bounds: Bounds, pacer: Pacer) -> int:
    with contextlib.ExitStack() as stack:
        if out == "-":
            target: BinaryIO = sys.stdout.buffer
            on_event = None
        else:
            target = stack.enter_context(Path(out).open("wb"))
            on_event = stack.enter_context(_progress(bounds, f"writing {out}"))
        written = write_jsonl(events, target, bounds=bounds, pacer=pacer, on_event=on_event)
    log.info("wrote %d events to %s", written, "stdout" if out == "-" else out)
    return 0


def _to_kafka(settings: Settings, events: Iterator[dict[str, object]], bounds: Bounds, pacer: Pacer) -> int:
    from aiokafka.errors import KafkaError

    from services.kafka import clients  # only the Kafka path needs the broker client

    if not settings.kafka_bootstrap_servers:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{settings.kafka_port}"})
    topic = settings.topic(RAW_TOPIC)

    async def publish() -> int:
        producer = clients.producer(settings)
        try:
            await producer.start()
        except (KafkaError, OSError) as e:
            raise PublishError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {e}", retriable=True) from e
        try:
            with _progress(bounds, f"publishing to {topic}") as on_event:
                return await publish_kafka(events, producer, topic, bounds=bounds, pacer=pacer, on_event=on_event)
        finally:
            await producer.stop()

    try:
        sent = asyncio.run(publish())
    except PublishError as e:
        sys.stderr.write(f"simulate: {e}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    sys.stderr.write(f"published {sent} events to {topic}\n")
    return 0


@contextlib.contextmanager
def _progress(bounds: Bounds, label: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (when it is a terminal); yields the per-event callback."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    done = [0]
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=bounds.count)

        def advance(n: int) -> None:
            done[0] = n
            if n % 500 == 0:
                progress.update(task, completed=n)

        try:
            yield advance
        finally:
            progress.update(task, completed=done[0])
