"""POST /v1/events against the real broker: 202 + ids, 400, 413, 422 with paths and rules, 503 + Retry-After."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from services import devstack
from services.api.routes.gateway import MAX_REQUEST_BYTES
from services.config import Settings
from services.kafka.topics import Topics, ensure_topics
from services.simulator import SimConfig, simulate
from tests.pipeline.conftest import SEED, START
from tests.pipeline.helpers import api_server, read_topic

pytestmark = pytest.mark.integration


def events(n: int) -> list[dict[str, Any]]:
    return list(itertools.islice(simulate(SimConfig(seed=SEED, start=START)), n))


async def test_accepted_events_are_in_the_raw_topic_keyed_by_subject(settings: Settings) -> None:
    batch = events(5)
    async with api_server(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        one = await client.post("/v1/events", json=batch[0])
        many = await client.post("/v1/events", json=batch[1:])
    assert one.status_code == 202 and one.json() == {"accepted_for_validation": [batch[0]["id"]]}
    assert many.status_code == 202 and many.json()["accepted_for_validation"] == [e["id"] for e in batch[1:]]
    records = await read_topic(settings, Topics.from_settings(settings).raw, partitions=6)
    got = {json.loads(r.value)["id"]: r.key.decode() for r in records}
    assert got == {e["id"]: e["subject"] for e in batch}


async def test_invalid_events_are_refused_with_path_and_rule_and_nothing_is_published(settings: Settings) -> None:
    good, bad = events(7)[5:7]
    bad = json.loads(json.dumps(bad))
    bad["time"] = "yesterday"
    bad.pop("subject")
    async with api_server(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        before = len(await read_topic(settings, Topics.from_settings(settings).raw, partitions=6))
        r = await client.post("/v1/events", json=[good, bad])
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert {(e["index"], e["path"]) for e in errors} >= {(1, "/time"), (1, "/subject")}
        assert all(e["rule"] and e["message"] for e in errors)
        assert len(await read_topic(settings, Topics.from_settings(settings).raw, partitions=6)) == before

        r = await client.post("/v1/events", content=b'{"specversion": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not JSON" in r.json()["detail"]
        huge = {**good, "data": {**good["data"], "padding": "x" * (settings.max_event_bytes + 1)}}
        r = await client.post("/v1/events", json=huge)
        assert r.status_code == 413 and r.json()["errors"][0]["rule"] == "max_event_bytes"
        r = await client.post("/v1/events", content=b"[" + b" " * MAX_REQUEST_BYTES + b"]",
                              headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_broker_gone_means_503_with_retry_after(settings: Settings, tmp_path: Any) -> None:
    broker = devstack.Broker(devstack.free_port()).start(tmp_path / "tansu.log")
    own = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers,
                                      "kafka_request_timeout_ms": 1500})
    await ensure_topics(own)
    try:
        async with api_server(own) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
            assert (await client.post("/v1/events", json=events(1)[0])).status_code == 202
            broker.stop()
            r = await client.post("/v1/events", json=events(2)[1])
    finally:
        broker.stop()
    assert r.status_code == 503 and r.headers["retry-after"].isdigit()
