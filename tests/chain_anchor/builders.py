"""Build small valid ledgers (headers, signatures, leaves, proofs) for block and chain tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from chain_anchor.block import GENESIS_PREV_HASH, BlockHeader, HeaderSignature, header_hash, seal_block
from chain_anchor.compact import CompactRange
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing, Signer
from chain_anchor.merkle import consistency_proof

SEQUENCER = Signer.from_seed(b"\x5e" * 32)
OTHER = Signer.from_seed(b"\x07" * 32)
TOPIC = "coal.events.accepted.v1"


def make_leaves(count: int, start: int = 0) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(b"event %d" % i).digest()) for i in range(start, start + count)]


@dataclass
class Ledger:
    """A sequence of sealed blocks with everything a verifier needs."""

    headers: list[BlockHeader] = field(default_factory=list)
    signatures: list[list[HeaderSignature]] = field(default_factory=list)
    leaves: list[list[bytes]] = field(default_factory=list)
    ranges: list[CompactRange] = field(default_factory=list)  # state *before* each block

    @property
    def all_leaves(self) -> list[bytes]:
        return [h for block in self.leaves for h in block]

    def pairs(self) -> list[tuple[BlockHeader, list[HeaderSignature]]]:
        return list(zip(self.headers, self.signatures, strict=True))

    def proofs(self) -> dict[int, list[bytes]]:
        everything = self.all_leaves
        return {
            h.height: consistency_proof(size1=prev.tree_size, leaf_hashes=everything[: h.tree_size])
            for prev, h in zip(self.headers, self.headers[1:], strict=False)
        }


def build_ledger(block_sizes: list[int], signer: Signer = SEQUENCER, ledger_id: str = "taijiao-main") -> Ledger:
    ledger = Ledger()
    cr = CompactRange()
    prev_hash, offset = GENESIS_PREV_HASH, 0
    for height, size in enumerate(block_sizes):
        leaves = make_leaves(size, start=cr.size)
        ledger.ranges.append(cr.copy())
        header, sig, _ = seal_block(
            ledger_id=ledger_id,
            height=height,
            prev_hash=prev_hash,
            compact_range=cr,
            leaf_hashes=leaves,
            source_topic=TOPIC,
            source_partition=0,
            first_offset=offset,
            last_offset=offset + size - 1,
            sealed_at=f"2024-05-01T08:{height:02d}:00Z",
            signer=signer,
        )
        ledger.headers.append(header)
        ledger.signatures.append([sig])
        ledger.leaves.append(leaves)
        prev_hash, offset = header_hash(header), offset + size
    return ledger


RING = KeyRing.from_public_keys([SEQUENCER.public_key_raw])
