"""Verifying a chain of block headers, and a block's contents against its header.

Structural failures raise :class:`~chain_anchor.errors.ChainError` (``.height``, ``.reason``) or
:class:`~chain_anchor.errors.BlockError`; a failed consistency proof is a ``ChainError`` whose
``__cause__`` is the :class:`~chain_anchor.errors.ProofError`. Signature failures propagate as the
signature errors of :func:`chain_anchor.block.verify_header` (``MissingSignature``, ``UnknownKey``,
``BadSignature``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from chain_anchor.block import BlockHeader, HeaderSignature, header_hash, verify_header
from chain_anchor.compact import CompactRange
from chain_anchor.errors import BlockError, ChainError, ProofError
from chain_anchor.keys import KeyRing
from chain_anchor.merkle import root, verify_consistency

__all__ = ["verify_block", "verify_chain", "verify_link", "verify_log_consistency"]


def verify_link(prev: BlockHeader | None, header: BlockHeader) -> None:
    """Check that ``header`` directly follows ``prev`` (``None``: ``header`` must be the genesis block).

    Checks: same ledger and Kafka source partition, height + 1, ``prev_hash == header_hash(prev)``,
    ``first_leaf_index == prev.tree_size``, offsets strictly after ``prev.last_offset``. (Each header
    already guarantees ``tree_size == first_leaf_index + leaf_count``.) Does not check signatures.
    """
    height = header.height
    if prev is None:
        if height != 0:
            raise ChainError(height, "first header is not at height 0 and no previous header was given")
        return
    if header.ledger_id != prev.ledger_id:
        raise ChainError(height, f"ledger_id {header.ledger_id!r} differs from {prev.ledger_id!r}")
    if height != prev.height + 1:
        raise ChainError(height, f"height does not follow {prev.height}")
    if header.prev_hash != header_hash(prev):
        raise ChainError(height, "prev_hash is not the hash of the previous header")
    if header.first_leaf_index != prev.tree_size:
        raise ChainError(height, f"first_leaf_index is not the previous tree_size {prev.tree_size}")
    if (header.source_topic, header.source_partition) != (prev.source_topic, prev.source_partition):
        raise ChainError(height, "source topic/partition differs from the previous block")
    if header.first_offset <= prev.last_offset:
        raise ChainError(height, f"first_offset is not after the previous last_offset {prev.last_offset}")


def verify_log_consistency(prev: BlockHeader, header: BlockHeader, proof: Sequence[bytes]) -> None:
    """Check the RFC 6962 consistency proof from ``prev``'s log (size, root) to ``header``'s."""
    try:
        verify_consistency(
            size1=prev.tree_size,
            size2=header.tree_size,
            root1=prev.log_root,
            root2=header.log_root,
            proof=proof,
        )
    except ProofError as e:
        raise ChainError(header.height, f"log root not consistent with height {prev.height}: {e}") from e


def verify_chain(
    headers_with_signatures: Iterable[tuple[BlockHeader, Sequence[HeaderSignature]]],
    keyring: KeyRing,
    consistency_proofs: Mapping[int, Sequence[bytes]] | None = None,
    *,
    prev: BlockHeader | None = None,
) -> None:
    """Verify consecutive headers: signatures, links (:func:`verify_link`) and, if proofs are given, logs.

    ``consistency_proofs[h]`` is the proof from the log of block ``h - 1`` to that of block ``h``; when the
    mapping is given, every link needs one. ``prev`` is an already-trusted header that the first one must
    follow; without it the first header must be at height 0. What the caller must still check: that the
    leaves of each block hash to its ``block_root`` (:func:`verify_block`), and where the keys came from.
    """
    for header, signatures in headers_with_signatures:
        verify_header(header, signatures, keyring)
        verify_link(prev, header)
        if consistency_proofs is not None and prev is not None:
            proof = consistency_proofs.get(header.height)
            if proof is None:
                raise ChainError(header.height, "no consistency proof given for this link")
            verify_log_consistency(prev, header, proof)
        prev = header


def verify_block(
    *,
    header: BlockHeader,
    signatures: Sequence[HeaderSignature],
    leaf_hashes: Sequence[bytes],
    keyring: KeyRing,
    compact_range: CompactRange,
    prev_header: BlockHeader | None,
) -> tuple[CompactRange, list[tuple[int, int, bytes]]]:
    """Verify a block as a replica receives it: signatures, link, its leaves, and the log after it.

    ``compact_range`` is the replica's log state after ``prev_header`` (not modified). Returns the new
    compact range and the perfect nodes the block completed (for the replica's node store).
    """
    verify_header(header, signatures, keyring)
    verify_link(prev_header, header)
    height = header.height
    if compact_range.size != header.first_leaf_index:
        raise BlockError(
            height, f"local log has {compact_range.size} leaves, block starts at {header.first_leaf_index}"
        )
    if len(leaf_hashes) != header.leaf_count:
        raise BlockError(height, f"{len(leaf_hashes)} leaves given, header says {header.leaf_count}")
    if root(leaf_hashes) != header.block_root:
        raise BlockError(height, "leaves do not hash to block_root")
    extended = compact_range.copy()
    new_nodes = extended.extend(leaf_hashes)
    if extended.root() != header.log_root:
        raise BlockError(height, "log root after appending the leaves differs from log_root")
    return extended, new_nodes
