"""Prometheus metrics and log set-up of every long-running CoalChain process: the one place they are defined.

Other modules call the one-line hooks below (``event_accepted``, ``block_sealed``, ``consumer_lag``...). The API
serves ``/metrics`` on its own port (:func:`asgi_app`); every other service started through
``services.runner.run_until_signalled`` serves it on ``COALCHAIN_METRICS_HOST:COALCHAIN_METRICS_PORT``
(:func:`serve`, 127.0.0.1 by default; off when the port is 0). Names and meanings: docs/operations.md
"Monitor".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app, start_http_server

from services.config import Settings

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_ACCEPTED = Counter("coalchain_events_accepted", "Events the validators accepted")
EVENTS_REJECTED = Counter("coalchain_events_rejected", "Events rejected, by reason code", ["reason"])
BLOCKS_SEALED = Counter("coalchain_blocks_sealed", "Blocks sealed by this sequencer")
EVENTS_SEALED = Counter("coalchain_events_sealed", "Events sealed into blocks by this sequencer")
LEDGER_HEIGHT = Gauge("coalchain_ledger_height", "Height of the newest block this process sealed or stored")
CONSUMER_LAG = Gauge("coalchain_consumer_lag", "Records between the consumer's position and the end of the"
                     " partitions it reads", ["group", "topic"])
PUBLISH_TO_SEALED = Histogram("coalchain_publish_to_sealed_seconds", "From an event's time (set by its publisher"
                              " when it publishes) to its block's commit", buckets=_LATENCY_BUCKETS)
SEAL_TO_VIEW = Histogram("coalchain_seal_to_view_seconds", "From a block's publication (after its commit) to the"
                         " views holding it",
                         buckets=_LATENCY_BUCKETS)
DATABASE_ERRORS = Counter("coalchain_database_errors", "PostgreSQL errors seen by this process")
BROKER_ERRORS = Counter("coalchain_broker_errors", "Kafka client errors seen by this process")
HTTP_REQUESTS = Counter("coalchain_http_requests", "API requests, by route and status", ["method", "route", "status"])
BLOCKS_STORED = Counter("coalchain_blocks_stored", "Blocks a replica verified and stored")


# --- hooks (one line at each call site) -------------------------------------------------------------------


def event_accepted(n: int = 1) -> None:
    EVENTS_ACCEPTED.inc(n)


def event_rejected(reason: str) -> None:
    EVENTS_REJECTED.labels(reason=reason).inc()


def block_sealed(height: int, event_times: Iterable[datetime], sealed: datetime | None = None) -> None:
    """After a block's commit: counters, height, and publish→sealed for each event."""
    now = sealed or datetime.now(UTC)
    n = observe_many(PUBLISH_TO_SEALED, [max(0.0, (now - t).total_seconds()) for t in event_times])
    BLOCKS_SEALED.inc()
    EVENTS_SEALED.inc(n)
    LEDGER_HEIGHT.set(height)


def observe_many(histogram: Histogram, amounts: list[float]) -> int:
    """``histogram.observe(a)`` for each amount, with one increment per bucket instead of one locked update
    per amount (a block's 2,000 events: ~12 µs each one by one, on the sequencer's hot path). The same
    result as observing one by one (tests/ops/test_metrics.py); falls back to that if the client library's
    internals (``_upper_bounds``, ``_buckets``, ``_sum``) are not there."""
    bounds: list[float] | None = getattr(histogram, "_upper_bounds", None)
    buckets: list[Any] | None = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for a in amounts:
            histogram.observe(a)
        return len(amounts)
    counts = [0] * len(bounds)
    for a in amounts:
        counts[bisect_left(bounds, a)] += 1  # the first bucket whose upper bound is >= a (the last is +Inf)
    for i, c in enumerate(counts):
        if c:
            buckets[i].inc(c)
    total.inc(sum(amounts))
    return len(amounts)


def block_stored(height: int) -> None:
    BLOCKS_STORED.inc()
    LEDGER_HEIGHT.set(height)


def block_viewed(published_s: float) -> None:
    """The views folded a block whose blocks-topic record has timestamp ``published_s`` (Unix seconds; the
    sequencer writes it right after the block's commit, so this is seal→view)."""
    SEAL_TO_VIEW.observe(max(0.0, time.time() - published_s))


