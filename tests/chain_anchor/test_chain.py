"""verify_chain / verify_link / verify_block: a valid ledger passes; every tampering is caught."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chain_anchor.block import BlockHeader, HeaderSignature, header_hash, sign_header
from chain_anchor.chain import verify_block, verify_chain, verify_link, verify_log_consistency
from chain_anchor.compact import CompactRange
from chain_anchor.errors import (
    BadSignature,
    BlockError,
    ChainError,
    MissingSignature,
    ProofError,
    RootMismatch,
    UnknownKey,
)
from chain_anchor.keys import KeyRing
from tests.chain_anchor.builders import OTHER, RING, SEQUENCER, Ledger, build_ledger, make_leaves

SIZES = [3, 1, 4, 1, 5, 9, 2, 6]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build_ledger(SIZES)


def test_valid_chain(ledger: Ledger) -> None:
    verify_chain(ledger.pairs(), RING)
    verify_chain(ledger.pairs(), RING, ledger.proofs())
    verify_chain(ledger.pairs()[3:], RING, ledger.proofs(), prev=ledger.headers[2])
    verify_chain([], RING)


def test_segment_without_anchor_must_start_at_genesis(ledger: Ledger) -> None:
    with pytest.raises(ChainError) as info:
        verify_chain(ledger.pairs()[2:], RING)
    assert info.value.height == 2


def _resign(header: BlockHeader) -> tuple[BlockHeader, list[HeaderSignature]]:
    return header, [sign_header(header, SEQUENCER)]


def _replace(ledger: Ledger, at: int, **change: Any) -> list[tuple[BlockHeader, list[HeaderSignature]]]:
    """The ledger with block ``at`` changed and re-signed by the real sequencer (a malicious sequencer)."""
    pairs = ledger.pairs()
    pairs[at] = _resign(dataclasses.replace(ledger.headers[at], **change))
    return pairs


def test_reordered_blocks(ledger: Ledger) -> None:
    pairs = ledger.pairs()
    pairs[2], pairs[3] = pairs[3], pairs[2]
    with pytest.raises(ChainError) as info:
        verify_chain(pairs, RING)
    assert info.value.height == 3


def test_dropped_block(ledger: Ledger) -> None:
    pairs = ledger.pairs()
    del pairs[4]
    with pytest.raises(ChainError) as info:
        verify_chain(pairs, RING)
    assert info.value.height == 5


def test_duplicated_block(ledger: Ledger) -> None:
    pairs = ledger.pairs()
    pairs.insert(3, pairs[2])
    with pytest.raises(ChainError):
        verify_chain(pairs, RING)


@pytest.mark.parametrize(
    ("height", "change", "reason"),
    [
        (3, {"prev_hash": b"\x01" * 32}, "prev_hash"),
        (3, {"height": 4}, "height"),
        (3, {"ledger_id": "other"}, "ledger_id"),
        (3, {"source_partition": 1}, "partition"),
        (3, {"source_topic": "other"}, "topic"),
        (3, {"first_offset": 0, "last_offset": 9}, "first_offset"),
        (3, {"first_leaf_index": 7, "tree_size": 8}, "first_leaf_index"),
    ],
)
def test_broken_links_are_chain_errors(ledger: Ledger, height: int, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ChainError) as info:
        verify_chain(_replace(ledger, height, **change), RING)
    assert info.value.height == change.get("height", height)
    assert reason in info.value.reason


def test_rewritten_history_breaks_the_next_link(ledger: Ledger) -> None:
    """A block rewritten and re-signed no longer matches the next header's prev_hash."""
    pairs = _replace(ledger, 2, sealed_at="2024-05-01T09:00:00Z")
    with pytest.raises(ChainError) as info:
        verify_chain(pairs, RING)
    assert info.value.height == 3


def test_forged_log_root_is_caught_by_consistency_proofs(ledger: Ledger) -> None:
    """A sequencer that re-signs a header with a different log root: links can be re-made, proofs cannot."""
    pairs = ledger.pairs()
    forged = dataclasses.replace(ledger.headers[5], log_root=b"\x0f" * 32)
    pairs[5] = _resign(forged)
    for later in range(6, len(pairs)):
        prev = pairs[later - 1][0]
        pairs[later] = _resign(dataclasses.replace(pairs[later][0], prev_hash=header_hash(prev)))
    verify_chain(pairs, RING)  # structurally fine ...
    with pytest.raises(ChainError) as info:
        verify_chain(pairs, RING, ledger.proofs())  # ... but not an append-only log
    assert info.value.height == 5
    assert isinstance(info.value.__cause__, ProofError)


