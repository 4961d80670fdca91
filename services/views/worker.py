"""One block in, one transaction out: the views worker behind the faust agent (and the tests).

Idempotent by height: a block at or below the stored height is skipped (a redelivery changes nothing); a
block beyond the next height is a gap the caller must fill by reading the topic from further back. Only
the entities and rows a block touches are read — from a bounded in-memory cache, else from PostgreSQL —
so memory stays flat however long the ledger grows. The cache only ever holds committed state: it is
updated after the commit and dropped whenever a write fails or another writer moved the progress.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

from chain_anchor.block import BlockHeader, header_hash
from services import blockmsg
from services.views import rows as rowops
from services.views.entities import Entity, EntityRef
from services.views.fold import Fold, needs, parse
from services.views.model import Line, Ref, Row, line
from services.views.postgres import StaleProgress, ViewStore

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entries."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._d: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def get(self, key: K) -> V:
        self._d.move_to_end(key)
        return self._d[key]

    def put(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.max_size:
            self._d.popitem(last=False)

    def clear(self) -> None:
        self._d.clear()


class Outcome(enum.Enum):
    APPLIED = "applied"
    REDELIVERED = "redelivered"
    GAP = "gap"
    MALFORMED = "malformed"  # not a blocks-topic message: skipped (the height check still guards the gap)


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    height: int  # the block's height
    stored_height: int  # the views' height after this call
    events: int = 0
    rows: int = 0
    elapsed_ms: float = 0.0


class ViewsWorker:
    def __init__(self, store: ViewStore, *, ref: Line | None = None, entity_cache: int = 200_000,
                 row_cache: int = 100_000) -> None:
        self.store = store
        self.line = ref or line()
        self.entities: LRU[EntityRef, Entity | None] = LRU(entity_cache)
        self.rows: LRU[Ref, Row | None] = LRU(row_cache)
        self.height = -1

    async def start(self) -> None:
        self.height = (await self.store.progress()).height
        log.info("views worker starts at height %d", self.height)

    async def apply(self, value: bytes) -> Result:
        """Fold one blocks-topic message into the views (see the module docstring for the outcomes)."""
        try:
            msg = blockmsg.decode(value)
            int(msg.header["first_leaf_index"])
        except (msgspec.MsgspecError, KeyError, TypeError, ValueError) as e:
            log.error("views: a blocks-topic message is not a block (%s); skipped", e)
            return Result(Outcome.MALFORMED, -1, self.height)
        for _ in range(3):
            if msg.height <= self.height:
                return Result(Outcome.REDELIVERED, msg.height, self.height)
            if msg.height != self.height + 1:
                return Result(Outcome.GAP, msg.height, self.height)
            try:
                return await self._apply(msg)
            except StaleProgress as e:
                log.warning("%s; reloading", e)
                self._forget()
                self.height = e.stored
            except BaseException:
                self._forget()
                raise
        raise StaleProgress(self.height, self.height)  # progress moved under us three times in a row

    async def _apply(self, msg: blockmsg.BlockMessage) -> Result:
        started = time.perf_counter()
        events, skipped = parse(msg.events, int(msg.header["first_leaf_index"]))
        entities = await self._entities(needs(events))
        delta = Fold(msg.height, entities, self.line).apply(events, skipped)
        changed = rowops.apply(delta, await self._rows(delta.refs()))
        digest = header_hash(BlockHeader.from_json(msg.header)).hex()
        await self.store.commit(self.height, delta, changed, digest)
        for ref, entity in delta.entities.items():
            self.entities.put(ref, entity)
        for row_ref, row in changed.items():
            self.rows.put(row_ref, {k: v for k, v in row.items() if k != "height"})
        self.height = msg.height
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("views at height %d: %d events, %d rows changed in %.1f ms", msg.height, delta.events_applied,
                  len(changed), elapsed)
        return Result(Outcome.APPLIED, msg.height, self.height, delta.events_applied, len(changed), elapsed)

    async def _entities(self, refs: Iterable[EntityRef]) -> dict[EntityRef, Entity | None]:
        out: dict[EntityRef, Entity | None] = {}
        missing: list[EntityRef] = []
        for ref in refs:
            if ref in self.entities:
                out[ref] = self.entities.get(ref)
            else:
                missing.append(ref)
        for ref, entity in (await self.store.load_entities(missing)).items():
            self.entities.put(ref, entity)
            out[ref] = entity
        return out

    async def _rows(self, refs: Iterable[Ref]) -> dict[Ref, Row | None]:
        out: dict[Ref, Row | None] = {}
        missing: list[Ref] = []
        for ref in refs:
            if ref in self.rows:
                out[ref] = self.rows.get(ref)
            else:
                missing.append(ref)
        for ref, row in (await self.store.load_rows(missing)).items():
            self.rows.put(ref, row)
            out[ref] = row
        return out

    def _forget(self) -> None:
        self.entities.clear()
        self.rows.clear()
