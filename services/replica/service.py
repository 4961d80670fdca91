"""``coalchain replica``: consume the blocks topic, verify every block, store it in our own database.

A block is stored only after it verifies against our own copy of the chain (strict decoding, sequencer
signature from the trust set, link, height, leaf range, roots, checkpoint, publisher signatures). A
redelivered height (≤ our head) is skipped. Anything else that does not verify — forged, garbage, unlinked,
beyond the next height — is logged (WARNING with offset, height and reason), counted (``rejected``) and
skipped: nothing after our head is stored until the genuine next block comes, and the replica goes on. A
*genuine* block beyond the next height (signed by the trust set) means reading began too far on — a broker
that lost the blocks topic while our position was within the refilled one — and sends the replica back to
offset ``head + 1`` (the first copy of height h sits at offset h or later), once per such block; what it
reads again is not counted again.
A replica never holds an unverified block, and a forger cannot stop it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import msgspec
from aiokafka import TopicPartition

from chain_anchor.canonical import canonicalize
from chain_anchor.compact import CompactRange
from services import blockmsg, db, metrics
from services.blockverify import BlockRejected, BlockVerifier, Tip, claimed_height
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.ledger_check import BlockChecker, BlockInvalid, ChainState, CheckedBlock
from services.sequencer.sealing import decode_head, parse_event_time
from services.store.postgres import BlockRow, LedgerStore, SealedEvent, pack_hashes

log = logging.getLogger(__name__)


def rows_for(
    msg: blockmsg.BlockMessage, checked: CheckedBlock, leaves: list[bytes]
) -> tuple[BlockRow, list[SealedEvent]]:
    h = checked.header
    row = BlockRow(
        height=h.height, header=canonicalize(msg.header), header_hash=checked.header_hash,
        signatures=canonicalize(msg.signatures), first_leaf_index=h.first_leaf_index, leaf_count=h.leaf_count,
        tree_size=h.tree_size, log_root=h.log_root, source_partition=h.source_partition,
        first_offset=h.first_offset, last_offset=h.last_offset, compact_range=pack_hashes(checked.compact.hashes),
        checkpoint=msg.checkpoint.encode(), sealed_at=parse_event_time(h.sealed_at),
    )
    events = []
    for i, (leaf, digest) in enumerate(zip(leaves, checked.leaf_hashes, strict=True)):
        head = decode_head(leaf)
        events.append(SealedEvent(h.first_leaf_index + i, uuid.UUID(head.id), leaf, digest, head.type,
                                  head.subject, head.source.rsplit("/", 1)[-1], parse_event_time(head.time), -1, -1))
    return row, events


class Replica:
    def __init__(self, settings: Settings, checker: BlockChecker) -> None:
        self.settings = settings
        self.checker = checker
        self.verifier = BlockVerifier(ledger_id=checker.ledger_id, keys=checker.sequencer_keys,
                                      key_source="the replica's trust set")
        self.topics = Topics.from_settings(settings)
        self.stored = 0
        self.rejected = 0

    async def state_from(self, store: LedgerStore) -> ChainState:
        head = await store.head()
        if head is None:
            return ChainState()
        return ChainState(head.height, head.header_hash, CompactRange(head.tree_size, head.compact_hashes()))

    async def apply(self, store: LedgerStore, state: ChainState, value: bytes) -> ChainState:
        """Store the block in ``value`` if it is the verified next one; raise :class:`BlockInvalid` otherwise
        (a redelivery is not an error: ``state`` comes back unchanged)."""
        try:
            msg = blockmsg.decode(value)
        except (msgspec.MsgspecError, ValueError, TypeError) as e:
            raise BlockInvalid(-1, f"not a blocks-topic message: {e}") from e
        height = claimed_height(msg)
        if 0 <= height <= state.height:
            return state  # redelivered
        try:  # the check every blocks-topic reader runs (services/blockverify.py) ...
            self.verifier.verify_message(msg, Tip(state.height, state.header_hash, state.compact.size))
        except BlockRejected as e:
            raise BlockInvalid(e.height, e.reason) from e
        try:  # ... then what a replica checks on top: the log root, the publisher signatures
            leaves = msg.leaves()
            checked = self.checker.check(state, canonicalize(msg.header), msg.signatures, leaves,
                                         msg.checkpoint.encode())
            row, events = rows_for(msg, checked, leaves)
        except (ValueError, TypeError, KeyError, msgspec.MsgspecError) as e:
            raise BlockInvalid(height, f"malformed: {type(e).__name__}: {e}") from e
        await store.append(row, events, checked.nodes)
        self.stored += 1
        metrics.block_stored(row.height)
        return BlockChecker.advance(state, checked)

    def _genuine_beyond(self, value: bytes, state: ChainState) -> bool:
        """Whether ``value`` is a block signed by a trusted sequencer key beyond our next height (a forged one
        is not, so a forger cannot send the replica reading again)."""
        try:
            block = self.verifier.verify(value, None)
        except BlockRejected:
            return False
        return block.height > state.height + 1

    async def run(self, stop: asyncio.Event) -> None:
        pool = await db.create_pool(self.settings, role="replica", min_size=1, max_size=2)
        store = LedgerStore(pool)
        consumer = clients.consumer(self.settings)
        await consumer.start()
        try:
            state = await self.state_from(store)
            tp = TopicPartition(self.topics.blocks, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            sought_from = -1  # the offset of the last genuine block beyond the next height that sent us back
            while not stop.is_set():
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=50)
                await metrics.consumer_lag("coalchain-replica", consumer)
                for record in batch.get(tp, []):
                    try:
                        state = await self.apply(store, state, record.value or b"")
                    except BlockInvalid as e:
                        if record.offset <= sought_from:
                            continue  # read again after a gap: counted and logged the first time
                        self.rejected += 1
                        log.warning("replica: REJECTED the blocks-topic record at offset %d (claims height %d): %s;"
                                    " skipped, nothing stored (%d rejected so far)", record.offset, e.height,
                                    e.reason, self.rejected)
                        if record.offset > state.height + 1 and self._genuine_beyond(record.value or b"", state):
                            # a gap: reading began after the next block (a blocks topic that a restarted broker
                            # lost and the sequencer refilled, while our position was within the new topic);
                            # the first copy of height h is at offset h or later: read again from there, once
                            log.warning("replica: height %d at offset %d is beyond the next height %d; reading the"
                                        " topic again from offset %d", e.height, record.offset, state.height + 1,
                                        state.height + 1)
                            sought_from = record.offset
                            consumer.seek(tp, max(0, state.height + 1))
                            break
        finally:
            await consumer.stop()
            await pool.close()
