"""Signed events for the benchmarks, generated once and cached under ``bench/.cache/``.

The events are the simulator's (``services.simulator``): signed CloudEvents from the 太焦线 participants,
with the genesis registry the validators trust. Generating and signing is the slow part, so it happens in
its own step and the result is cached as a flat file of records ``(key, event id, value)`` — exactly what
is published to the raw topic — which later steps stream without re-encoding.

File format (little endian): ``b"CCEV1\\n"`` then per record ``u32 key_len, u32 value_len, 36-byte event
id, key, value``. The genesis document is cached beside it as JSON.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CACHE_DIR, console
from chain_anchor.events import leaf_bytes

MAGIC = b"CCEV1\n"
_HEAD = struct.Struct("<II")
_ID_LEN = 36
DEFAULT_SEED = 20_261_122


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    event_id: str
    value: bytes  # as published (the simulator's compact JSON)

    def leaf(self) -> bytes:
        """The Merkle leaf a validator makes of it: the RFC 8785 bytes of the whole signed envelope."""
        return leaf_bytes(json.loads(self.value))


@dataclass(frozen=True)
class EventFile:
    """A cached, signed event stream (at least ``count`` events) and its genesis registry."""

    path: Path
    count: int
    source: str
    genesis: dict[str, Any]

    def records(self, limit: int | None = None) -> Iterator[Record]:
        """Stream the first ``limit`` records (all when None)."""
        n = self.count if limit is None else min(limit, self.count)
        with open(self.path, "rb", buffering=4 * 2**20) as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError(f"{self.path} is not an event cache file")
            for _ in range(n):
                klen, vlen = _HEAD.unpack(f.read(_HEAD.size))
                event_id = f.read(_ID_LEN).decode("ascii")
                key = f.read(klen)
                yield Record(key, event_id, f.read(vlen))


def _write(path: Path, records: Iterator[Record]) -> int:
    tmp = path.with_suffix(".tmp")
    n = 0
    with open(tmp, "wb", buffering=4 * 2**20) as f:
        f.write(MAGIC)
        for r in records:
            f.write(_HEAD.pack(len(r.key), len(r.value)))
            f.write(r.event_id.encode("ascii"))
            f.write(r.key)
            f.write(r.value)
            n += 1
    tmp.replace(path)
    return n


def event_file(count: int, seed: int = DEFAULT_SEED, cache_dir: Path = CACHE_DIR) -> EventFile:
    """A cache file holding at least ``count`` simulator events for ``seed``; generated (and signed) if missing.

    The simulator is deterministic, so the first ``count`` events of a longer cached stream are the same
    events a shorter run would produce: any cache file at least as long is reused.
    """
    from bench import simsource

    source = "simulator"
    cache_dir.mkdir(parents=True, exist_ok=True)
    current = f"events-{source}-{simsource.version()}-"
    tag = f"{current.removeprefix('events-')}s{seed}"
    existing = sorted(((int(p.stem.rsplit("-n", 1)[1]), p) for p in cache_dir.glob(f"events-{tag}-n*.bin")),
                      key=lambda x: x[0])
    for n, path in existing:
        if n >= count:
            genesis = json.loads(path.with_suffix(".genesis.json").read_text(encoding="utf-8"))
            return EventFile(path, n, source, genesis)
    path = cache_dir / f"events-{tag}-n{count}.bin"
    console.print(f"generating and signing {count:,} events ({source}, seed {seed}) → {path.name}")
    t0 = time.perf_counter()
    genesis, records = simsource.generate(count, seed)
    written = _write(path, records)
    if written != count:
        raise RuntimeError(f"the {source} produced {written} events, {count} were asked for")
    path.with_suffix(".genesis.json").write_text(json.dumps(genesis, ensure_ascii=False), encoding="utf-8")
    elapsed = time.perf_counter() - t0
    console.print(f"  {count:,} events in {elapsed:.1f} s ({count / elapsed:,.0f} events/s)")
    stale = [p for _, p in existing] + [p for p in cache_dir.glob("events-*.bin") if not p.name.startswith(current)]
    for old in stale:  # shorter caches of this very stream (prefixes of this one), caches of an older simulator
        old.unlink(missing_ok=True)
        old.with_suffix(".genesis.json").unlink(missing_ok=True)
    return EventFile(path, count, source, genesis)
