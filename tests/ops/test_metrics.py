"""/metrics of the real service processes: names exist, and values move under load.

Runs `coalchain validator`, `sequencer`, `views` and `api` as processes (each with its own metrics port; the
API serves /metrics itself) against the real broker and PostgreSQL, scrapes them, publishes signed events
(and one with a broken signature), and scrapes again.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services import devstack
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.simulator import SimConfig, genesis, simulate, to_json_bytes, write_genesis
from tests.pipeline.conftest import SEED, START
from tests.pipeline.helpers import tree_size, wait_until

pytestmark = pytest.mark.integration

N = 60


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def services(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    home = tmp_path_factory.mktemp("metrics-home")
    write_genesis(home / "genesis.json", genesis(SEED, created=START, ledger_id=settings.ledger_id))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_")}
    env.update(DATABASE_URL=settings.database_url, COALCHAIN_HOME=str(home),
               COALCHAIN_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
               COALCHAIN_KAFKA_TOPIC_PREFIX=settings.kafka_topic_prefix, COALCHAIN_BATCH_TIMEOUT_MS="50",
               COALCHAIN_EVENT_TIME_MAX_PAST_S=str(settings.event_time_max_past_s))  # simulated past days
    ports: dict[str, int] = {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("sequencer", "validator", "views", "api"):
            ports[name] = devstack.free_port()
            argv = ["api", "--port", str(ports[name])] if name == "api" else [name]
            with open(home / f"{name}.log", "wb") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "services.cli", *argv], stdout=out,
                                              stderr=subprocess.STDOUT,
                                              env={**env, "COALCHAIN_METRICS_PORT": str(ports[name])}))
        for port in ports.values():
            devstack.wait_for_port("127.0.0.1", port, timeout_s=60)
            scrape(port)
        yield ports
    finally:
        for p in procs:
            devstack.stop_process(p, "metrics test child", timeout_s=20)


async def _publish(settings: Settings) -> None:
    events = list(itertools.islice(simulate(SimConfig(seed=SEED, start=START, time_compression=1440)), N))
    broken = {**events[0], "id": "0f0f0f0f-0000-4000-8000-000000000001"}  # signature no longer matches
    producer = clients.producer(settings)
    await producer.start()
    try:
        raw = Topics.from_settings(settings).raw
        futs = [await producer.send(raw, to_json_bytes(e), key=str(e["subject"]).encode()) for e in [*events, broken]]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def test_metrics_names_and_values_move_under_load(settings: Settings, services: dict[str, int]) -> None:
    before = {name: scrape(port) for name, port in services.items()}
    assert value(before["validator"], "coalchain_events_accepted_total") == 0
    await _publish(settings)

    async def sealed() -> bool:
        return await tree_size(settings.database_url) >= N

    await wait_until(sealed, timeout_s=90, what=f"{N} events sealed")

    async def viewed() -> bool:
        return value(scrape(services["views"]), "coalchain_seal_to_view_seconds_count") > 0

    await wait_until(viewed, timeout_s=60, what="the views folding a block")
    with urllib.request.urlopen(f"http://127.0.0.1:{services['api']}/v1/blocks/latest", timeout=5) as r:
        assert r.status == 200
    time.sleep(0.6)  # the validator's lag gauge is set after its next fetch
    after = {name: scrape(port) for name, port in services.items()}

    v, s = after["validator"], after["sequencer"]
    assert value(v, "coalchain_events_accepted_total") == N
    rejected = {dict(labels)["reason"]: n for (name, labels), n in v.items()
                if name == "coalchain_events_rejected_total"}
    assert sum(rejected.values()) == 1, rejected
    assert value(s, "coalchain_events_sealed_total") == N
    assert value(s, "coalchain_blocks_sealed_total") >= 1
    assert value(s, "coalchain_ledger_height") == value(s, "coalchain_blocks_sealed_total") - 1
    assert value(s, "coalchain_publish_to_sealed_seconds_count") == N
    assert value(after["views"], "coalchain_seal_to_view_seconds_count") >= 1
    lag = [n for (name, labels), n in v.items() if name == "coalchain_consumer_lag"
           and dict(labels)["group"] == "coalchain-validators"]
    assert lag == [0.0], "the validator read everything published"
    assert value(s, "coalchain_consumer_lag", group="coalchain-sequencer",
                 topic=Topics.from_settings(settings).accepted) >= 0
    api = after["api"]
    assert value(api, "coalchain_http_requests_total", method="GET", route="/v1/blocks/latest", status="200") == 1
    for proc_samples in after.values():  # the error counters exist in every process, and nothing failed
        assert value(proc_samples, "coalchain_database_errors_total") == 0
