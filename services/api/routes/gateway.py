"""``POST /v1/events``: the HTTP way in for publishers without a Kafka client.

The body is one CloudEvent or a JSON array of them. Each is schema-checked here (fast feedback, precise
paths); signature, permission and replay checks happen in the validators like for any Kafka publisher.
Accepted bodies are published to the raw topic with acks=all and answered 202 with the event ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

import schemas
from services.api.deps import ProducerDep, SettingsDep, TopicsDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["gateway"])

MAX_EVENTS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RETRY_AFTER_S = "2"
CE_HEADERS = [("content-type", b"application/cloudevents+json")]  # CloudEvents Kafka binding, structured


def _errors(index: int | None, e: schemas.SchemaError) -> list[dict[str, Any]]:
    return [{"index": index, "path": x.path, "rule": x.rule, "message": x.message} for x in e.errors]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body exceeds {limit} bytes")
    return bytes(body)


@router.post("/events", status_code=202, responses={400: {}, 413: {}, 422: {}, 503: {}})
async def publish_events(request: Request, settings: SettingsDep, producer: ProducerDep,
                         topics: TopicsDep) -> JSONResponse:
    """Publish one signed event or an array of them. 202 means: durably in the raw topic, not yet sealed."""
    body = await _read_body(request, MAX_REQUEST_BYTES)
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HTTPException(400, f"body is not JSON: {e}") from None
    items = doc if isinstance(doc, list) else [doc]
    if not items or len(items) > MAX_EVENTS_PER_REQUEST:
        raise HTTPException(422, f"send between 1 and {MAX_EVENTS_PER_REQUEST} events per request")
    encoded, errors = _validate_all(items, settings.max_event_bytes, is_list=isinstance(doc, list))
    if errors:
        too_big = [e for e in errors if e["rule"] == "max_event_bytes"]
        status = 413 if too_big and len(too_big) == len(errors) else 422
        return JSONResponse({"detail": "event validation failed", "errors": errors}, status_code=status)
    try:
        futures = [await producer.send(topics.raw, raw, key=key, headers=CE_HEADERS) for key, raw, _ in encoded]
        await asyncio.gather(*futures)
    except (KafkaError, TimeoutError) as e:
        log.warning("broker pushed back: %s", e)
        raise HTTPException(503, f"the broker did not accept the events: {type(e).__name__}",
                            headers={"Retry-After": RETRY_AFTER_S}) from None
    return JSONResponse({"accepted_for_validation": [eid for _, _, eid in encoded]}, status_code=202)


def _validate_all(items: list[Any], max_bytes: int, *, is_list: bool
                  ) -> tuple[list[tuple[bytes, bytes, str]], list[dict[str, Any]]]:
    encoded: list[tuple[bytes, bytes, str]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        index = i if is_list else None
        raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        if len(raw) > max_bytes:
            errors.append({"index": index, "path": "", "rule": "max_event_bytes",
                           "message": f"event is {len(raw)} bytes; the limit is {max_bytes}"})
            continue
        try:
            event = schemas.validate(item)
        except schemas.SchemaError as e:
            errors += _errors(index, e)
            continue
        encoded.append((event.subject.encode(), raw, event.id))
    return encoded, errors
