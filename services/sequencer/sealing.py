"""Turning a cut batch of accepted messages into a stored, signed block. No Kafka here.

The deterministic part: given the previous head and the same accepted messages, the same block bytes come
out (the sealed-at time is the newest event time in the block, not a clock reading, so re-sealing the same
topic from scratch is byte-identical).
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
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import Signer
from services.store.postgres import BlockRow, LedgerStore, SealedEvent, pack_hashes

log = logging.getLogger(__name__)


class EnvelopeHead(msgspec.Struct):
    id: str
    type: str
    subject: str
    source: str
    time: str


decode_head = msgspec.json.Decoder(EnvelopeHead).decode


@dataclass(frozen=True, slots=True)
class Accepted:
    """One message of the accepted topic."""

    offset: int
    leaf: bytes  # canonical event bytes, as the validator produced them
    raw_partition: int
    raw_offset: int

    @property
    def size(self) -> int:
        return len(self.leaf)


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
    """The block's time: its latest event time, never before the previous block's, as RFC 3339 UTC.

    Derived from the events, not read from a clock, so re-sealing the same topic gives the same bytes;
    never decreasing, because validators running in parallel can hand the sequencer events out of time
    order."""
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

    @property
    def next_height(self) -> int:
        return self.head.height + 1 if self.head else 0

    @property
    def next_offset(self) -> int | None:
        return self.head.last_offset + 1 if self.head else None

    async def dedupe(self, batch: list[Accepted]) -> tuple[list[tuple[Accepted, EnvelopeHead]], list[Duplicate]]:
        heads = [(m, decode_head(m.leaf)) for m in batch]
        sealed = {str(k): v for k, v in (await self._store.sealed_positions([h.id for _, h in heads])).items()}
        seen: dict[str, tuple[int, int]] = {}
        fresh: list[tuple[Accepted, EnvelopeHead]] = []
        dups: list[Duplicate] = []
        for m, h in heads:
            prior = sealed.get(h.id) or seen.get(h.id)
            if prior is not None:
                dups.append(Duplicate(m, h.id, redelivery=prior == (m.raw_partition, m.raw_offset)))
                continue
            seen[h.id] = (m.raw_partition, m.raw_offset)
            fresh.append((m, h))
        return fresh, dups

    async def seal(self, batch: list[Accepted]) -> tuple[Sealed | None, list[Duplicate]]:
        """Seal the new events of ``batch`` as the next block; return it (None if all were duplicates)."""
        fresh, dups = await self.dedupe(batch)
        if not fresh:
            return None, dups
        height = self.head.height + 1 if self.head else 0
        first_leaf = self.compact.size
        leaves = [m.leaf for m, _ in fresh]
        hashes = [leaf_hash(x) for x in leaves]
        compact = self.compact.copy()
        header, sig, nodes = seal_block(
            ledger_id=self._ledger_id, height=height,
            prev_hash=self.head.header_hash if self.head else GENESIS_PREV_HASH,
            compact_range=compact, leaf_hashes=hashes, source_topic=self._source_topic, source_partition=0,
            first_offset=batch[0].offset, last_offset=batch[-1].offset,
            sealed_at=sealed_at([h.time for _, h in fresh], self.head.sealed_at if self.head else None),
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
        events = [
            SealedEvent(first_leaf + i, h.id, m.leaf, hashes[i], h.type, h.subject,
                        h.source.rsplit("/", 1)[-1], parse_event_time(h.time), m.raw_partition, m.raw_offset)
            for i, (m, h) in enumerate(fresh)
        ]
        await self._store.append(row, events, nodes)
        self.head, self.compact = row, compact
        return Sealed(row, header, leaves, compact), dups
