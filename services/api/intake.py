"""What the gateway checks before it answers, and how it hands events to the broker.

Per request: strict I-JSON (:func:`schemas.ijson.loads`), size, schema and domain rules, then everything the
validators check that needs only the participant registry — participant known, key known and not revoked,
signature, role, ownership (the validators' own :class:`~services.validator.checks.Checker`). Replays and
ledger rules need the ledger and stay in the validators.

The registry is the genesis file plus the registry events sealed in the ledger, refolded in the background
once a second (no database call on the request path) and at once when an event names a participant or key
the gateway does not know yet (concurrent requests share one query) — exactly like the validators.

Publishing: the records of every request in one event-loop turn are handed to the one shared producer by
one task (aiokafka batches them; ``acks=all``), each to the partition the producer's partitioner picks for
its key; the turn waits at most ``gateway_publish_timeout_s`` for the broker's acknowledgements, and a request
whose records were not all acknowledged by then is answered 503 + Retry-After; for the next second after such
a failure requests are answered 503 at once. At most ``gateway_max_in_flight`` requests are in progress at
once; beyond that the gateway sheds load with 503 + Retry-After instead of queueing.

Shedding before the queue builds: a request is read from its socket only when the event loop gets to it, so
under more load than one process's CPU can take, requests wait in socket buffers where no in-flight count
sees them. The gateway therefore watches how late its event loop runs (a 10 ms timer's lateness, rising at
once and decaying by half every tick): while it is more than ``gateway_max_loop_lag_ms`` late, the lateness is
sustained (:data:`LAG_SHED_MIN_LATE_TICKS` ticks that late within the last :data:`LAG_SHED_WINDOW_S`, or one
within :data:`LAG_SHED_HOLD_S` after it was sustained), at least :data:`LAG_SHED_MIN_IN_FLIGHT` requests are in progress
and the event loop's thread has work (it was running or runnable, waiting for a CPU, at least
:data:`LAG_SHED_MIN_BUSY` of the last half second: ``/proc/self/schedstat``), new requests are answered 503 +
Retry-After at once — cheaply, before their body is parsed — so the loop catches up and the requests it admits
are answered in time. A loop that is late while its thread mostly sleeps is not behind on requests (a stall of
the host): shedding would not make it faster, so it does not shed then.

Why sustained: on a small host the loop's thread is at times kept off the CPU for 50–120 ms by other processes
(validators, sequencer, PostgreSQL, the broker) although this process needs only part of a core. After such a
spell one late tick marked the loop late for the next ticks too (the lateness decays by half per tick) while it
was reading the requests that had arrived meanwhile — and those, which it clears in a few ms, were shed (at
1,500/s with one worker, ~80 of 15,000). A process that cannot keep up is late again and again instead (at
4,000/s with one worker, a late tick every 80–250 ms: not every tick, as the loop idles while the broker acks).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

import schemas
from services.config import Settings
from services.registry import Registry, fold_sealed_registry_events, load_genesis
from services.store.postgres import LedgerStore
from services.validator.checks import Accept, Checker, Reject
from services.validator.reasons import Reason

log = logging.getLogger(__name__)

REGISTRY_REFRESH_S = 1.0
BROKER_DOWN_HOLD_S = 1.0
LAG_TICK_S = 0.01
LAG_SHED_MIN_IN_FLIGHT = 8  # a late loop with a handful of requests is not their doing (start-up, a busy host)
LAG_SHED_MIN_BUSY = 0.5  # share of BUSY_WINDOW_S the loop's thread ran or waited to run, for a late loop to shed
LAG_SHED_MIN_LATE_TICKS = 3  # late ticks within LAG_SHED_WINDOW_S: a load the loop does not clear, not one stall
LAG_SHED_WINDOW_S = 0.5
LAG_SHED_HOLD_S = 1.0  # after sustained lateness, a single late tick sheds again (no 3 late ticks per burst)
BUSY_WINDOW_S = 0.5
PARTITION_CACHE_MAX = 1 << 16  # keys whose partition is remembered, then the cache starts over
REGISTRY_MISSES = (Reason.UNKNOWN_PARTICIPANT, Reason.UNKNOWN_KEY)
_encode = msgspec.json.Encoder().encode
CONTENT_TYPE = [("content-type", b"application/cloudevents+json")]

# where in the envelope each registry-level rejection points
_REASON_PATHS = {
    Reason.UNKNOWN_PARTICIPANT: "/source",
    Reason.UNKNOWN_KEY: "/sigkeyid",
    Reason.REVOKED_KEY: "/sigkeyid",
    Reason.BAD_SIGNATURE: "/signature",
    Reason.FORBIDDEN_ROLE: "/type",
    Reason.NOT_OWNER: "",
}


def _demand_s() -> float:
    """Seconds this thread has run or waited on a run queue (``/proc/thread-self/schedstat``: on-CPU ns,
    run-queue wait ns); CPU time alone where that file is missing."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            on_cpu, waiting, _ = f.read().split()
        return (int(on_cpu) + int(waiting)) / 1e9
    except (OSError, ValueError):
        return time.thread_time()


