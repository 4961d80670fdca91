"""One block in, one transaction out: the views worker behind the faust agent (and the tests).

Nothing is folded unverified: the next block must pass :class:`services.blockverify.BlockVerifier` on top of
the last folded one (sequencer signature from the trust set, link, height, leaves, checkpoint). A record that
does not — forged, garbage, unlinked — is logged, recorded in ``views_rejected_blocks`` and skipped; the
genuine block at that height folds when it comes. Idempotent by height: a block at or below the stored
height is skipped (a redelivery changes nothing; the stored progress is re-read first, in case a rebuild
moved it back); a genuine block beyond the next height is a gap the caller must fill by reading the topic
from further back (a forged one is rejected, so it never sends the caller reading). An event of a genuine
block that the fold cannot take (a time beyond the calendar, or any fold error) is quarantined with the
reason (``views_quarantined_events``, counted as skipped) and the rest of the block folds. Only
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

from services import blockverify
from services.blockverify import BlockRejected, BlockVerifier, Tip, VerifiedBlock
from services.views import checks
from services.views import rows as rowops
from services.views.entities import Entity, EntityRef
from services.views.fold import BlockDelta, Fold, Indexed, needs, parse
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
    REJECTED = "rejected"  # not a genuine next block (see blockverify): recorded, skipped, never folded


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    height: int  # the block's height
    stored_height: int  # the views' height after this call
    events: int = 0
    rows: int = 0
    elapsed_ms: float = 0.0
    reason: str = ""
    quarantined: int = 0


class ViewsWorker:
    def __init__(self, store: ViewStore, *, verifier: BlockVerifier, ref: Line | None = None,
                 entity_cache: int = 200_000, row_cache: int = 100_000) -> None:
        self.store = store
        self.verifier = verifier
        self.line = ref or line()
        self.entities: LRU[EntityRef, Entity | None] = LRU(entity_cache)
        self.rows: LRU[Ref, Row | None] = LRU(row_cache)
        self.tip = Tip()
        self.rejected = 0  # records rejected by this process (the stored count is in views_rejected_blocks)

    @property
    def height(self) -> int:
        return self.tip.height

    async def start(self) -> None:
        await self._reload()
        log.info("views worker starts at height %d", self.height)

    async def resync(self) -> None:
        """Forget the caches and re-read the tip from the stored progress (someone else moved it)."""
        self._forget()
        await self._reload()

    async def _reload(self) -> None:
        """The tip from the stored progress; its tree size from the ledger table when the header matches."""
        p = await self.store.progress()
        if p.height < 0 or p.header_hash is None:
            self.tip = Tip()
            return
        size = await self.store.pool.fetchval(
            "SELECT tree_size FROM ledger_blocks WHERE height = $1 AND header_hash = $2",
            p.height, bytes.fromhex(p.header_hash))
        self.tip = Tip(p.height, bytes.fromhex(p.header_hash), size)

    async def apply(self, value: bytes, offset: int = -1) -> Result:
        """Fold one blocks-topic record (at topic ``offset``) into the views; see the module docstring."""
        try:
            msg = blockverify.decode(value)
        except BlockRejected as e:
            return await self._reject(offset, e)
        claimed = blockverify.claimed_height(msg)
        for _ in range(10):  # a rebuild and the running worker may race for the same heights: both are right
            if 0 <= claimed <= self.height:
                stored = await self.store.progress()
                if stored.height == self.height:
                    return Result(Outcome.REDELIVERED, claimed, self.height)
                log.log(logging.WARNING if stored.height < self.height else logging.INFO,
                        "views progress moved from %d to %d (a rebuild, or another worker); reloading",
                        self.height, stored.height)
                self._forget()
                await self._reload()
                continue
            try:
                block = self.verifier.verify_message(msg, self.tip if claimed <= self.height + 1 else None)
            except BlockRejected as e:
                return await self._reject(offset, e)
            if block.height != self.height + 1:
                return Result(Outcome.GAP, block.height, self.height)
            try:
                return await self._apply(block)
            except StaleProgress as e:
                log.info("%s; reloading", e)
                self._forget()
                await self._reload()
            except BaseException:
                self._forget()
                raise
        raise StaleProgress(self.height, self.height)  # progress moved under us ten times in a row

    async def _reject(self, offset: int, e: BlockRejected) -> Result:
        self.rejected += 1
        log.warning("views: REJECTED the blocks-topic record at offset %d (claims height %d): %s; skipped, not"
                    " folded", offset, e.height, e.reason)
        await checks.record_rejected(self.store.pool, offset, e.height, e.reason)
        return Result(Outcome.REJECTED, e.height, self.height, reason=e.reason)

    async def _apply(self, block: VerifiedBlock) -> Result:
        started = time.perf_counter()
        events, skipped = parse(block.msg.events, block.header.first_leaf_index)
        entities = await self._entities(needs(events))
        delta, quarantined = self._fold(block.height, events, skipped, entities)
        if quarantined:
            for leaf, reason in quarantined:
                log.warning("views: QUARANTINED leaf %d of block %d: %s", leaf, block.height, reason)
            await checks.record_quarantined(self.store.pool, block.height, quarantined)
        changed = rowops.apply(delta, await self._rows(delta.refs()))
        await self.store.commit(self.height, delta, changed, block.header_hash.hex())
        for ref, entity in delta.entities.items():
            self.entities.put(ref, entity)
        for row_ref, row in changed.items():
            self.rows.put(row_ref, {k: v for k, v in row.items() if k != "height"})
        self.tip = block.tip()
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("views at height %d: %d events, %d rows changed in %.1f ms", block.height, delta.events_applied,
                  len(changed), elapsed)
        return Result(Outcome.APPLIED, block.height, self.height, delta.events_applied, len(changed), elapsed,
                      quarantined=len(quarantined))

    def _fold(self, height: int, events: list[Indexed], skipped: int,
              entities: dict[EntityRef, Entity | None]) -> tuple[BlockDelta, list[tuple[int, str]]]:
        """Fold the block; the events the fold cannot take are left out and returned with the reason.

        The fold is pure, so an exception is the event's doing, not the moment's: first screen what is known
        to break it (times whose business day is beyond the calendar), then, if the fold still raises, find
        the events that fail alone, then (failures that need earlier events) the first prefix that fails."""
        quarantined: list[tuple[int, str]] = []
        kept: list[Indexed] = []
        for ix in events:
            try:
                ix.day, ix.at  # noqa: B018 - both convert the time: raise on a day beyond the calendar
            except (OverflowError, ValueError) as e:
                quarantined.append((ix.seq, f"time-out-of-range: {ix.event.time!r}: {e}"))
            else:
                kept.append(ix)
        try:
            return Fold(height, dict(entities), self.line).apply(kept, skipped + len(quarantined)), quarantined
        except Exception as e:
            log.warning("views: the fold of block %d failed (%s: %s); isolating the events", height,
                        type(e).__name__, e)
        alone: list[Indexed] = []
        for ix in kept:
            try:
                Fold(height, dict(entities), self.line).apply([ix])
                alone.append(ix)
            except Exception as e:
                quarantined.append((ix.seq, f"fold-error: {type(e).__name__}: {e}"))
        good: list[Indexed] = []
        for ix in alone:
            try:
                Fold(height, dict(entities), self.line).apply([*good, ix])
                good.append(ix)
            except Exception as e:
                quarantined.append((ix.seq, f"fold-error after earlier events: {type(e).__name__}: {e}"))
        quarantined.sort()
        return Fold(height, entities, self.line).apply(good, skipped + len(quarantined)), quarantined

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
