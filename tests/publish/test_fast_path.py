"""POST /v1/events through :class:`services.api.protocol.GatewayProtocol` (the parser-callback fast path that
``coalchain api`` serves) answers byte for byte what uvicorn's own protocol + the ASGI route answers, and hands
the producer the same records: hypothesis over valid, altered, mis-signed, unknown-participant and malformed
bodies, single events and arrays, HTTP/1.0 and ``connection: close``, pipelined and chunked requests.

Both paths run in this process over an in-memory transport with a recording producer (no broker: what the
broker does with the records is tests/pipeline's), so what is compared is exactly the HTTP exchange."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from chain_anchor.canonical import canonicalize
from services.api.app import create_app
from services.api.cli import server_options
from services.api.intake import Intake
from services.api.protocol import GatewayProtocol
from services.api.routes.gateway import MAX_REQUEST_BYTES
from services.config import Settings
from services.kafka.topics import Topics
from services.simulator import SimConfig, genesis, simulate, write_genesis
from tests.pipeline.conftest import SEED, START

PARTITIONS = 6


class RecordingProducer:
    """What :class:`~services.api.intake.Intake` uses of an AIOKafkaProducer; acknowledges every record
    (or fails them all, with ``fail``) on the next loop turn, and records what it was given."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, int, tuple[tuple[str, bytes], ...]]] = []
        self.fail: Exception | None = None
        self.client = self
        self.cluster = self
        self._partitioner = DefaultPartitioner()

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    async def _wait_on_metadata(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def _partition(self, topic: str, partition: int | None, key: bytes, value: bytes, sk: bytes, sv: bytes) -> int:
        return partition if partition is not None else self._partitioner(sk, list(range(PARTITIONS)),
                                                                         list(range(PARTITIONS)))

    async def send(self, topic: str, value: bytes, key: bytes, partition: int | None = None,
                   headers: Any = None) -> asyncio.Future[None]:
        partition = self._partition(topic, partition, key, value, key, value)
        self.records.append((topic, key, value, partition, tuple(headers or ())))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            asyncio.get_running_loop().call_soon(fut.set_exception, self.fail)
        else:
            asyncio.get_running_loop().call_soon(fut.set_result, None)
        return fut


class Transport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self.changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.out += data
        self.changed.set()

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True
        self.changed.set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def responses(out: bytes) -> list[bytes]:
    """Split what was written into whole responses (content-length or chunked framing)."""
    found = []
    while out:
        end = out.index(b"\r\n\r\n") + 4
        head = out[:end].lower()
        if head.startswith(b"http/1.1 100 "):
            found.append(out[:end])
            out = out[end:]
        elif b"content-length: " in head:
            n = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            found.append(out[:end + n])
            out = out[end + n:]
        else:
            assert b"transfer-encoding: chunked" in head
            stop = out.index(b"0\r\n\r\n", end) + 5
            found.append(out[:stop])
            out = out[stop:]
    return found


class Server:
    """One app (started by hand: intake with a recording producer) served by one protocol class."""

    def __init__(self, settings: Settings, protocol: type[HttpToolsProtocol]) -> None:
        self.app = create_app(settings)
        self.producer = RecordingProducer()
        self.intake = Intake.from_settings(settings, self.producer, None)
        self.app.state.settings = settings
        self.app.state.topics = Topics.from_settings(settings)
        self.app.state.intake = self.intake
        self.config = uvicorn.Config(self.app, **{**server_options(settings), "http": protocol})
        self.config.load()
        self.state = ServerState()
        self.protocol = protocol

    async def exchange(self, data: bytes, answers: int) -> tuple[list[bytes], bool]:
        """Feed ``data`` on a new connection; wait for ``answers`` responses (or a close)."""
        loop = asyncio.get_running_loop()
        transport = Transport()
        protocol = self.protocol(config=self.config, server_state=self.state, app_state={}, _loop=loop)
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(data)
        async with asyncio.timeout(10):
            while len(responses(bytes(transport.out))) < answers and not transport.closed:
                transport.changed.clear()
                await transport.changed.wait()
        for _ in range(5):  # let anything that would write more (it must not) run
            await asyncio.sleep(0)
        got = responses(bytes(transport.out))
        if not transport.closed:
            protocol.connection_lost(None)
        return got, transport.closed


@pytest.fixture(scope="module")
def gateway_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = Path(tmp_path_factory.mktemp("fast-path"))
    settings = Settings(home=home, event_time_max_past_s=20 * 365 * 86_400)
    path = home / "genesis.json"
    write_genesis(path, genesis(SEED, created=START, ledger_id=settings.ledger_id))
    return settings.model_copy(update={"genesis_file": path})


EVENTS = list(itertools.islice(simulate(SimConfig(seed=SEED, start=START)), 40))


def request(body: bytes, *, version: bytes = b"1.1", extra: bytes = b"", target: bytes = b"/v1/events",
            length: bool = True) -> bytes:
    head = b"POST " + target + b" HTTP/" + version + b"\r\nhost: test\r\ncontent-type: application/json\r\n" + extra
    if length:
        head += b"content-length: " + str(len(body)).encode() + b"\r\n"
    return head + b"\r\n" + body


def altered(event: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    e = copy.deepcopy(event)
    if value is _DROP:
        e.pop(key, None)
    else:
        e[key] = value
    return e


_DROP = object()
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=5)
some_event = st.sampled_from(EVENTS)
event_docs = st.one_of(
    some_event,
    st.builds(altered, some_event, st.sampled_from([*sorted({k for e in EVENTS for k in e}), "extra"]),
              st.one_of(st.just(_DROP), json_values)),
    st.builds(lambda e, s: {**e, "signature": s}, some_event, st.sampled_from(["", "AAAA", EVENTS[0]["signature"]])),
    st.builds(lambda e: {**e, "source": "/participants/nobody-at-all"}, some_event),  # registry miss
    json_values,
)
bodies = st.one_of(
    event_docs.map(lambda d: json.dumps(d, ensure_ascii=False).encode()),
    st.lists(event_docs, max_size=4).map(lambda ds: json.dumps(ds).encode()),
    some_event.map(canonicalize),
    st.binary(max_size=60),
    st.sampled_from([b"", b"{", b'{"a":1,"a":2}', b"[]", b"null", b'"text"', b"1e400", b'{"id": "\\ud800"}']),
)
framings = st.sampled_from([
    {}, {"version": b"1.0"}, {"extra": b"connection: close\r\n"}, {"target": b"/v1/events?x=1"},
    {"extra": b"expect: 100-continue\r\n"},
])


class Both:
    def __init__(self, settings: Settings) -> None:
        self.fast = Server(settings, GatewayProtocol)
        self.plain = Server(settings, HttpToolsProtocol)
        for s in (self.fast, self.plain):  # a registry miss refolds first (nothing new here)
            s.intake.store = object()  # type: ignore[assignment]

            async def refresh() -> int:
                return 0

            s.intake.refresh = refresh  # type: ignore[method-assign]

    async def same(self, data: bytes, answers: int = 1) -> list[bytes]:
        fast = await self.fast.exchange(data, answers)
        plain = await self.plain.exchange(data, answers)
        assert fast == plain
        assert self.fast.producer.records == self.plain.producer.records
        assert self.fast.intake.in_flight == self.plain.intake.in_flight == 0
        return fast[0]


@pytest.fixture
def both(gateway_settings: Settings) -> Iterator[Both]:
    yield Both(gateway_settings)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, framing=framings)