class Overloaded(Exception):
    """Too many publishes are waiting for the broker."""


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time (or refused)."""


@dataclass(frozen=True, slots=True)
class Checked:
    key: bytes
    value: bytes
    event_id: str


class _Turn:
    """The requests of one event-loop turn that publish to one topic, and their records' delivery futures."""

    __slots__ = ("futures", "requests")

    def __init__(self) -> None:
        self.requests: list[tuple[list[Checked], asyncio.Future[str | None]]] = []
        self.futures: list[list[asyncio.Future[Any]]] = []  # per request, once all its records are handed over

    def answer(self, reason: str) -> None:
        """Answer every request: None if each of its records was acknowledged, else why not (``reason`` for
        one not acknowledged in time or not handed to the producer)."""
        for i, (_, waiter) in enumerate(self.requests):
            if waiter.done():  # the request was cancelled
                continue
            if i >= len(self.futures):
                waiter.set_result(reason)
                continue
            outcome = None
            for f in self.futures[i]:
                if not f.done():
                    outcome = reason
                elif f.cancelled() or f.exception() is not None:
                    error = "CancelledError" if f.cancelled() else type(f.exception()).__name__
                    outcome = f"the broker did not accept the events: {error}"
                    break
            waiter.set_result(outcome)


class Intake:
    def __init__(self, settings: Settings, producer: AIOKafkaProducer, registry: Registry | None,
                 store: LedgerStore | None) -> None:
        self.settings = settings
        self.producer = producer
        self.registry = registry
        self.checker = Checker(registry, max_event_bytes=settings.max_event_bytes) if registry else None
        self.store = store
        self.in_flight = 0
        self._last_refresh = 0.0
        self._refreshing: asyncio.Task[int] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self.loop_lag_s = 0.0
        self.busy = 0.0  # share of the last BUSY_WINDOW_S the loop's thread was running or runnable
        self.late_ticks: collections.deque[float] = collections.deque()  # when ticks were late, LAG_SHED_WINDOW_S
        self.sustained = False  # the lateness is sustained (see the module's docstring)
        self._sustained_until = 0.0  # loop time until which one late tick counts as sustained
        self.max_loop_lag_s = settings.gateway_max_loop_lag_ms / 1000
        self._down_until = 0.0
        self._down_reason = ""
        self._turns: dict[str, _Turn] = {}  # topic -> the requests of this loop turn, not yet handed over
        self._flushes: set[asyncio.Task[None]] = set()
        self._partition_cache: dict[str, tuple[int, dict[bytes, int]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, producer: AIOKafkaProducer, store: LedgerStore | None) -> Intake:
        path = settings.genesis_file or settings.home / "genesis.json"
        registry = load_genesis(path) if path.is_file() else None
        if registry is None:
            log.warning("no genesis file at %s: the gateway refuses events until there is one", path)
        return cls(settings, producer, registry, store)

    # ---- the registry ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.max_loop_lag_s > 0:
            self._lag_task = asyncio.create_task(self._watch_loop_lag(), name="gateway-loop-lag")
        if self.registry is not None and self.store is not None:
            with contextlib.suppress(Exception):
                await self.refresh()
            self._loop_task = asyncio.create_task(self._refresh_loop(), name="gateway-registry")

    async def stop(self) -> None:
        for task in (self._loop_task, self._lag_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _watch_loop_lag(self) -> None:
        loop = asyncio.get_running_loop()
        window_start, demand_start = loop.time(), _demand_s()
        while True:
            due = loop.time() + LAG_TICK_S
            await asyncio.sleep(LAG_TICK_S)
            now = loop.time()
            lag = now - due
            self.loop_lag_s = lag if lag > self.loop_lag_s else (self.loop_lag_s + lag) / 2
            late = self.late_ticks
            if lag > self.max_loop_lag_s:
                late.append(now)
            while late and late[0] <= now - LAG_SHED_WINDOW_S:
                late.popleft()
            if len(late) >= LAG_SHED_MIN_LATE_TICKS:
                self._sustained_until = now + LAG_SHED_HOLD_S
            self.sustained = len(late) >= LAG_SHED_MIN_LATE_TICKS or (bool(late) and now < self._sustained_until)
            if now - window_start >= BUSY_WINDOW_S:
                demand = _demand_s()
                self.busy = (demand - demand_start) / (now - window_start)
                window_start, demand_start = now, demand

    @property
    def overloaded(self) -> bool:
        """The event loop is late, because of this process's own load (see the module's docstring)."""
        return (self.max_loop_lag_s > 0 and self.loop_lag_s > self.max_loop_lag_s and self.sustained
                and self.in_flight >= LAG_SHED_MIN_IN_FLIGHT and self.busy >= LAG_SHED_MIN_BUSY)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_REFRESH_S)
            try:
                await self.refresh()
            except Exception as e:  # the database is down: keep the registry we have, try again
                log.debug("gateway registry refresh failed: %s", e)

    async def refresh(self) -> int:
        """Fold newly sealed registry events; concurrent callers share one query."""
        assert self.registry is not None and self.store is not None
        if self._refreshing is None or self._refreshing.done():
            self._last_refresh = time.monotonic()
            self._refreshing = asyncio.ensure_future(fold_sealed_registry_events(self.registry, self.store))
        return await asyncio.shield(self._refreshing)

    # ---- checks ---------------------------------------------------------------------------------------
    async def check(self, items: list[Any], *, is_list: bool) -> tuple[list[Checked], list[dict[str, Any]]]:
        events, decisions, errors = self._decide(items, is_list)
        if errors:
            return [], errors
        misses = [i for i, d in enumerate(decisions) if isinstance(d, Reject) and d.reason in REGISTRY_MISSES]
        if misses and self.store is not None:
            try:
                if await self.refresh():
                    for i in misses:
                        decisions[i] = self._registry_check(events[i])
            except Exception as e:
                log.debug("gateway registry refresh on a miss failed: %s", e)
        return self._outcome(decisions, is_list)

    def check_now(self, items: list[Any], *, is_list: bool) -> tuple[list[Checked], list[dict[str, Any]]] | None:
        """:meth:`check` without awaiting: the same result, or None where :meth:`check` would refold the
        registry first (an event names a participant or key not known yet): then await :meth:`check`."""
        _, decisions, errors = self._decide(items, is_list)
        if errors:
            return [], errors
        if self.store is not None and any(isinstance(d, Reject) and d.reason in REGISTRY_MISSES for d in decisions):
            return None
        return self._outcome(decisions, is_list)

    def _decide(self, items: list[Any], is_list: bool
                ) -> tuple[list[schemas.Event | None], list[Accept | Reject], list[dict[str, Any]]]:
        errors: list[dict[str, Any]] = []
        events: list[schemas.Event | None] = []
        for i, item in enumerate(items):
            event, error = self._schema(item, i if is_list else None)
            events.append(event)
            if error:
                errors += error
        if errors:
            return events, [], errors
        return events, [self._registry_check(e) for e in events], errors

    @staticmethod
    def _outcome(decisions: list[Accept | Reject], is_list: bool) -> tuple[list[Checked], list[dict[str, Any]]]:
        checked: list[Checked] = []
        errors: list[dict[str, Any]] = []
        for i, decision in enumerate(decisions):
            index = i if is_list else None
            if isinstance(decision, Reject):
                errors.append({"index": index, "path": _REASON_PATHS.get(decision.reason, ""),
                               "rule": decision.reason.value, "message": decision.detail})
            else:
                checked.append(Checked(decision.event.subject.encode(), decision.leaf, decision.event.id))
        return checked, errors

    def _schema(self, item: Any, index: int | None) -> tuple[schemas.Event | None, list[dict[str, Any]]]:
        if type(item) is not dict:  # e.g. a JSON string holding an event: never parsed a second time
            kind = "a string" if isinstance(item, str) else "null" if item is None else type(item).__name__
            return None, [{"index": index, "path": "", "rule": "not_object",
                           "message": f"an event is a JSON object, not {kind}"}]
        size = len(_encode(item))
        if size > self.settings.max_event_bytes:
            return None, [{"index": index, "path": "", "rule": "max_event_bytes",
                           "message": f"event is {size} bytes; the limit is {self.settings.max_event_bytes}"}]
        try:
            event = schemas.validate(item)
        except schemas.SchemaError as e:
            return None, [{"index": index, "path": x.path, "rule": x.rule, "message": x.message} for x in e.errors]
        return event, []

    def _registry_check(self, event: schemas.Event | None) -> Accept | Reject:
        assert event is not None
        if self.checker is None:
            return Reject(Reason.UNKNOWN_PARTICIPANT, "the gateway has no participant registry (no genesis file)",
                          event_id=event.id)
        return self.checker.check_event(event)

    # ---- publishing -----------------------------------------------------------------------------------
    def admit(self) -> None:
        """Count one request in; raise :class:`Overloaded` or :class:`BrokerUnavailable` to shed it at once."""
        if self.in_flight >= self.settings.gateway_max_in_flight:
            raise Overloaded(f"{self.in_flight} requests are already waiting for the broker")
        if self.overloaded:
            raise Overloaded(f"requests are waiting {self.loop_lag_s * 1000:.0f} ms to be read")
        if time.monotonic() < self._down_until:
            raise BrokerUnavailable(self._down_reason)
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

    async def publish(self, topic: str, records: list[Checked]) -> None:
        """Send ``records`` and wait for the broker's acknowledgement (acks=all), within the timeout.

        The records join this event-loop turn's :class:`_Turn`: one task per turn hands every request's records
        to the producer (each to the partition the producer's partitioner picks for its key, remembered per
        key), waits for the broker under one timeout for them all, and answers each request by what became of
        its own records — one timer and one task per turn instead of per request."""
        reason = await self.submit(topic, records)
        if reason is not None:
            self._broker_down(reason)

    def submit(self, topic: str, records: list[Checked]) -> asyncio.Future[str | None]:
        """:meth:`publish` as a future: None once the broker acknowledged every record, else why not (then
        call :meth:`broker_down` with it)."""
        loop = asyncio.get_running_loop()
        turn = self._turns.get(topic)
        if turn is None:
            turn = self._turns[topic] = _Turn()
            task = loop.create_task(self._flush(topic, turn))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        waiter: asyncio.Future[str | None] = loop.create_future()
        turn.requests.append((records, waiter))
        return waiter

    async def _flush(self, topic: str, turn: _Turn) -> None:
        del self._turns[topic]  # requests from now on join the next turn
        timeout = self.settings.gateway_publish_timeout_s
        reason = "the gateway is stopping"
        try:
            async with asyncio.timeout(timeout):
                await self._send_turn(topic, turn)
        except TimeoutError:
            reason = f"no acknowledgement from the broker within {timeout:g} s"
        except Exception as e:  # KafkaError and friends
            reason = f"the broker did not accept the events: {type(e).__name__}"
        finally:
            turn.answer(reason)

    async def _send_turn(self, topic: str, turn: _Turn) -> None:
        producer = self.producer
        await producer.client._wait_on_metadata(topic)
        partition_of = self._partitioner(topic)
        send = producer.send
        for records, _ in turn.requests:
            turn.futures.append([await send(topic, r.value, key=r.key, partition=partition_of(r.key, r.value),
                                            headers=CONTENT_TYPE) for r in records])
        await asyncio.wait([f for fs in turn.futures for f in fs])

    def _partitioner(self, topic: str) -> Callable[[bytes, bytes], int]:
        """``(key, value) -> partition`` as ``producer.send`` picks it (its partitioner over the topic's
        partitions in the cluster metadata), remembered per key while the topic's partition count holds."""
        producer = self.producer
        count = len(producer.client.cluster.partitions_for_topic(topic) or ())
        cached = self._partition_cache.get(topic)
        if cached is None or cached[0] != count or len(cached[1]) > PARTITION_CACHE_MAX:
            cached = self._partition_cache[topic] = (count, {})
        known = cached[1]

        def partition_of(key: bytes, value: bytes) -> int:
            p = known.get(key)
            if p is None:
                p = known[key] = producer._partition(topic, None, key, value, key, value)
            return p

        return partition_of

    def _broker_down(self, reason: str) -> None:
        self.broker_down(reason)
        raise BrokerUnavailable(reason)

    def broker_down(self, reason: str) -> None:
        """Note that the broker did not acknowledge (``reason``): the next requests are refused at once."""
        # for a moment, answer the next requests at once instead of each waiting the full timeout
        now = time.monotonic()
        if now >= self._down_until:  # once per outage, not once per request that was waiting
            log.warning("broker unavailable: %s", reason)
        self._down_until = now + BROKER_DOWN_HOLD_S
        self._down_reason = reason
