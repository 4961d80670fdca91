"""Block headers: validation, strict JSON, hash and signature bytes, mutations, sealing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from chain_anchor.block import (
    GENESIS_PREV_HASH,
    BlockHeader,
    HeaderSignature,
    header_bytes,
    header_hash,
    header_signing_bytes,
    seal_block,
    sign_header,
    verify_header,
)
from chain_anchor.canonical import canonicalize
from chain_anchor.compact import CompactRange
from chain_anchor.errors import (
    BadSignature,
    HeaderError,
    MissingSignature,
    SignatureError,
    UnknownKey,
)
from chain_anchor.hashing import TAG_BLOCK_HEADER, sha256
from chain_anchor.keys import KeyRing
from chain_anchor.merkle import root
from tests.chain_anchor.builders import OTHER, RING, SEQUENCER, TOPIC, build_ledger, make_leaves


def _header(**change: Any) -> BlockHeader:
    header = build_ledger([3, 4]).headers[1]
    return dataclasses.replace(header, **change)


def test_sealed_headers_are_consistent() -> None:
    ledger = build_ledger([3, 4, 1])
    everything = ledger.all_leaves
    for header, leaves in zip(ledger.headers, ledger.leaves, strict=True):
        assert header.block_root == root(leaves)
        assert header.log_root == root(everything[: header.tree_size])
        assert header.sequencer_key_id == SEQUENCER.key_id
    assert ledger.headers[0].prev_hash == GENESIS_PREV_HASH
    assert ledger.headers[2].prev_hash == header_hash(ledger.headers[1])


def test_byte_layout() -> None:
    header = _header()
    assert header_bytes(header) == canonicalize(header.to_json())
    assert header_signing_bytes(header) == TAG_BLOCK_HEADER + header_bytes(header)
    assert header_hash(header) == sha256(TAG_BLOCK_HEADER + header_bytes(header))
    doc = json.loads(header_bytes(header))
    assert doc["prev_hash"] == header.prev_hash.hex()
    assert list(doc) == sorted(doc)


def test_json_round_trip() -> None:
    header = _header()
    assert BlockHeader.from_json(header.to_json()) == header
    assert BlockHeader.from_json(json.loads(header_bytes(header))) == header


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ledger_id", ""),
        ("ledger_id", 5),
        ("height", -1),
        ("height", True),
        ("height", 2**53),
        ("prev_hash", b"\x00" * 31),
        ("prev_hash", "00" * 32),
        ("leaf_count", 0),
        ("tree_size", 8),
        ("log_root", b""),
        ("block_root", None),
        ("source_topic", ""),
        ("source_partition", -3),
        ("first_offset", 2.0),
        ("last_offset", 2),
        ("sealed_at", "2024-05-01 08:00:00Z"),
        ("sealed_at", "2024-05-01T08:00:00+08:00"),
        ("sealed_at", "2024-02-30T08:00:00Z"),
        ("sealed_at", "2024-05-01T24:00:00Z"),
        ("sealed_at", 0),
        ("sequencer_key_id", "AB" * 32),
        ("sequencer_key_id", "ab"),
    ],
)
def test_invalid_fields_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(HeaderError) as info:
        _header(**{field: value})
    assert info.value.field == field


def test_genesis_rules() -> None:
    genesis = build_ledger([3]).headers[0]
    with pytest.raises(HeaderError) as info:
        dataclasses.replace(genesis, prev_hash=b"\x01" * 32)
    assert info.value.field == "prev_hash"
    with pytest.raises(HeaderError) as info:
        dataclasses.replace(genesis, first_leaf_index=1, tree_size=4)
    assert info.value.field == "first_leaf_index"
    with pytest.raises(HeaderError) as info:
        dataclasses.replace(genesis, block_root=b"\x01" * 32)
    assert info.value.field == "block_root"


def test_fractional_seconds_allowed() -> None:
    assert _header(sealed_at="2024-05-01T08:00:00.123456789Z").sealed_at.endswith(".123456789Z")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"height": None}, "height"),
        ({"height": "1"}, "height"),
        ({"height": 1.0}, "height"),
        ({"prev_hash": "AB" * 32}, "prev_hash"),
        ({"prev_hash": "ab" * 31}, "prev_hash"),
        ({"log_root": 1}, "log_root"),
        ({"sealed_at": 1}, "sealed_at"),
        ({"ledger_id": None}, "ledger_id"),
    ],
)
def test_from_json_is_strict(change: dict[str, Any], field: str) -> None:
    doc = _header().to_json()
    doc.update(change)
    if change.get(field, 0) is None:
        del doc[field]
    with pytest.raises(HeaderError) as info:
        BlockHeader.from_json(doc)
    assert info.value.field == field


def test_from_json_needs_an_object() -> None:
    with pytest.raises(HeaderError):
        BlockHeader.from_json([1, 2])


def test_sign_and_verify() -> None:
    header = _header()
    sig = sign_header(header, SEQUENCER)
    verify_header(header, [sig], RING)
    cosig = sign_header(header, OTHER)
    verify_header(header, [sig, cosig], RING.with_keys([OTHER.public_key_raw]))
    with pytest.raises(UnknownKey):
        verify_header(header, [sig, cosig], RING)
    with pytest.raises(MissingSignature) as info:
        verify_header(header, [cosig], RING.with_keys([OTHER.public_key_raw]))
    assert info.value.key_id == SEQUENCER.key_id
    with pytest.raises(MissingSignature):
        verify_header(header, [], RING)
    with pytest.raises(SignatureError):
        verify_header(header, [sig, sig], RING)


def test_every_header_field_mutation_breaks_the_signature() -> None:
    header = _header()
    sig = sign_header(header, SEQUENCER)
    mutations: dict[str, Any] = {
        "ledger_id": "taijiao-other",
        "height": 2,
        "prev_hash": bytes(31) + b"\x01",
        "first_leaf_index": 4,
        "tree_size": 8,
        "log_root": b"\x01" * 32,
        "block_root": b"\x02" * 32,
        "source_topic": "coal.events.other",
        "source_partition": 1,
        "first_offset": 2,
        "last_offset": 9,
        "sealed_at": "2024-05-01T08:01:01Z",
        "sequencer_key_id": OTHER.key_id,
    }
    for name, value in mutations.items():
        change = {name: value}
        if name == "first_leaf_index":
            change["tree_size"] = 8
        if name == "tree_size":
            change["leaf_count"] = 5
        mutated = dataclasses.replace(header, **change)
        ring = RING.with_keys([OTHER.public_key_raw])
        with pytest.raises((BadSignature, MissingSignature)):
            verify_header(mutated, [sig], ring)
        assert header_hash(mutated) != header_hash(header)


def test_signature_bit_flips_and_wrong_key() -> None:
    header = _header()
    sig = sign_header(header, SEQUENCER)
    for bit in range(0, 512, 11):
        raw = bytearray(sig.signature)
        raw[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(BadSignature):
            verify_header(header, [HeaderSignature(sig.key_id, bytes(raw))], RING)
    with pytest.raises(BadSignature):
        verify_header(header, [HeaderSignature(sig.key_id, sig.signature[:32])], RING)
    impostor = KeyRing.from_public_keys([OTHER.public_key_raw])
    with pytest.raises(UnknownKey):
        verify_header(header, [sig], impostor)


def test_header_signature_json() -> None:
    sig = sign_header(_header(), SEQUENCER)
    assert HeaderSignature.from_json(sig.to_json()) == sig
    assert HeaderSignature.from_json(json.loads(json.dumps(sig.to_json()))) == sig
    good = sig.to_json()
    bad: Any
    for bad in (
        [],
        {"key_id": sig.key_id},
        {**good, "extra": "x"},
        {**good, "key_id": sig.key_id.upper()},
        {**good, "signature": 5},
        {**good, "signature": "!!!!"},
        {**good, "signature": good["signature"].rstrip("=")},
        {**good, "signature": good["signature"][:-3] + "B=="},
    ):
        with pytest.raises(SignatureError):
            HeaderSignature.from_json(bad)


def test_seal_block_extends_compact_range_and_returns_new_nodes() -> None:
    cr = CompactRange()
    leaves = make_leaves(5)
    header, sig, nodes = seal_block(
        ledger_id="l",
        height=0,
        prev_hash=GENESIS_PREV_HASH,
        compact_range=cr,
        leaf_hashes=leaves,
        source_topic=TOPIC,
        source_partition=0,
        first_offset=10,
        last_offset=20,
        sealed_at="2024-05-01T08:00:00Z",
        signer=SEQUENCER,
    )
    verify_header(header, [sig], RING)
    assert cr.size == 5 and cr.root() == header.log_root
    assert {(lvl, idx) for lvl, idx, _ in nodes} == {(1, 0), (1, 1), (2, 0)}


def test_seal_block_leaves_range_unchanged_on_error() -> None:
    cr = CompactRange()
    cr.extend(make_leaves(3))
    before = cr.copy()
    bad: dict[str, Any]
    for bad in ({"sealed_at": "yesterday"}, {"leaf_hashes": []}, {"last_offset": 2**60}):
        args: dict[str, Any] = {
            "ledger_id": "l",
            "height": 1,
            "prev_hash": b"\x01" * 32,
            "compact_range": cr,
            "leaf_hashes": make_leaves(2, 3),
            "source_topic": TOPIC,
            "source_partition": 0,
            "first_offset": 3,
            "last_offset": 4,
            "sealed_at": "2024-05-01T08:00:00Z",
            "signer": SEQUENCER,
            **bad,
        }
        with pytest.raises(HeaderError):
            seal_block(**args)
        assert cr == before
