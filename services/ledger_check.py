"""Checking sealed blocks against the chain so far: shared by ``coalchain verify`` and ``coalchain replica``.

Everything is recomputed from the bytes: canonical header, header hash and link, sequencer signatures,
leaf hashes, the block's Merkle root, the log root after the block (by extending the compact range), the
signed checkpoint, and optionally every event's publisher signature. The first failure raises
:class:`BlockInvalid` naming the height and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chain_anchor.block import GENESIS_PREV_HASH, BlockHeader, HeaderSignature, header_bytes, header_hash, verify_header
from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import NoteVerifier, verify_checkpoint
from chain_anchor.compact import CompactRange
from chain_anchor.errors import ChainAnchorError
from chain_anchor.events import verify_event
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing
from chain_anchor.merkle import root
from services.sequencer.sealing import checkpoint_origin
from services.trustset import RotationInvalid, SequencerKeys


class BlockInvalid(Exception):
    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"block {height}: {reason}")
        self.height = height
        self.reason = reason


@dataclass
class ChainState:
    """What a verifier carries from one block to the next."""

    height: int = -1
    header_hash: bytes = GENESIS_PREV_HASH
    compact: CompactRange = field(default_factory=CompactRange)


@dataclass(frozen=True)
class CheckedBlock:
    header: BlockHeader
    header_hash: bytes
    leaf_hashes: list[bytes]
    nodes: list[tuple[int, int, bytes]]
    compact: CompactRange


class BlockChecker:
    def __init__(self, *, ledger_id: str, sequencer_keys: KeyRing, event_keys: KeyRing | None = None,
                 schedule: SequencerKeys | None = None) -> None:
        self.ledger_id = ledger_id
        self.schedule = schedule  # key rotations: which key seals which height (services/trustset.py)
        self.sequencer_keys = schedule.ring if schedule else sequencer_keys
        self.event_keys = event_keys  # None: publisher signatures are not re-checked
        self.origin = checkpoint_origin(ledger_id)
        self.note_verifiers = [NoteVerifier(self.origin, 1, k) for k in self.sequencer_keys.values()]

    def check(self, state: ChainState, header_raw: bytes, signatures: list[dict[str, Any]], leaves: list[bytes],
              checkpoint: bytes) -> CheckedBlock:
        """Check one block on top of ``state`` (not modified). Raise :class:`BlockInvalid`."""
        height = state.height + 1
        try:
            return self._check(state, height, header_raw, signatures, leaves, checkpoint)
        except ChainAnchorError as e:
            raise BlockInvalid(height, f"{type(e).__name__}: {e}") from e

    def _check(self, state: ChainState, height: int, header_raw: bytes, signatures: list[dict[str, Any]],
               leaves: list[bytes], checkpoint: bytes) -> CheckedBlock:
        try:
            header = BlockHeader.from_json(json.loads(header_raw))
        except ValueError as e:
            raise BlockInvalid(height, f"header does not parse: {e}") from e
        if header_bytes(header) != header_raw:
            raise BlockInvalid(height, "header bytes are not the canonical encoding")
        if header.height != height:
            raise BlockInvalid(height, f"header says height {header.height}")
        if header.ledger_id != self.ledger_id:
            raise BlockInvalid(height, f"header is for ledger {header.ledger_id!r}")
        if header.prev_hash != state.header_hash:
            raise BlockInvalid(height, "prev_hash does not match the previous header's hash")
        verify_header(header, [HeaderSignature.from_json(s) for s in signatures], self.sequencer_keys)
        if header.first_leaf_index != state.compact.size or header.leaf_count != len(leaves):
            raise BlockInvalid(height, f"leaf range [{header.first_leaf_index}, {header.tree_size}) does not"
                               f" follow tree size {state.compact.size} with {len(leaves)} leaves")
        hashes = [leaf_hash(x) for x in leaves]
        if root(hashes) != header.block_root:
            raise BlockInvalid(height, "block_root does not match the block's leaves")
        compact = state.compact.copy()
        nodes = compact.extend(hashes)
        if compact.root() != header.log_root:
            raise BlockInvalid(height, "log_root is not the root of the log extended by this block")
        cp = verify_checkpoint(checkpoint, self.note_verifiers, origin=self.origin)
        if (cp.tree_size, cp.root_hash) != (header.tree_size, header.log_root):
            raise BlockInvalid(height, "the checkpoint does not match the header's tree size and root")
        if self.event_keys is not None:
            self._check_events(height, header.first_leaf_index, leaves)
        digest = header_hash(header)
        if self.schedule is not None:
            try:
                self.schedule.check_block(height, header.sequencer_key_id, digest)
            except RotationInvalid as e:
                raise BlockInvalid(height, str(e)) from e
        return CheckedBlock(header, digest, hashes, nodes, compact)

    def _check_events(self, height: int, first: int, leaves: list[bytes]) -> None:
        assert self.event_keys is not None
        for i, leaf in enumerate(leaves):
            envelope = json.loads(leaf)
            if canonicalize(envelope) != leaf:
                raise BlockInvalid(height, f"leaf {first + i} is not canonical JSON")
            try:
                verify_event(envelope, self.event_keys)
            except ChainAnchorError as e:
                raise BlockInvalid(height, f"leaf {first + i}: publisher signature: {e}") from e

    @staticmethod
    def advance(state: ChainState, block: CheckedBlock) -> ChainState:
        return ChainState(block.header.height, block.header_hash, block.compact)
