"""POST /v1/events against the real broker: 202 + ids, 400, 413, 422 with paths and rules, 503 + Retry-After."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chain_anchor.canonical import canonicalize
from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
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


async def test_accepted_events_are_in_the_raw_topic_keyed_by_subject(deployment: Settings) -> None:
    settings = deployment
    batch = events(5)
    async with api_server(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        one = await client.post("/v1/events", json=batch[0])
        many = await client.post("/v1/events", json=batch[1:])
    assert one.status_code == 202 and one.json() == {"accepted_for_validation": [batch[0]["id"]]}
    assert many.status_code == 202 and many.json()["accepted_for_validation"] == [e["id"] for e in batch[1:]]
    records = await read_topic(settings, Topics.from_settings(settings).raw, partitions=6)
    got = {json.loads(r.value)["id"]: r.key.decode() for r in records}
    assert got == {e["id"]: e["subject"] for e in batch}
    by_id = {json.loads(r.value)["id"]: r for r in records}
    for e in batch:  # the record is the signed event itself, in canonical form, with the binding's header
        assert json.loads(by_id[e["id"]].value) == e
        assert by_id[e["id"]].value == canonicalize(e)
        assert dict(by_id[e["id"]].headers)["content-type"] == b"application/cloudevents+json"


async def test_invalid_events_are_refused_with_path_and_rule_and_nothing_is_published(deployment: Settings) -> None:
    settings = deployment
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
        assert r.status_code == 400 and "not strict JSON" in r.json()["detail"]
        assert r.json()["errors"][0]["rule"] == "json"
        huge = {**good, "data": {**good["data"], "padding": "x" * (settings.max_event_bytes + 1)}}
        r = await client.post("/v1/events", json=huge)
        assert r.status_code == 413 and r.json()["errors"][0]["rule"] == "max_event_bytes"
        r = await client.post("/v1/events", content=b"[" + b" " * MAX_REQUEST_BYTES + b"]",
                              headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_broker_gone_means_503_with_retry_after_before_the_kafka_timeout(deployment: Settings,
                                                                                tmp_path: Any) -> None:
    broker = devstack.Broker(devstack.free_port()).start(tmp_path / "tansu.log")
    own = deployment.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers,
                                        "kafka_request_timeout_ms": 60_000})
    await ensure_topics(own)
    try:
        # the client gives up long before the 60 s Kafka timeout: only the gateway's own deadline answers in time
        async with api_server(own) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            assert (await client.post("/v1/events", json=events(1)[0])).status_code == 202
            broker.stop()
            r = await client.post("/v1/events", json=events(2)[1])
            again = await client.post("/v1/events", json=events(3)[2])
    finally:
        broker.stop()
    assert r.status_code == 503 and r.headers["retry-after"].isdigit()
    assert "acknowledgement" in r.json()["detail"] or "did not accept" in r.json()["detail"]
    assert again.status_code == 503 and again.headers["retry-after"].isdigit()


def _hostile_bodies() -> list[tuple[str, bytes, int, str, str]]:
    good = canonicalize(events(9)[8])
    event = json.loads(good)
    digits = good.replace(b'"data":{', b'"data":{"big":' + b"9" * 5000 + b",", 1)
    surrogate = good.replace(f'"subject":"{event["subject"]}"'.encode(), b'"subject":"\\ud800"', 1)
    duplicate = good.replace(b'"source":', b'"source":"/participants/mine-other","source":', 1)
    return [
        ("5000-digit integer", digits, 400, "/data/big", "integer-too-long"),
        ("depth 3000", b"[" * 3000 + b"]" * 3000, 400, "/0" * 32, "too-deep"),
        ("depth 100000", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400, "/a" * 32, "too-deep"),
        ("lone surrogate", surrogate, 400, "/subject", "lone-surrogate"),
        ("duplicate source", duplicate, 400, "/source", "duplicate-key"),
        ("an event inside a JSON string", json.dumps(good.decode()).encode(), 422, "", "not_object"),
        ("not UTF-8", good.replace(b'"specversion"', b'"spec\xffversion"', 1), 400, "", "utf-8"),
    ]


async def test_hostile_bodies_are_refused_with_path_and_rule_and_nothing_is_published(deployment: Settings) -> None:
    hostile = _hostile_bodies()
    raw_topic = Topics.from_settings(deployment).raw
    before = len(await read_topic(deployment, raw_topic, partitions=6))
    async with api_server(deployment) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        for name, body, status, path, rule in hostile:
            r = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
            assert r.status_code == status, (name, r.text[:300])
            errors = r.json()["errors"]
            assert [(e["path"], e["rule"]) for e in errors] == [(path, rule)], name
    assert len(await read_topic(deployment, raw_topic, partitions=6)) == before


async def test_bad_signature_unknown_key_and_unknown_participant_are_422_naming_the_rule(
        deployment: Settings) -> None:
    base = events(12)[9:12]
    bad_sig = dict(base[0])
    sig = str(bad_sig["signature"])
    bad_sig["signature"] = ("B" if sig[0] != "B" else "C") + sig[1:]
    stranger = Signer.from_seed(b"\x42" * 32)
    unknown_key = sign_event({k: v for k, v in base[1].items() if k not in ("signature", "sigkeyid")}, stranger)
    unknown_participant = sign_event(
        {**{k: v for k, v in base[2].items() if k not in ("signature", "sigkeyid")},
         "source": "/participants/mine-nobody"}, stranger)
    raw_topic = Topics.from_settings(deployment).raw
    before = len(await read_topic(deployment, raw_topic, partitions=6))
    async with api_server(deployment) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = [await client.post("/v1/events", json=e) for e in (bad_sig, unknown_key, unknown_participant)]
        mixed = await client.post("/v1/events", json=[events(13)[12], bad_sig])
    got = [(a.status_code, [(e["path"], e["rule"]) for e in a.json()["errors"]]) for a in answers]
    assert got == [(422, [("/signature", "bad_signature")]), (422, [("/sigkeyid", "unknown_key")]),
                   (422, [("/source", "unknown_participant")])]
    assert mixed.status_code == 422 and [(e["index"], e["rule"]) for e in mixed.json()["errors"]] == [
        (1, "bad_signature")]
    assert len(await read_topic(deployment, raw_topic, partitions=6)) == before


async def test_too_many_requests_in_progress_are_shed_with_503_and_retry_after(deployment: Settings) -> None:
    own = deployment.model_copy(update={"gateway_max_in_flight": 1})
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"["
        await release.wait()
        yield canonicalize(events(14)[13]) + b"]"

    async with api_server(own) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        def slow_post() -> asyncio.Task[httpx.Response]:
            return asyncio.create_task(client.post("/v1/events", content=slow_body(),
                                                   headers={"content-type": "application/json"}))

        first = slow_post()
        shed = None
        for _ in range(200):  # until the slow request holds the only slot and another one is shed
            if first.done():  # it arrived while a probe held the slot and was itself shed: send it again
                first = slow_post()
            await asyncio.sleep(0.05)
            probe = await client.post("/v1/events", json=events(15)[14])
            if probe.status_code == 503 and not first.done():
                shed = probe
                break
        release.set()
        done = await first
    assert shed is not None and shed.status_code == 503
    assert shed.headers["retry-after"].isdigit() and "overloaded" in shed.json()["detail"]
    assert done.status_code == 202


async def test_a_late_event_loop_sheds_new_requests_when_the_process_is_busy_with_them(deployment: Settings) -> None:
    """Requests waiting unread in their sockets are invisible to the in-flight count; the loop's lateness is
    not: the gateway measures it, and sheds while it is over the limit and sustained, requests are in progress
    and the process is busy (a late loop in an idle process is a host short of CPU: shedding would not help)."""
    import time

    from services.api.intake import LAG_SHED_MIN_IN_FLIGHT, LAG_SHED_MIN_LATE_TICKS, Intake, Overloaded

    own = deployment.model_copy(update={"gateway_max_loop_lag_ms": 50})
    intake = Intake(own, None, None, None)  # admission needs no producer
    await intake.start()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # the event loop is held up once
        while not intake.late_ticks:
            await asyncio.sleep(0)
        assert intake.loop_lag_s > 0.05  # measured
        assert not intake.sustained  # one stall (the host's, or a long turn) is not a backlog
        for _ in range(LAG_SHED_MIN_LATE_TICKS - 1):  # held up again and again: a process that cannot keep up
            time.sleep(0.1)
            ticks = len(intake.late_ticks)
            while len(intake.late_ticks) == ticks:
                await asyncio.sleep(0)
        assert len(intake.late_ticks) >= LAG_SHED_MIN_LATE_TICKS and intake.sustained
    finally:
        await intake.stop()
    intake.loop_lag_s, intake.busy = 0.2, 0.9  # late and busy, as under a burst it cannot keep up with
    intake.in_flight = LAG_SHED_MIN_IN_FLIGHT - 1
    intake.admit()  # with a handful of requests in progress the lateness is not their doing
    assert intake.in_flight == LAG_SHED_MIN_IN_FLIGHT
    with pytest.raises(Overloaded, match=r"waiting \d+ ms to be read"):
        intake.admit()
    assert intake.in_flight == LAG_SHED_MIN_IN_FLIGHT  # a shed request is not counted in
    intake.busy = 0.1  # late but idle: another process has the CPU
    intake.admit()
    intake.busy, intake.loop_lag_s = 0.9, 0.01  # busy but on time
    intake.admit()
    intake.loop_lag_s, intake.sustained = 0.2, False  # late and busy, but after a single stall
    intake.admit()
    assert intake.in_flight == LAG_SHED_MIN_IN_FLIGHT + 3
