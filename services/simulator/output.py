"""Serialising and pacing the stream: JSON bytes, JSON lines, rate limits and bounds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

__all__ = ["Bounds", "Pacer", "bounded", "to_json_bytes", "write_jsonl"]


def to_json_bytes(envelope: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of an envelope (as published; not necessarily RFC 8785 canonical)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Pacer:
    """When each event may go out: as fast as possible, at ``rate_per_s``, or in step with event time.

    ``realtime`` releases each event when as much wall time has passed since the first event as event time
    has (so with ``--time-compression`` the stream is live); otherwise ``rate_per_s`` > 0 spaces events
    evenly, and 0 means no waiting. ``clock`` is injectable for tests.
    """

    rate_per_s: float = 0.0
    realtime: bool = False
    clock: Callable[[], float] = time.monotonic
    anchor: datetime | None = None
    """Realtime only: the event time that corresponds to the pacer's start (default: the first event's).
    Anchored at the wall clock, events already in the past go out at once, then the stream is live."""
    _t0: float | None = field(default=None, init=False)
    _first: datetime | None = field(default=None, init=False)

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = self.clock()

    def elapsed_s(self) -> float:
        self.start()
        assert self._t0 is not None
        return self.clock() - self._t0

    def delay_s(self, index: int, event_time: str) -> float:
        """Seconds to wait before sending the ``index``-th event (0-based) whose ``time`` is ``event_time``."""
        elapsed = self.elapsed_s()
        if self.realtime:
            t = datetime.fromisoformat(event_time)
            if self._first is None:
                self._first = self.anchor or t
            due = (t - self._first).total_seconds()
        elif self.rate_per_s > 0:
            due = index / self.rate_per_s
        else:
            return 0.0
        return max(0.0, due - elapsed)


@dataclass(frozen=True)
class Bounds:
    """Stop after ``count`` events or ``duration_s`` seconds of wall time, whichever comes first."""

    count: int | None = None
    duration_s: float | None = None


def bounded(events: Iterable[dict[str, Any]], bounds: Bounds, pacer: Pacer) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, envelope)`` until a bound is reached (never pulls one event too many)."""
    pacer.start()
    it = iter(events)
    index = 0
    while bounds.count is None or index < bounds.count:
        if bounds.duration_s is not None and pacer.elapsed_s() >= bounds.duration_s:
            return
        envelope = next(it, None)
        if envelope is None:
            return
        yield index, envelope
        index += 1


def write_jsonl(
    events: Iterable[dict[str, Any]],
    out: BinaryIO,
    *,
    bounds: Bounds | None = None,
    pacer: Pacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Callable[[int], None] | None = None,
) -> int:
    """Write one JSON object per line; return how many were written."""
    pacer = pacer or Pacer()
    written = 0
    for index, envelope in bounded(events, bounds or Bounds(), pacer):
        wait = pacer.delay_s(index, envelope["time"])
        if wait > 0:
            sleep(wait)
        out.write(to_json_bytes(envelope) + b"\n")
        written += 1
        if on_event is not None:
            on_event(written)
    out.flush()
    return written
