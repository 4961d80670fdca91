"""Turning a cut batch of checked verdict records into a stored, signed block. No Kafka here.

The deterministic part: given the previous head and the same accepted records, the same block bytes come
out (the sealed-at time is the newest ``verified_at`` of the block's verdict records — a validator's signed
clock reading that is in the topic — never before the previous block's, so re-sealing the same topic from
scratch is byte-identical).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import msgspec

from chain_anchor.block import GENESIS_PREV_HASH, BlockHeader, header_bytes, header_hash, seal_block
from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import Checkpoint, SignedNote, sign_note
from chain_anchor.compact import CompactRange
from chain_anchor.keys import Signer
from services.store.errors import EventAlreadySealed
from services.store.postgres import BlockRow, EventRow, LedgerStore, pack_hashes

log = logging.getLogger(__name__)


class EnvelopeHead(msgspec.Struct):
    id: str
    type: str
    subject: str
    source: str
    time: str


decode_head = msgspec.json.Decoder(EnvelopeHead).decode


@dataclass(slots=True)  # not frozen: one per event (a frozen init costs 4x)
class Accepted:
    """One checked entry of a verdict record of the accepted topic."""

    offset: int  # accepted-topic offset of its verdict record
    index: int  # its position in that record
    leaf: bytes  # canonical event bytes, as the validator produced them
    leaf_hash: bytes
    raw_partition: int
    raw_offset: int
    head: EnvelopeHead
    event_time: datetime

    @property
    def size(self) -> int:
        return len(self.leaf)


@dataclass(frozen=True, slots=True)
class VerdictBatch:
    """The checked entries of one verdict record: a unit the cutter never splits across blocks."""

    offset: int
    verified_at: str
    entries: list[Accepted]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class Duplicate:
    """An accepted message whose event id is already sealed (or earlier in the same batch)."""

    message: Accepted
    event_id: str
    redelivery: bool  # same raw position as the sealed copy: a validator re-read it; else a replay


@dataclass(frozen=True)
class Sealed:
    row: BlockRow
    header: BlockHeader
    leaves: list[bytes]
    compact: CompactRange
    event_times: list[datetime]  # of the leaves, in order (already parsed by the intake checks)


def checkpoint_origin(ledger_id: str) -> str:
    """The C2SP checkpoint origin line of a ledger."""
    return f"taijiao-coalchain.cn/ledger/{ledger_id}"


def checkpoint_note(ledger_id: str, tree_size: int, log_root: bytes, signer: Signer) -> bytes:
    """The C2SP signed note of the tree head, signed by the sequencer key under the origin's name."""
    origin = checkpoint_origin(ledger_id)
    checkpoint = Checkpoint(origin, tree_size, log_root)
    return SignedNote(checkpoint.text(), (sign_note(checkpoint.body(), signer, origin),)).to_bytes()


def parse_event_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def sealed_at(times: list[str], previous: datetime | None = None) -> str:
    """The latest of ``times`` (the block's verdicts' ``verified_at``), never before the previous block's,
    as RFC 3339 UTC.

    Read from the topic, not from the sequencer's clock, so re-sealing the same topic gives the same bytes;
    never decreasing, because validators' clocks differ and their verdicts interleave."""
    latest = max(parse_event_time(t) for t in times)
    if previous is not None and previous > latest:
        latest = previous
    return latest.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if latest.microsecond else latest.strftime("%Y-%m-%dT%H:%M:%SZ")


