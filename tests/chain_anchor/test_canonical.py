"""RFC 8785 canonical bytes: RFC examples, fast path vs the reference implementation, rejections."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor.canonical import MAX_SAFE_INTEGER, canonicalize, canonicalize_prevalidated
from chain_anchor.errors import CanonicalizationError, ChainAnchorError, FloatNotAllowed, IntegerOutOfRange


def _reference(value: Any) -> bytes:
    out: bytes = rfc8785.dumps(value)
    return out


VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc8785"


def _vector(name: str) -> tuple[object, bytes]:
    return json.loads((VECTORS / f"{name}.input.json").read_text()), (VECTORS / f"{name}.expected").read_bytes()


def test_rfc8785_sorting_example() -> None:
    value, expected = _vector("sorting")
    assert canonicalize(value) == expected


def test_rfc8785_values_example_is_refused_for_its_floats_but_reference_matches() -> None:
    value, expected = _vector("values")
    assert _reference(value) == expected  # the fallback implementation agrees with the RFC
    with pytest.raises(FloatNotAllowed) as info:
        canonicalize(value)
    assert info.value.path == "$.numbers[0]"
    assert isinstance(value, dict)
    del value["numbers"]
    assert canonicalize(value) == expected.replace(b'"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],', b"")


# --- fast path == reference ----------------------------------------------------------------------------

_tricky_chars = st.sampled_from(
    [
        "\x00",
        "\x1f",
        "\x7f",
        "\u2028",
        "\u2029",
        '"',
        "\\",
        "/",
        "\b",
        "\f",
        "\n",
        "\r",
        "\t",
        "\ud7ff",
        "\ue000",
        "\uffff",
        "\U0001f600",
        "\U0010ffff",
        "é",
        "煤",
        "a",
        "Z",
        "0",
    ]
)
_text = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), _tricky_chars), max_size=12)
_ascii_key = st.text(st.characters(max_codepoint=0x7E), max_size=6)
_keys = st.one_of(_ascii_key, _text)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER), st.integers(-1000, 1000), _text
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(_keys, children, max_size=6),
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(value=_json)
def test_fast_path_matches_reference(value: object) -> None:
    out = canonicalize(value)
    assert out == _reference(value)
    assert canonicalize(json.loads(out)) == out


_bmp_low_key = st.text(st.characters(max_codepoint=0xD7FF), max_size=6)  # the prevalidated domain's keys
_prevalidated_json = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(_bmp_low_key, children, max_size=6)),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(value=_prevalidated_json)
def test_prevalidated_encoder_matches_reference(value: object) -> None:
    """The validators' encoder (no type scan) is byte-identical to rfc8785 on its whole domain."""
    assert canonicalize_prevalidated(value) == _reference(value)


def test_prevalidated_encoder_refuses_a_lone_surrogate() -> None:
    with pytest.raises(UnicodeEncodeError):
        canonicalize_prevalidated({"a": "\ud800"})


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(_ascii_key, _scalars, max_size=8))
def test_flat_ascii_objects(value: dict[str, object]) -> None:
    assert canonicalize(value) == _reference(value)


def test_key_order_is_utf16_not_code_point() -> None:
    value = {"\ufb33": 1, "\U0001f600": 2, "a": {"\uffff": 3, "\U00010000": 4}}
    out = canonicalize(value)
    assert out == _reference(value)
    assert out.index("\U0001f600".encode()) < out.index("\ufb33".encode())
    assert canonicalize([{"\U0001f600": 1, "\ue000": 2}]) == _reference([{"\U0001f600": 1, "\ue000": 2}])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"null"),
        (True, b"true"),
        (False, b"false"),
        (0, b"0"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ("\u2028\x1f\x7f", '"\u2028\\u001f\x7f"'.encode()),
        ([], b"[]"),
        ({}, b"{}"),
        ((1, "a"), b'[1,"a"]'),
        ({"b": [1, {"a": None}], "a": True}, b'{"a":true,"b":[1,{"a":null}]}'),
        ({"煤": "无烟煤", "a": "晋城"}, '{"a":"晋城","煤":"无烟煤"}'.encode()),
    ],
)
def test_known_outputs(value: object, expected: bytes) -> None:
    assert canonicalize(value) == expected


class _Unit(enum.IntEnum):
    KG = 1


class _Product(enum.StrEnum):
    COAL = "coal"


def test_subclasses_are_serialised_by_value() -> None:
    value = {"unit": _Unit.KG, "product": _Product.COAL, "m": OrderedDict(b=1, a=2)}
    assert canonicalize(value) == b'{"m":{"a":2,"b":1},"product":"coal","unit":1}'
    assert canonicalize([_Unit.KG, (_Product.COAL,)]) == b'[1,["coal"]]'


# --- rejections ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (1.0, "$"),
        ([1, 2.5], "$[1]"),
        ({"a": {"b": [0, {"c": -0.0}]}}, "$.a.b[1].c"),
        ({"\U0001f600": 1.5}, "$.\U0001f600"),
        (float("nan"), "$"),
    ],
)
def test_floats_are_refused(value: object, path: str) -> None:
    with pytest.raises(FloatNotAllowed) as info:
        canonicalize(value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ChainAnchorError)


@pytest.mark.parametrize("number", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, -(2**70)])
def test_integers_beyond_2_53_are_refused(number: int) -> None:
    for value in (number, [number], {"n": number}):
        with pytest.raises(IntegerOutOfRange) as info:
            canonicalize(value)
        assert info.value.value == number


@pytest.mark.parametrize(
    "value",
    [
        {1: "a"},
        {("a",): 1},
        {b"k": 1},
        b"bytes",
        {"a": {1, 2}},
        [Decimal("1.5")],
        object(),
        "\ud800",
        {"a": ["x\udfff"]},
        {"\udc00": 1},
    ],
)
def test_non_json_values_are_refused(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize(value)


def test_deep_or_circular_values_are_refused() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(CanonicalizationError):
        canonicalize(deep)
    circular: dict[str, object] = {}
    circular["self"] = circular
    with pytest.raises(CanonicalizationError):
        canonicalize(circular)
