"""Publisher signatures on CloudEvents envelopes: round trip, byte layout, every mutation rejected."""

from __future__ import annotations

import base64
import copy
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor.canonical import canonicalize
from chain_anchor.errors import BadSignature, EventSignatureError, FloatNotAllowed, UnknownKey
from chain_anchor.events import (
    event_signing_bytes,
    leaf_bytes,
    sign_event,
    verify_event,
    verify_prevalidated_event,
)
from chain_anchor.hashing import TAG_EVENT
from chain_anchor.keys import KeyRing, Signer

MINE = Signer.from_seed(b"\x11" * 32)
RAILWAY = Signer.from_seed(b"\x22" * 32)
STRANGER = Signer.from_seed(b"\x33" * 32)
RING = KeyRing.from_public_keys([MINE.public_key_raw, RAILWAY.public_key_raw])


def _envelope() -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "0f8e4e9c-2b1f-4d0a-9a57-3c1d2e6f7a80",
        "source": "/participants/mine-gaoping-01",
        "type": "cn.taijiao.coal.inventory.StockReported.v1",
        "subject": "mine-gaoping-01",
        "time": "2024-05-01T08:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": "https://schemas.taijiao.cn/inventory/StockReported/v1",
        "data": {"product": "无烟煤", "stock_kg": 125_000_000, "station": "高平", "ash_pct": "9.85"},
    }


def test_round_trip() -> None:
    signed = sign_event(_envelope(), MINE)
    assert signed["sigkeyid"] == MINE.key_id
    assert len(base64.b64decode(str(signed["signature"]), validate=True)) == 64
    verify_event(signed, RING)
    verify_event(MappingProxyType(signed), RING)


def test_signing_bytes_layout() -> None:
    envelope = _envelope()
    signed = sign_event(envelope, MINE)
    expected = TAG_EVENT + canonicalize(envelope)
    assert event_signing_bytes(envelope) == expected
    assert event_signing_bytes(signed) == expected  # the signature attributes are excluded
    assert MINE.sign(expected) == base64.b64decode(str(signed["signature"]))


def test_leaf_bytes_are_the_whole_signed_envelope() -> None:
    signed = sign_event(_envelope(), MINE)
    assert leaf_bytes(signed) == canonicalize(signed)
    assert leaf_bytes(MappingProxyType(signed)) == leaf_bytes(signed)
    assert b'"signature":' in leaf_bytes(signed)


def test_sign_event_does_not_mutate_and_replaces_old_signature() -> None:
    envelope = _envelope()
    before = copy.deepcopy(envelope)
    first = sign_event(envelope, MINE)
    assert envelope == before
    second = sign_event(first, RAILWAY)
    assert second["sigkeyid"] == RAILWAY.key_id
    verify_event(second, RING)