def test_missing_consistency_proof(ledger: Ledger) -> None:
    proofs = ledger.proofs()
    del proofs[4]
    with pytest.raises(ChainError) as info:
        verify_chain(ledger.pairs(), RING, proofs)
    assert info.value.height == 4


def test_tampered_consistency_proof(ledger: Ledger) -> None:
    proofs = ledger.proofs()
    proofs[6] = [bytes(32), *proofs[6][1:]]
    with pytest.raises(ChainError) as info:
        verify_chain(ledger.pairs(), RING, proofs)
    assert isinstance(info.value.__cause__, RootMismatch)


def test_signature_failures_in_chain(ledger: Ledger) -> None:
    pairs = ledger.pairs()
    header, [sig] = pairs[4]
    pairs[4] = (header, [HeaderSignature(sig.key_id, bytes(64))])
    with pytest.raises(BadSignature):
        verify_chain(pairs, RING)
    pairs[4] = (header, [])
    with pytest.raises(MissingSignature):
        verify_chain(pairs, RING)
    with pytest.raises(UnknownKey):
        verify_chain(ledger.pairs(), KeyRing.from_public_keys([OTHER.public_key_raw]))


def test_key_rotation_is_allowed_when_both_keys_are_trusted() -> None:
    first = build_ledger([2, 3])
    rotated = dataclasses.replace(first.headers[1], sequencer_key_id=OTHER.key_id)
    pairs = [first.pairs()[0], (rotated, [sign_header(rotated, OTHER)])]
    verify_chain(pairs, RING.with_keys([OTHER.public_key_raw]))


def test_verify_link_genesis(ledger: Ledger) -> None:
    verify_link(None, ledger.headers[0])
    verify_link(ledger.headers[0], ledger.headers[1])
    with pytest.raises(ChainError):
        verify_link(None, ledger.headers[1])


def test_verify_log_consistency(ledger: Ledger) -> None:
    proof = ledger.proofs()[3]
    verify_log_consistency(ledger.headers[2], ledger.headers[3], proof)
    with pytest.raises(ChainError):
        verify_log_consistency(ledger.headers[2], ledger.headers[3], proof[:-1])


# --- blocks as a replica receives them -----------------------------------------------------------------


def test_verify_block_replays_the_whole_ledger(ledger: Ledger) -> None:
    cr, prev = CompactRange(), None
    for header, sigs, leaves in zip(ledger.headers, ledger.signatures, ledger.leaves, strict=True):
        new_cr, nodes = verify_block(
            header=header, signatures=sigs, leaf_hashes=leaves, keyring=RING, compact_range=cr, prev_header=prev
        )
        assert new_cr.root() == header.log_root and new_cr.size == header.tree_size
        assert all(lvl >= 1 for lvl, _, _ in nodes)
        assert cr.size == header.first_leaf_index  # input not modified
        cr, prev = new_cr, header


def _verify_block_4(ledger: Ledger, **change: Any) -> None:
    args: dict[str, Any] = {
        "header": ledger.headers[4],
        "signatures": ledger.signatures[4],
        "leaf_hashes": ledger.leaves[4],
        "keyring": RING,
        "compact_range": ledger.ranges[4],
        "prev_header": ledger.headers[3],
        **change,
    }
    verify_block(**args)


def test_verify_block_rejections(ledger: Ledger) -> None:
    _verify_block_4(ledger)
    leaves = ledger.leaves[4]
    for change in (
        {"leaf_hashes": leaves[:-1]},
        {"leaf_hashes": [*leaves, leaves[0]]},
        {"leaf_hashes": leaves[::-1]},
        {"leaf_hashes": [make_leaves(1, 999)[0], *leaves[1:]]},
        {"compact_range": ledger.ranges[3]},
    ):
        with pytest.raises(BlockError) as info:
            _verify_block_4(ledger, **change)
        assert info.value.height == 4
    with pytest.raises(ChainError):
        _verify_block_4(ledger, prev_header=ledger.headers[2])
    with pytest.raises(BadSignature):
        _verify_block_4(ledger, signatures=[HeaderSignature(SEQUENCER.key_id, bytes(64))])


def test_verify_block_catches_a_log_root_that_does_not_extend_the_replica(ledger: Ledger) -> None:
    """Header consistent with its own leaves but not with the replica's log: re-signed by the sequencer."""
    wrong_history = CompactRange()
    wrong_history.extend(make_leaves(ledger.headers[4].first_leaf_index, 5000))
    with pytest.raises(BlockError) as info:
        _verify_block_4(ledger, compact_range=wrong_history)
    assert "log root" in info.value.reason
