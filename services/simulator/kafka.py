"""Publish the simulated stream to Kafka (aiokafka): key = subject, value = the envelope's JSON bytes.

aiokafka errors are translated here into :class:`PublishError` (``retriable`` copied from the cause);
they never reach the caller as aiokafka types.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.simulator.output import Bounds, Pacer, bounded, to_json_bytes

__all__ = ["PublishError", "publish_kafka"]

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Publishing to Kafka failed; ``retriable`` says whether trying again may help."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


async def publish_kafka(
    events: Iterable[dict[str, Any]],
    producer: AIOKafkaProducer,
    topic: str,
    *,
    bounds: Bounds | None = None,
    pacer: Pacer | None = None,
    max_in_flight: int = 5000,
    on_event: Callable[[int], None] | None = None,
) -> int:
    """Send events to ``topic`` through a started ``producer``; return how many the broker acknowledged.

    Waits for every acknowledgement before returning (``acks`` and idempotence are the producer's
    settings, from ``Settings``). At most ``max_in_flight`` sends are outstanding at once.
    """
    pacer = pacer or Pacer()
    in_flight: list[asyncio.Future[Any]] = []
    sent = 0
    try:
        for index, envelope in bounded(events, bounds or Bounds(), pacer):
            wait = pacer.delay_s(index, envelope["time"])
            if wait > 0:
                await asyncio.sleep(wait)
            future = await producer.send(topic, value=to_json_bytes(envelope), key=envelope["subject"].encode())
            in_flight.append(future)
            sent += 1
            if on_event is not None:
                on_event(sent)
            if len(in_flight) >= max_in_flight:
                await asyncio.gather(*in_flight)
                in_flight.clear()
        await asyncio.gather(*in_flight)
    except KafkaError as e:
        raise PublishError(f"publishing to {topic} failed: {e}", retriable=bool(getattr(e, "retriable", False))) from e
    log.info("published %d events to %s", sent, topic)
    return sent
