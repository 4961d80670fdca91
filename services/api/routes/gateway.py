"""``POST /v1/events``: the HTTP way in for publishers without a Kafka client.

The body is one CloudEvent or a JSON array of them, parsed as strict I-JSON. Before answering, the gateway
checks everything that needs no ledger (:mod:`services.api.intake`): size, JSON, schema and domain rules,
participant, key, signature, role, ownership. Replays and ledger rules are the validators' (as for any Kafka
publisher). Accepted events are published to the raw topic with acks=all and answered 202 with their ids
only once the broker has acknowledged them.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

import schemas
from services.api.deps import TopicsDep
from services.api.intake import BrokerUnavailable, Intake, Overloaded

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["gateway"])

MAX_EVENTS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RETRY_AFTER_S = "2"
RETRY_AFTER_OVERLOADED_S = "1"


def get_intake(request: Request) -> Intake:
    intake: Intake | None = getattr(request.app.state, "intake", None)
    if intake is None:
        raise HTTPException(503, "the broker is not reachable", headers={"Retry-After": RETRY_AFTER_S})
    return intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


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
async def publish_events(request: Request, intake: IntakeDep, topics: TopicsDep) -> JSONResponse:
    """Publish one signed event or an array of them. 202 means: durably in the raw topic, not yet sealed."""
    try:
        intake.admit()
    except Overloaded as e:
        raise HTTPException(503, f"the gateway is overloaded: {e}",
                            headers={"Retry-After": RETRY_AFTER_OVERLOADED_S}) from None
    except BrokerUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": RETRY_AFTER_S}) from None
    try:
        return await _publish(request, intake, topics.raw)
    finally:
        intake.release()


async def _publish(request: Request, intake: Intake, topic: str) -> JSONResponse:
    body = await _read_body(request, MAX_REQUEST_BYTES)
    try:
        doc = schemas.ijson.loads(body)
    except schemas.ijson.JSONError as e:
        return JSONResponse({"detail": f"body is not strict JSON: {e.errors[0]}",
                             "errors": [{"index": None, "path": e.path, "rule": e.rule,
                                         "message": e.errors[0].message}]}, status_code=400)
    is_list = type(doc) is list
    items: list[Any] = doc if is_list else [doc]
    if not items or len(items) > MAX_EVENTS_PER_REQUEST:
        raise HTTPException(422, f"send between 1 and {MAX_EVENTS_PER_REQUEST} events per request")
    checked, errors = await intake.check(items, is_list=is_list)
    if errors:
        too_big = [e for e in errors if e["rule"] == "max_event_bytes"]
        status = 413 if too_big and len(too_big) == len(errors) else 422
        return JSONResponse({"detail": "event validation failed", "errors": errors}, status_code=status)
    try:
        await intake.publish(topic, checked)
    except BrokerUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": RETRY_AFTER_S}) from None
    return JSONResponse({"accepted_for_validation": [c.event_id for c in checked]}, status_code=202)
