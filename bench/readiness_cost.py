"""``python -m bench.readiness_cost [--calls N]``: what one ``readiness()`` poll costs (``/healthz``, ``coalchain
status``), wall time and this process's CPU time (/proc, via ``time.process_time``), median of N calls.

Its own tansu broker and a fresh database on the test PostgreSQL (``COALCHAIN_TEST_PG``, default 127.0.0.1:5432),
dropped afterwards. Two states: *idle* (every record validated and sealed: nothing to scan) and *stalled*
(1,000 raw records no validator took and 20 verdict records of 100 events each no sequencer sealed, older than
the limits: the checks read the first waiting records and the accepted topic's tail).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from chain_anchor.events import leaf_bytes, sign_event
from chain_anchor.keys import Signer
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services import devstack, health
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics, ensure_topics
from services.keyfiles import ensure_development_validator
from services.pipeline_health import check_pipeline
from services.store.migrate import create_database, drop_database

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _event(signer: Signer, n: int) -> dict[str, object]:
    return sign_event({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/participants/bench",
                       "type": "cn.taijiao.coal.test.Probed.v1", "subject": f"s-{n % 7}",
                       "time": "2026-11-01T08:00:00Z", "datacontenttype": "application/json",
                       "data": {"n": n}}, signer)


async def _measure(settings: Settings, calls: int) -> str:
    """Median wall and CPU of readiness(), and of its sealing/validation part alone."""
    out = []
    for what in ("readiness()", "sealing+validation alone"):
        walls, cpus, ok = [], [], True
        for _ in range(calls):
            w, c = time.perf_counter(), time.process_time()
            if what == "readiness()":
                ok = (await health.readiness(settings)).ok
            else:
                p = await check_pipeline(settings)
                ok = p.sealing.ok and p.validation.ok
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        out.append(f"{what}: {statistics.median(walls) * 1000:.1f} ms wall, {statistics.median(cpus) * 1000:.1f} ms"
                   f" CPU (ok={ok})")
    return f"median of {calls}: " + "; ".join(out)


async def main(calls: int, admin: str) -> None:
    broker = devstack.Broker(devstack.free_port()).start()
    name = f"cc_bench_ready_{uuid.uuid4().hex[:8]}"
    try:
        settings = Settings(DATABASE_URL=await create_database(admin, name),
                            kafka_bootstrap_servers=broker.bootstrap_servers, kafka_topic_prefix="b.",
                            home=Path(tempfile.mkdtemp(prefix="coalchain-bench-")),
                            health_sealing_stall_s=0.5, health_validation_stall_s=0.5)
        await ensure_topics(settings)
        print("idle:   ", await _measure(settings, calls))
        signer, validator = Signer.from_seed(b"\x07" * 32), ensure_development_validator(settings)
        topics = Topics.from_settings(settings)
        producer = clients.producer(settings)
        await producer.start()
        try:
            for n in range(1000):
                await producer.send(topics.raw, to_bytes(_event(signer, n)), key=f"s-{n % 7}".encode())
            for r in range(20):
                entries = [VerdictEntry(0, r * 100 + i, leaf_bytes(_event(signer, i))) for i in range(100)]
                await producer.send(topics.accepted, encode_verdict(entries, "2026-11-01T00:00:00Z", validator))
            await producer.flush()
        finally:
            await producer.stop()
        await asyncio.sleep(1.0)  # older than the limits
        print("stalled:", await _measure(settings, calls))
    finally:
        broker.stop()
        await drop_database(admin, name)


def to_bytes(envelope: dict[str, object]) -> bytes:
    from services.simulator import to_json_bytes

    return to_json_bytes(envelope)


if __name__ == "__main__":
    import os

    p = argparse.ArgumentParser(prog="python -m bench.readiness_cost")
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args()
    asyncio.run(main(args.calls, os.environ.get("COALCHAIN_TEST_PG", ADMIN)))
