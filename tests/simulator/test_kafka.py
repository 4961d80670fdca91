"""Publishing simulated events to the real (tansu) broker: key = subject, value = the envelope JSON."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest
from aiokafka.structs import ConsumerRecord

import schemas
from services import devstack
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import ensure_topics
from services.simulator import SimConfig, simulate, to_json_bytes
from services.simulator.cli import RAW_TOPIC
from services.simulator.kafka import publish_kafka
from services.simulator.output import Bounds, Pacer

pytestmark = pytest.mark.integration

COUNT = 400


async def test_publish_to_kafka_and_read_back(broker: devstack.Broker) -> None:
    prefix = f"sim{uuid.uuid4().hex[:8]}."
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_topic_prefix=prefix)
    await ensure_topics(settings)
    topic = settings.topic(RAW_TOPIC)
    producer = clients.producer(settings)
    await producer.start()
    try:
        sent = await publish_kafka(simulate(SimConfig(seed=9)), producer, topic, bounds=Bounds(count=COUNT),
                                   pacer=Pacer(rate_per_s=2000), max_in_flight=64)
    finally:
        await producer.stop()
    assert sent == COUNT

    consumer = clients.consumer(settings, topic, group_id=None)
    await consumer.start()
    received: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < COUNT:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    received.extend(records)
    finally:
        await consumer.stop()

    expected = {to_json_bytes(e): e["subject"] for e in itertools.islice(simulate(SimConfig(seed=9)), COUNT)}
    assert {r.value: r.key.decode() for r in received if r.key and r.value} == expected
    for record in received[:50]:
        assert record.value is not None
        schemas.validate(record.value)
    per_subject: dict[bytes, list[int]] = {}
    for record in sorted(received, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        per_subject.setdefault(record.key, []).append(record.partition)
    assert all(len(set(parts)) == 1 for parts in per_subject.values())  # one subject, one partition