async def consumer_lag(group: str, consumer: Any) -> None:
    """Lag of an aiokafka consumer over its assigned partitions (await it after a fetch)."""
    per_topic: dict[str, int] = {}
    try:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, high - await consumer.position(tp))
    except Exception:  # a partition revoked mid-call: skip this sample
        return
    for topic, lag in per_topic.items():
        CONSUMER_LAG.labels(group=group, topic=topic).set(lag)


def count_error(exc: BaseException) -> None:
    """Count a database or broker error (anything else is not counted here)."""
    import asyncpg
    from aiokafka.errors import KafkaError

    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        DATABASE_ERRORS.inc()
    elif isinstance(exc, KafkaError):
        BROKER_ERRORS.inc()


class _ErrorCounter(logging.Handler):
    """Counts the errors the client libraries log (a broker connection lost, a query failed) and the
    exceptions our own code logs."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        if record.exc_info and record.exc_info[1] is not None:
            count_error(record.exc_info[1])
        elif record.name.startswith("aiokafka") and record.levelno >= logging.ERROR:
            BROKER_ERRORS.inc()
        elif record.name.startswith("asyncpg") and record.levelno >= logging.ERROR:
            DATABASE_ERRORS.inc()


# --- serving ----------------------------------------------------------------------------------------------


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample of this process's metrics (0 when it has none yet)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


_http_children: dict[tuple[str, str, int], Any] = {}
_access = logging.getLogger("services.api.access")


def http_request(method: str, route: str, status: int, started: float | None = None, path: str = "",
                 *, logged: bool = True) -> None:
    """Count one API request (and log it unless not ``logged``: DEBUG; 4xx INFO; 5xx WARNING)."""
    key = (method, route, status)
    child = _http_children.get(key)
    if child is None:
        child = _http_children[key] = HTTP_REQUESTS.labels(method=method, route=route, status=str(status))
    child.inc()
    level = logging.WARNING if status >= 500 else logging.INFO if status >= 400 else logging.DEBUG
    if logged and _access.isEnabledFor(level):
        took = f" in {(time.perf_counter() - started) * 1000:.1f} ms" if started is not None else ""
        _access.log(level, "%s %s -> %d%s", method, path or route, status, took)


class _Instrumented:
    """Pure ASGI middleware (no per-request task or stream, unlike Starlette's ``BaseHTTPMiddleware``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as e:
            count_error(e)
            raise
        route = getattr(scope.get("route"), "path", "(unmatched)")
        http_request(scope["method"], route, status, started, scope["path"])


def instrument(app: Any) -> None:
    """The API's ``/metrics`` route, and every request counted and logged (DEBUG; 4xx INFO; 5xx WARNING)."""
    app.mount("/metrics", make_asgi_app())
    app.add_middleware(_Instrumented)


_configured: list[Settings] = []  # what the CLI's main() read, for the service runner


def setup(settings: Settings) -> None:
    """Called once by the CLI: log format, error counting, and the settings :func:`serve` uses."""
    _configured[:] = [settings]
    install_log_handlers(settings.log_format)


def serve(settings: Settings | None = None) -> bool:
    """Start the metrics HTTP server of a non-API process, if a port is configured."""
    settings = settings or (_configured[0] if _configured else None)
    if settings is None or not settings.metrics_port:
        return False
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return True


async def log_summary(stop: asyncio.Event, every_s: float = 60.0) -> None:
    """A periodic INFO line of what this process did (blocks are logged one by one only at DEBUG)."""
    names = ("coalchain_blocks_sealed_total", "coalchain_events_sealed_total", "coalchain_events_accepted_total")
    last = tuple(sample(n) for n in names)
    started = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        now = tuple(sample(n) for n in names)
        blocks, events, accepted = (int(b - a) for a, b in zip(last, now, strict=True))
        if blocks or accepted:
            log.info("last %.0f s: %d blocks, %d events sealed (height %d); %d events accepted",
                     time.monotonic() - started, blocks, events, int(sample("coalchain_ledger_height")), accepted)
        last, started = now, time.monotonic()


# --- logs -------------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def install_log_handlers(log_format: str) -> None:
    """JSON lines on stderr when ``log_format`` is ``json``; the error counter in every case."""
    root = logging.getLogger()
    if log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    if not any(isinstance(h, _ErrorCounter) for h in root.handlers):
        root.addHandler(_ErrorCounter())