def _mutations(signed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for key in signed:
        if key in ("signature", "sigkeyid"):
            continue
        changed = copy.deepcopy(signed)
        changed[key] = changed[key] + "x" if isinstance(changed[key], str) else {**changed[key], "extra": 1}
        out.append((f"changed-{key}", changed))
        removed = copy.deepcopy(signed)
        del removed[key]
        out.append((f"removed-{key}", removed))
    for key in signed["data"]:
        changed = copy.deepcopy(signed)
        value = changed["data"][key]
        changed["data"][key] = value + 1 if isinstance(value, int) else value + "0"
        out.append((f"changed-data.{key}", changed))
    added = copy.deepcopy(signed)
    added["partitionkey"] = "x"
    out.append(("added-attribute", added))
    return out


def test_every_content_mutation_is_a_bad_signature() -> None:
    signed = sign_event(_envelope(), MINE)
    for name, mutated in _mutations(signed):
        with pytest.raises(BadSignature):
            verify_event(mutated, RING)
        assert name


def test_every_signature_bit_flip_is_rejected() -> None:
    signed = sign_event(_envelope(), MINE)
    raw = base64.b64decode(str(signed["signature"]))
    for bit in range(0, 512, 7):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        mutated = {**signed, "signature": base64.b64encode(bytes(flipped)).decode()}
        with pytest.raises(BadSignature):
            verify_event(mutated, RING)


def test_wrong_key() -> None:
    signed = sign_event(_envelope(), MINE)
    with pytest.raises(BadSignature):
        verify_event({**signed, "sigkeyid": RAILWAY.key_id}, RING)
    with pytest.raises(UnknownKey) as info:
        verify_event(sign_event(_envelope(), STRANGER), RING)
    assert info.value.key_id == STRANGER.key_id


@pytest.mark.parametrize(
    "change",
    [
        {"signature": None},
        {"sigkeyid": None},
        {"sigkeyid": 7},
        {"sigkeyid": "AB" * 32},
        {"sigkeyid": "ab" * 31},
        {"signature": 12},
        {"signature": "A" * 86},
        {"signature": "!" * 86 + "=="},
        {"signature": "A" * 87 + "="},  # 65 bytes
        {"signature": "A" * 85 + "B=="},  # non-canonical trailing bits
        {"signature": "é" * 86 + "=="},  # not ASCII
        {"signature": "A" * 40 + "==" + "A" * 46},  # padding inside
        {"signature": "A" * 86 + "\n="},  # a line break
    ],
)
def test_malformed_signature_attributes(change: dict[str, Any]) -> None:
    signed = sign_event(_envelope(), MINE)
    mutated = {**signed, **change}
    for key, value in change.items():
        if value is None:
            del mutated[key]
    with pytest.raises(EventSignatureError):
        verify_event(mutated, RING)


def test_floats_cannot_be_signed_or_verified() -> None:
    envelope = _envelope()
    envelope["data"]["ash_pct"] = 9.85
    with pytest.raises(FloatNotAllowed):
        sign_event(envelope, MINE)
    signed: dict[str, Any] = sign_event(_envelope(), MINE)
    signed["data"]["ash_pct"] = 9.85
    with pytest.raises(FloatNotAllowed):
        verify_event(signed, RING)


# --- the validators' one-pass verification ------------------------------------------------------------

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=8))
_json = st.recursive(_json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(st.characters(max_codepoint=0xD7FF), max_size=6), inner,
                                                 max_size=3)), max_leaves=8)
_keys = st.text(st.characters(max_codepoint=0xD7FF), min_size=1, max_size=12).filter(
    lambda k: k not in ("signature", "sigkeyid"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=6))
def test_prevalidated_verification_returns_exactly_the_leaf_bytes(extra: dict[str, Any]) -> None:
    envelope = {**extra, **{k: v for k, v in _envelope().items() if k in ("id", "type")}}
    signed = sign_event(envelope, MINE)
    assert verify_prevalidated_event(signed, RING) == leaf_bytes(signed)


@pytest.mark.parametrize("envelope", [
    {},  # nothing but the signature attributes
    {"a": 1},  # every key sorts before them
    {"source": "s", "type": "t"},  # every key sorts after them
    {"data": {"source": "x"}, "source": "s", "subject": "x,\"source\":"},  # decoys before and inside strings
    {"id": "1", "zz": {"nested": [1, {"source": 2}]}, "source": "s"},  # a container after: encoded twice
    {"id": "1", "sigl": "between sigkeyid and signature", "source": "s"},  # not adjacent: encoded twice
])
def test_prevalidated_verification_splices_at_the_sorted_place(envelope: dict[str, Any]) -> None:
    signed = sign_event(envelope, MINE)
    assert verify_prevalidated_event(signed, RING) == leaf_bytes(signed) == canonicalize(signed)


def test_prevalidated_verification_rejects_like_verify_event() -> None:
    signed = sign_event(_envelope(), MINE)
    with pytest.raises(BadSignature):
        verify_prevalidated_event({**signed, "subject": "other"}, RING)
    with pytest.raises(UnknownKey):
        verify_prevalidated_event(sign_event(_envelope(), STRANGER), RING)
    with pytest.raises(EventSignatureError):
        verify_prevalidated_event({**signed, "sigkeyid": "nope"}, RING)
    with pytest.raises(EventSignatureError):
        verify_prevalidated_event({**signed, "signature": "A" * 86}, RING)