class BlockSealer:
    """Holds the log head in memory; seals batches on top of it."""

    def __init__(self, store: LedgerStore, signer: Signer, *, ledger_id: str, source_topic: str,
                 head: BlockRow | None) -> None:
        self._store = store
        self._signer = signer
        self._ledger_id = ledger_id
        self._source_topic = source_topic
        self.head = head
        self.compact = CompactRange(head.tree_size, head.compact_hashes()) if head else CompactRange()
        # first accepted offset of the next block: right after the previous block's range, so consecutive
        # ranges are contiguous; None when reading starts at the topic's beginning (set by the caller)
        self.range_start: int | None = head.last_offset + 1 if head else None

    @property
    def next_height(self) -> int:
        return self.head.height + 1 if self.head else 0

    @property
    def next_offset(self) -> int | None:
        return self.head.last_offset + 1 if self.head else None

    async def dedupe(self, batch: list[Accepted]) -> tuple[list[Accepted], list[Duplicate]]:
        """The events of ``batch`` not yet sealed nor earlier in it, and the others as duplicates: a
        redelivery if read at the same raw position as the sealed (or earlier) copy, else a replay."""
        sealed = {str(k): v for k, v in (await self._store.sealed_positions([m.head.id for m in batch])).items()}
        return self._split(batch, sealed)

    @staticmethod
    def _split(batch: list[Accepted],
               sealed: dict[str, tuple[int, int]]) -> tuple[list[Accepted], list[Duplicate]]:
        seen: dict[str, tuple[int, int]] = {}
        fresh: list[Accepted] = []
        dups: list[Duplicate] = []
        for m in batch:
            prior = sealed.get(m.head.id) or seen.get(m.head.id)
            if prior is not None:
                dups.append(Duplicate(m, m.head.id, redelivery=prior == (m.raw_partition, m.raw_offset)))
                continue
            seen[m.head.id] = (m.raw_partition, m.raw_offset)
            fresh.append(m)
        return fresh, dups

    async def seal(self, batch: list[VerdictBatch]) -> tuple[Sealed | None, list[Duplicate]]:
        """Seal the new events of ``batch`` as the next block; return it (None if all were duplicates).

        The block covers the accepted offsets from :attr:`range_start` (or the batch's first record) to the
        batch's last record, the records in between included (time-to-cut markers, quarantined records).

        Duplicates of sealed events are found by the unique index on ``event_id`` as the block is stored (the
        ledger holds each id once): the block is first stored with the duplicates within the batch removed,
        and only if the index refuses it (a redelivery or a replay of a sealed event, rare) are the batch's ids
        looked up and the block sealed again without them — the same block and the same duplicates either
        way, without a query of 2,000 ids per block on the common path."""
        entries = [e for v in batch for e in v.entries]
        fresh, dups = self._split(entries, {})
        if fresh:
            try:
                return await self._seal_fresh(batch, fresh), dups
            except EventAlreadySealed as e:
                log.info("%s: looking up the block's event ids", e)
        fresh, dups = await self.dedupe(entries)
        if not fresh:
            return None, dups
        return await self._seal_fresh(batch, fresh), dups

    async def _seal_fresh(self, batch: list[VerdictBatch], fresh: list[Accepted]) -> Sealed:
        height = self.head.height + 1 if self.head else 0
        first_leaf = self.compact.size
        leaves = [m.leaf for m in fresh]
        hashes = [m.leaf_hash for m in fresh]
        compact = self.compact.copy()
        first_offset = batch[0].offset if self.range_start is None else min(self.range_start, batch[0].offset)
        header, sig, nodes = seal_block(
            ledger_id=self._ledger_id, height=height,
            prev_hash=self.head.header_hash if self.head else GENESIS_PREV_HASH,
            compact_range=compact, leaf_hashes=hashes, source_topic=self._source_topic, source_partition=0,
            first_offset=first_offset, last_offset=batch[-1].offset,
            sealed_at=sealed_at([v.verified_at for v in batch], self.head.sealed_at if self.head else None),
            signer=self._signer,
        )
        row = BlockRow(
            height=height, header=header_bytes(header), header_hash=header_hash(header),
            signatures=canonicalize([sig.to_json()]),
            first_leaf_index=first_leaf, leaf_count=len(leaves), tree_size=header.tree_size,
            log_root=header.log_root, source_partition=0,
            first_offset=header.first_offset, last_offset=header.last_offset,
            compact_range=pack_hashes(compact.hashes),
            checkpoint=checkpoint_note(self._ledger_id, header.tree_size, header.log_root, self._signer),
            sealed_at=parse_event_time(header.sealed_at),
        )
        rows: list[EventRow] = [
            (i, h.id, height, m.leaf, m.leaf_hash, h.type, h.subject, h.source.rsplit("/", 1)[-1], m.event_time,
             m.raw_partition, m.raw_offset, m.offset, m.index)
            for i, m in enumerate(fresh, first_leaf) for h in (m.head,)
        ]
        await self._store.append_rows(row, rows, nodes)
        self.head, self.compact = row, compact
        self.range_start = row.last_offset + 1
        return Sealed(row, header, leaves, compact, [m.event_time for m in fresh])
