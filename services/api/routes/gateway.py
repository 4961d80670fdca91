"""``POST /v1/events``: the HTTP way in for publishers without a Kafka client.

The body is one CloudEvent or a JSON array of them, parsed as strict I-JSON. Before answering, the gateway
checks everything that needs no ledger (:mod:`services.api.intake`): size, JSON, schema and domain rules,
participant, key, signature, role, ownership. Replays and ledger rules are the validators' (as for any Kafka
publisher). Accepted events are published to the raw topic with acks=all and answered 202 with their ids
only once the broker has acknowledged them.

The hot path: ``coalchain api`` serves with :class:`services.api.protocol.GatewayProtocol`, which answers a
plain ``POST /v1/events`` from uvicorn's HTTP parser callbacks (:func:`admission`, :func:`parse`,
:meth:`~services.api.intake.Intake.check_now`, :meth:`~services.api.intake.Intake.submit`) with no ASGI
machinery at all. Everything else, and this route when the app is served another way, reaches the plain ASGI
endpoint :func:`serve`: the application (:class:`services.api.app.CoalChainAPI`) hands ``POST /v1/events``
to it before FastAPI's middleware, routing, dependency and response machinery, which cost several times
what the checks themselves cost. Both give the same answers (``tests/publish/test_fast_path.py``). The
FastAPI route below is the same handler, declared for the OpenAPI description (and served if the app is
mounted without either).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

import schemas
from services import metrics
from services.api.intake import BrokerUnavailable, Checked, Intake, Overloaded

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["gateway"])

PATH = "/v1/events"
MAX_EVENTS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RETRY_AFTER_S = "2"
RETRY_AFTER_OVERLOADED_S = "1"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

encode = _encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        h = [(b"content-type", b"application/json")]
        if self.retry_after:
            h.append((b"retry-after", self.retry_after.encode()))
        return h


class _TooLarge(Exception):
    pass


def _refused(status: int, detail: str, retry_after: str | None = None) -> Answer:
    return Answer(status, {"detail": detail}, retry_after)


async def answer(intake: Intake | None, topic: str, body: Callable[[int], Awaitable[bytes]]) -> Answer:
    """The whole of ``POST /v1/events``: admission, body, checks, publish. ``body(limit)`` reads the request
    body, raising :class:`_TooLarge` past ``limit`` bytes."""
    refusal = admission(intake)
    if refusal is not None:
        return refusal
    assert intake is not None
    try:
        return await answer_admitted(intake, topic, body)
    finally:
        intake.release()


def admission(intake: Intake | None) -> Answer | None:
    """Count the request in (None), or the answer shedding it at once (not counted in)."""
    if intake is None:
        return _refused(503, "the broker is not reachable", RETRY_AFTER_S)
    try:
        intake.admit()
    except Overloaded as e:
        return _refused(503, f"the gateway is overloaded: {e}", RETRY_AFTER_OVERLOADED_S)
    except BrokerUnavailable as e:
        return _refused(503, str(e), RETRY_AFTER_S)
    return None


async def answer_admitted(intake: Intake, topic: str, body: Callable[[int], Awaitable[bytes]]) -> Answer:
    """:func:`answer` once admitted (the caller releases)."""
    try:
        raw = await body(MAX_REQUEST_BYTES)
    except _TooLarge as e:
        return _refused(413, str(e))
    return await _publish(intake, topic, raw)


async def _publish(intake: Intake, topic: str, body: bytes) -> Answer:
    parsed = parse(body)
    if isinstance(parsed, Answer):
        return parsed
    items, is_list = parsed
    checked, errors = await intake.check(items, is_list=is_list)
    if errors:
        return refused_events(errors)
    try:
        await intake.publish(topic, checked)
    except BrokerUnavailable as e:
        return _refused(503, str(e), RETRY_AFTER_S)
    return accepted(checked)


def parse(body: bytes) -> Answer | tuple[list[Any], bool]:
    """The body's events and whether it was an array, or the answer refusing it."""
    try:
        doc = schemas.ijson.loads(body)
    except schemas.ijson.JSONError as e:
        return Answer(400, {"detail": f"body is not strict JSON: {e.errors[0]}",
                            "errors": [{"index": None, "path": e.path, "rule": e.rule,
                                        "message": e.errors[0].message}]})
    is_list = type(doc) is list
    items: list[Any] = doc if is_list else [doc]
    if not items or len(items) > MAX_EVENTS_PER_REQUEST:
        return _refused(422, f"send between 1 and {MAX_EVENTS_PER_REQUEST} events per request")
    return items, is_list


def refused_events(errors: list[dict[str, Any]]) -> Answer:
    too_big = [e for e in errors if e["rule"] == "max_event_bytes"]
    status = 413 if too_big and len(too_big) == len(errors) else 422
    return Answer(status, {"detail": "event validation failed", "errors": errors})


def accepted(checked: list[Checked]) -> Answer:
    return Answer(202, {"accepted_for_validation": [c.event_id for c in checked]})


def broker_unavailable(reason: str) -> Answer:
    return _refused(503, reason, RETRY_AFTER_S)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def serve(intake: Intake | None, topic: str, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /v1/events`` as a plain ASGI endpoint (counted in ``coalchain_http_requests`` like any route)."""

    async def body(limit: int) -> bytes:
        declared = _declared_length(scope["headers"])
        if declared is not None and declared > limit:
            raise _TooLarge(f"request body is {declared} bytes; the limit is {limit}")
        message = await receive()
        chunk: bytes = message.get("body", b"")
        if not message.get("more_body", False):  # the usual case: one message
            return chunk
        parts, size = [chunk], len(chunk)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"request body exceeds {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    try:
        result = await answer(intake, topic, body)
    except Exception:
        log.exception("POST %s failed", PATH)
        result = Answer(500, {"detail": "Internal Server Error"})
    payload = _encode(result.body)
    headers = result.headers()
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    counted(result)


def counted(result: Answer) -> None:
    """Count the answer in ``coalchain_http_requests`` (and log it, or note a refusal in the shed log)."""
    shed = result.retry_after is not None
    metrics.http_request("POST", PATH, result.status, logged=not shed)
    if shed:
        _shed_log.note(str(result.body["detail"]))


class _ShedLog:
    """Refusals with Retry-After come in floods (overload, broker gone): one WARNING line per interval with
    their count and the latest reason, not one per request (a log line costs more than the refusal)."""

    INTERVAL_S = 5.0

    def __init__(self) -> None:
        self.count = 0
        self.since = 0.0

    def note(self, reason: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.since >= self.INTERVAL_S:
            log.warning("POST %s: %d requests refused with 503 + Retry-After since the last such line; the"
                        " latest: %s", PATH, self.count, reason)
            self.count, self.since = 0, now


_shed_log = _ShedLog()


@router.post("/events", status_code=202, responses={400: {}, 413: {}, 422: {}, 503: {}})
async def publish_events(request: Request) -> Response:
    """Publish one signed event or an array of them. 202 means: durably in the raw topic, not yet sealed."""

    async def body(limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _TooLarge(f"request body is {declared} bytes; the limit is {limit}")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise _TooLarge(f"request body exceeds {limit} bytes")
        return bytes(raw)

    intake: Intake | None = getattr(request.app.state, "intake", None)
    result = await answer(intake, request.app.state.topics.raw, body)
    return Response(_encode(result.body), status_code=result.status,
                    headers={k.decode(): v.decode() for k, v in result.headers()})
