"""Publishing to the raw topic with Kafka (optional extra ``coalchain-client[kafka]``: aiokafka).

Key = the event's subject (the validators reject any other key: ``key_mismatch``). Two content modes of
the CloudEvents Kafka binding:

* structured (default): value = the event's JSON, header ``content-type: application/cloudevents+json``;
* binary (``binary=True``): value = the ``data`` JSON, ``content-type`` = the event's ``datacontenttype``
  and every other attribute, the signature included, as a ``ce_<name>`` header. The signature is over the
  structured event, so the event must carry ``datacontenttype`` (``make_event`` sets it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

RAW_TOPIC = "coal.events.v1"
STRUCTURED = "application/cloudevents+json"


def record(event: Mapping[str, Any], *, binary: bool = False) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of one event in the chosen content mode."""
    key = str(event["subject"]).encode("utf-8")
    if not binary:
        return key, json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(), \
            [("content-type", STRUCTURED.encode())]
    if "datacontenttype" not in event:
        raise ValueError("binary mode needs the event's datacontenttype (it becomes the content-type header)")
    headers = [("content-type", str(event["datacontenttype"]).encode())]
    headers += [(f"ce_{k}", str(v).encode("utf-8")) for k, v in event.items() if k not in ("data", "datacontenttype")]
    value = json.dumps(event.get("data"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return key, value, headers


async def publish_kafka(events: Sequence[Mapping[str, Any]], bootstrap_servers: str, *, topic: str = RAW_TOPIC,
                        binary: bool = False, request_timeout_ms: int = 30_000) -> None:
    """Send ``events`` with acks=all and wait for every acknowledgement (then use ``Client.wait``)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                request_timeout_ms=request_timeout_ms)
    await producer.start()
    try:
        futures = []
        for e in events:
            key, value, headers = record(e, binary=binary)
            futures.append(await producer.send(topic, value, key=key, headers=headers))
        for f in futures:
            await f
    finally:
        await producer.stop()
