"""aiokafka clients built from Settings: broker-specific knobs (acks, idempotence) come from configuration."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.config import Settings

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a sealed block with its events; matches infra/topics.yaml


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    acks: int | str = int(settings.kafka_acks) if settings.kafka_acks.lstrip("-").isdigit() else settings.kafka_acks
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": acks,
        "enable_idempotence": settings.kafka_enable_idempotence,
        "max_request_size": MAX_MESSAGE_BYTES,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "linger_ms": 2,
        "max_batch_size": 1024 * 1024,
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


def consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        "fetch_max_bytes": 4 * MAX_MESSAGE_BYTES,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 1_000,
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)
