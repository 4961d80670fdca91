"""aiokafka clients built from Settings: broker-specific knobs (acks, idempotence) come from configuration."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.config import Settings

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a sealed block with its events; matches topics.yaml


def security_kwargs(settings: Settings) -> dict[str, Any]:
    """SASL/SCRAM and TLS options for aiokafka (producer, consumer, admin), from configuration."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile
                                             else None)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(str(settings.kafka_ssl_certfile),
                                    str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)
        kwargs["ssl_context"] = context
    if protocol.startswith("SASL_"):
        kwargs.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=settings.kafka_sasl_password)
    return kwargs


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    acks: int | str = int(settings.kafka_acks) if settings.kafka_acks.lstrip("-").isdigit() else settings.kafka_acks
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": acks,
        "enable_idempotence": settings.kafka_enable_idempotence,
        "max_request_size": MAX_MESSAGE_BYTES,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": 1024 * 1024,
        **security_kwargs(settings),
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
        **security_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


def faust_security(settings: Settings) -> dict[str, Any]:
    """The same SASL/TLS settings as faust.App keyword arguments (the views worker)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    import faust

    ssl_context = security_kwargs(settings).get("ssl_context")
    if protocol.startswith("SASL_"):
        return {"broker_credentials": faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism, ssl_context=ssl_context)}
    return {"broker_credentials": faust.SSLCredentials(ssl_context)}
