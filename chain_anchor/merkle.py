"""RFC 6962 / RFC 9162 Merkle tree: roots, inclusion and consistency proofs, and their verification.

All hashes are raw 32-byte ``bytes``; leaf hashes come from :func:`chain_anchor.hashing.leaf_hash`.
Proof elements are ordered from the leaf towards the root, exactly as in RFC 9162 §2.1.3 and §2.1.4, so
proofs made here verify with any standard verifier (e.g. transparency-dev/merkle) and vice versa.

The verifiers are keyword-only, return ``None`` on success and raise a subclass of
:class:`~chain_anchor.errors.ProofError` on any failure:

* :class:`~chain_anchor.errors.InclusionProofError` / :class:`~chain_anchor.errors.ConsistencyProofError`
  when the arguments or the proof are malformed (index beyond size, wrong proof length, hash not 32 bytes);
* :class:`~chain_anchor.errors.RootMismatch` when the proof is well-formed but yields another root.

What the caller must still check: that ``root`` (and ``tree_size``) come from a checkpoint or block header
whose signature it verified — a proof only relates hashes to each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain_anchor.compact import (
    CompactRange,
    NodeId,
    Plan,
    consistency_proof_plan,
    fold_right,
    inclusion_proof_plan,
    proof_from_plan,
    range_nodes,
)
from chain_anchor.errors import ConsistencyProofError, InclusionProofError, ProofError, RootMismatch
from chain_anchor.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "CompactRange",
    "NodeId",
    "Plan",
    "consistency_proof",
    "consistency_proof_plan",
    "fold_right",
    "inclusion_proof",
    "inclusion_proof_plan",
    "proof_from_plan",
    "range_nodes",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


# --- building ------------------------------------------------------------------------------------------


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of the leaves (``EMPTY_ROOT`` for none)."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            paired.append(level[-1])  # the odd node out is promoted unchanged
        level = paired
    return level[0]


def inclusion_proof(*, index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``leaf_hashes`` (RFC 9162 §2.1.3.1)."""
    return _materialise(inclusion_proof_plan(index=index, tree_size=len(leaf_hashes)), leaf_hashes)


def consistency_proof(*, size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from the first ``size1`` leaves to all of ``leaf_hashes`` (RFC 9162 §2.1.4.1)."""
    return _materialise(consistency_proof_plan(size1=size1, size2=len(leaf_hashes)), leaf_hashes)


def _materialise(plan: Plan, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Each proof element is the root of the leaves its nodes cover."""
    proof: list[bytes] = []
    for ids in plan:
        first_level, first_index = ids[0]
        last_level, last_index = ids[-1]
        begin = first_index << first_level
        end = (last_index + 1) << last_level
        proof.append(root(leaf_hashes[begin:end]))
    return proof


# --- verifying -----------------------------------------------------------------------------------------


def verify_inclusion(*, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` leaves with this ``root``."""
    calculated = root_from_inclusion_proof(leaf_hash=leaf_hash, index=index, tree_size=tree_size, proof=proof)
    _check_hash(root, "root", InclusionProofError)
    if calculated != root:
        raise RootMismatch(expected=bytes(root), calculated=calculated)


def root_from_inclusion_proof(*, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (raises InclusionProofError if it is malformed)."""
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"index {index} out of range for tree size {tree_size}")
    _check_hash(leaf_hash, "leaf_hash", InclusionProofError)
    for element in proof:
        _check_hash(element, "proof element", InclusionProofError)
    inner, border = _decompose_inclusion(index, tree_size)
    if len(proof) != inner + border:
        raise InclusionProofError(f"proof has {len(proof)} hashes, expected {inner + border}")
    calculated = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(calculated, proof[inner:])


def verify_consistency(*, size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the tree of ``size1`` with ``root1``.

    ``size1 == 0`` needs an empty proof and ``root1 == EMPTY_ROOT``; ``size1 == size2`` needs an empty proof
    and equal roots.
    """
    _check_hash(root1, "root1", ConsistencyProofError)
    _check_hash(root2, "root2", ConsistencyProofError)
    for element in proof:
        _check_hash(element, "proof element", ConsistencyProofError)
    if not 0 <= size1 <= size2:
        raise ConsistencyProofError(f"need 0 <= size1 <= size2, got size1={size1}, size2={size2}")
    if size1 == 0 or size1 == size2:
        if proof:
            raise ConsistencyProofError(f"expected an empty proof, got {len(proof)} hashes")
        _match(root1, EMPTY_ROOT if size1 == 0 else root2)
        return
    hash1, hash2 = _roots_from_consistency_proof(size1, size2, root1, proof)
    _match(root1, hash1)
    _match(root2, hash2)


def _roots_from_consistency_proof(size1: int, size2: int, root1: bytes, proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2, in the formulation of transparency-dev/merkle ``VerifyConsistency``."""
    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:  # the old tree is a perfect subtree: its root is the seed
        seed, rest = root1, proof
    elif proof:
        seed, rest = proof[0], proof[1:]
    else:
        raise ConsistencyProofError("empty proof")
    if len(rest) != inner + border:
        expected = inner + border + (len(proof) - len(rest))
        raise ConsistencyProofError(f"proof has {len(proof)} hashes, expected {expected}")
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    return hash1, hash2


def _decompose_inclusion(index: int, size: int) -> tuple[int, int]:
    """(inner, border): proof hashes below the fork with the right border, and on that border."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _match(expected: bytes, calculated: bytes) -> None:
    if expected != calculated:
        raise RootMismatch(expected=bytes(expected), calculated=bytes(calculated))


def _check_hash(value: object, what: str, error: type[ProofError]) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes")