def test_the_fast_path_answers_what_the_asgi_route_answers(both: Both, body: bytes, framing: dict[str, Any]) -> None:
    interim = b"expect" in framing.get("extra", b"")  # uvicorn's route answers 100 Continue first
    got = asyncio.run(both.same(request(body, **framing), answers=2 if interim else 1))
    assert len(got) == 1 + interim


async def test_a_valid_event_is_202_with_its_id_and_published_keyed_by_subject(both: Both) -> None:
    event = EVENTS[0]
    [answer] = await both.same(request(json.dumps(event).encode()))
    assert answer.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert answer.endswith(json.dumps({"accepted_for_validation": [event["id"]]}, separators=(",", ":")).encode())
    [(_, key, value, partition, headers)] = both.fast.producer.records
    assert key == event["subject"].encode() and value == canonicalize(event)
    assert partition == DefaultPartitioner()(key, list(range(PARTITIONS)), list(range(PARTITIONS)))
    assert headers == (("content-type", b"application/cloudevents+json"),)


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(both: Both) -> None:
    data = b"".join(request(json.dumps(e).encode()) for e in EVENTS[1:4]) + request(b"{")
    got = await both.same(data, answers=4)
    assert [r[9:12] for r in got] == [b"202", b"202", b"202", b"400"]
    assert [json.loads(r.split(b"\r\n\r\n")[1]).get("accepted_for_validation") for r in got[:3]] == [
        [e["id"]] for e in EVENTS[1:4]]


async def test_chunked_and_oversized_requests_take_the_asgi_route_with_the_same_answers(both: Both) -> None:
    body = json.dumps(EVENTS[5]).encode()
    chunked = (b"POST /v1/events HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n"
               + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    [answer] = await both.same(chunked)
    assert answer.startswith(b"HTTP/1.1 202 ")
    too_big = b"POST /v1/events HTTP/1.1\r\nhost: test\r\ncontent-length: %d\r\n\r\n" % (MAX_REQUEST_BYTES + 1)
    [answer] = await both.same(too_big)
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_broker_failure_is_503_with_retry_after_on_both_paths(both: Both) -> None:
    from aiokafka.errors import KafkaTimeoutError

    for s in (both.fast, both.plain):
        s.producer.fail = KafkaTimeoutError()
    [answer] = await both.same(request(json.dumps(EVENTS[6]).encode()))
    assert answer.startswith(b"HTTP/1.1 503 ") and b"\r\nretry-after: 2\r\n" in answer
    assert b"the broker did not accept the events: KafkaTimeoutError" in answer
    [answer] = await both.same(request(json.dumps(EVENTS[7]).encode()))  # at once, for the next second
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert len(both.fast.producer.records) == 1
