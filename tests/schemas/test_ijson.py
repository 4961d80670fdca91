"""schemas.ijson.loads: strict I-JSON, every refusal names its path and rule, valid JSON round-trips."""

from __future__ import annotations

import json
import pickle
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from schemas import ijson
from schemas.ijson import MAX_DEPTH, MAX_INTEGER_DIGITS, JSONError, loads
from tests.schemas.examples_data import example_bytes, valid_documents


def _examples() -> list[bytes]:
    return [example_bytes(name) for name, _ in valid_documents()]

_LIMIT = 10**MAX_INTEGER_DIGITS
_scalars = (st.none() | st.booleans() | st.integers(min_value=-_LIMIT + 1, max_value=_LIMIT - 1)
            | st.text())
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_every_catalogue_value_round_trips_in_every_encoding(value: Any) -> None:
    for raw in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode(),
                json.dumps(value, indent=2).encode(), msgspec.json.encode(value)):
        assert loads(raw) == value
    assert loads(json.dumps(value)) == value  # str input


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), json_values, min_size=1, max_size=4), st.data())
def test_a_repeated_key_anywhere_is_refused_at_its_path(obj: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    members = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in obj.items()]
    raw = ('{"outer":[{' + ",".join([*members, f"{json.dumps(key)}:null"]) + "}]}").encode()
    with pytest.raises(JSONError) as e:
        loads(raw)
    assert (e.value.rule, e.value.path) == ("duplicate-key", "/outer/0/" + key.replace("~", "~0").replace("/", "~1"))


HOSTILE: list[tuple[str, bytes, str, str]] = [
    ("duplicate source", b'{"id":"1","source":"/participants/a","source":"/participants/b"}', "/source",
     "duplicate-key"),
    ("nested duplicate", b'{"data": {"wagons": [{"n": 1}, {"n": 2, "n": 3}]}}', "/data/wagons/1/n",
     "duplicate-key"),
    ("lone high escape", b'{"subject":"\\ud800"}', "/subject", "lone-surrogate"),
    ("lone low escape", b'{"a":["x","\\uDC00"]}', "/a/1", "lone-surrogate"),
    ("high escape then not low", b'{"a":"\\ud800\\u0041"}', "/a", "lone-surrogate"),
    ("raw encoded surrogate", b'{"a":"\xed\xa0\x80"}', "/a", "lone-surrogate"),
    ("invalid utf-8 in a string", b'{"a":"caf\xe9"}', "/a", "utf-8"),
    ("invalid utf-8 outside strings", b'{"a":\xff}', "/a", "utf-8"),
    ("5000-digit integer", b'{"data":{"kg":' + b"9" * 5000 + b"}}", "/data/kg", "integer-too-long"),
    ("20-digit negative integer", b'[-' + b"1" * 20 + b"]", "/0", "integer-too-long"),
    ("NaN", b'{"a":NaN}', "/a", "not-a-number"),
    ("Infinity", b"[Infinity]", "/0", "not-a-number"),
    ("-Infinity", b'{"a":-Infinity}', "/a", "not-a-number"),
    ("huge exponent", b'{"a":1e999}', "/a", "number-out-of-range"),
    ("depth 3000", b"[" * 3000 + b"]" * 3000, "/0" * MAX_DEPTH, "too-deep"),
    ("depth 100000", b'{"a":' * 100000 + b"1" + b"}" * 100000, "/a" * MAX_DEPTH, "too-deep"),
    ("depth 100000 unclosed", b"[" * 100000, "/0" * MAX_DEPTH, "too-deep"),
    ("unknown literal", b'{"a":nul}', "/a", "json"),
    ("trailing data", b'{"a":1} {"a":2}', "", "trailing-data"),
    ("trailing comma", b'{"a":1,}', "", "json"),
    ("invalid utf-8 in a member name", b'{"a":{"b":1,"\xff":2}}', "/a", "utf-8"),
    ("leading zero", b"[01]", "/0", "json"),
    ("unterminated", b'{"a":"x', "", "json"),
    ("truncated", b'{"a":[1,', "", "json"),
    ("raw control character", b'{"a":"x\ny"}', "/a", "json"),
    ("empty", b"", "", "json"),
]


@pytest.mark.parametrize(("raw", "path", "rule"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_refused_with_path_and_rule(raw: bytes, path: str, rule: str) -> None:
    with pytest.raises(JSONError) as e:
        loads(raw)
    assert (e.value.path, e.value.rule) == (path, rule)
    assert isinstance(e.value, schemas.SchemaError)
    assert rule in str(e.value)


@pytest.mark.parametrize(("raw", "path", "rule"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_validate_refuses_hostile_bytes_with_the_same_rule(raw: bytes, path: str, rule: str) -> None:
    with pytest.raises(schemas.SchemaError) as e:
        schemas.validate(raw)
    assert [(x.path, x.rule) for x in e.value.errors] == [(path, rule)]


def test_a_lone_surrogate_in_a_python_str_is_refused() -> None:
    with pytest.raises(JSONError) as e:
        loads('{"a": "\ud800"}')
    assert (e.value.path, e.value.rule) == ("/a", "lone-surrogate")


def test_limits_are_parameters() -> None:
    assert loads(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(JSONError, match="too-deep"):
        loads(b"[[[1]]]", max_depth=2)
    assert loads(b"[123]", max_integer_digits=3) == [123]
    with pytest.raises(JSONError, match="integer-too-long"):
        loads(b"[1234]", max_integer_digits=3)


def test_the_largest_integers_and_deepest_nesting_allowed_are_accepted() -> None:
    biggest = 10**MAX_INTEGER_DIGITS - 1
    assert loads(f"[{biggest},{-biggest}]".encode()) == [biggest, -biggest]
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads(deepest) == json.loads(deepest)


def test_digits_inside_strings_and_long_fractions_are_not_integers() -> None:
    assert loads(b'{"id":"' + b"1" * 64 + b'"}') == {"id": "1" * 64}
    assert loads(b"[1.000000000000000000000001]") == [1.0]


def test_escapes_decode_like_the_standard_library() -> None:
    raw = rb'{"a\u003ab":"\ud83d\ude00 \" \\ \/ \b\f\n\r\t \u00e9"}'
    assert loads(raw) == json.loads(raw)


def test_a_json_string_holding_an_event_is_a_string_and_validate_says_not_object() -> None:
    inner = _examples()[0]
    raw = json.dumps(inner.decode()).encode()
    assert loads(raw) == inner.decode()
    with pytest.raises(schemas.SchemaError) as e:
        schemas.validate(raw)
    assert [x.rule for x in e.value.errors] == ["not_object"]


def test_every_valid_example_parses_as_the_standard_library_does() -> None:
    for raw in _examples():
        assert loads(raw) == json.loads(raw)


def test_json_error_pickles_with_its_path_and_rule() -> None:
    with pytest.raises(JSONError) as e:
        loads(b'{"a":1,"a":2}')
    copy = pickle.loads(pickle.dumps(e.value))
    assert (copy.path, copy.rule, str(copy)) == ("/a", "duplicate-key", str(e.value))


def test_the_fast_path_is_taken_for_msgspec_form(monkeypatch: pytest.MonkeyPatch) -> None:
    def scanner_not_expected(*args: object) -> None:
        raise AssertionError("the scanner ran on clean input")

    monkeypatch.setattr(ijson, "_diagnose", scanner_not_expected)
    for raw in _examples():
        value = json.loads(raw)
        assert loads(msgspec.json.encode(value)) == value
        assert loads(json.dumps(value, indent=1).encode()) == value


def _widest(t: msgspec.inspect.Type, depth: int) -> tuple[int, int]:
    """(deepest nesting of objects/arrays, most digits of an integer) a value of type ``t`` may have."""
    if isinstance(t, msgspec.inspect.UnionType):
        found = [_widest(x, depth) for x in t.types]
        return max(f[0] for f in found), max(f[1] for f in found)
    if isinstance(t, msgspec.inspect.StructType):
        found = [_widest(f.type, depth + 1) for f in t.fields]
        return max([depth + 1, *(f[0] for f in found)]), max([0, *(f[1] for f in found)])
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType
                  | msgspec.inspect.VarTupleType):
        inner = _widest(t.item_type, depth + 1)
        return max(depth + 1, inner[0]), inner[1]
    if isinstance(t, msgspec.inspect.IntType):
        assert t.ge is not None and t.le is not None, f"an unbounded integer: {t}"
        return depth, max(len(str(abs(t.ge))), len(str(abs(t.le))))
    if isinstance(t, msgspec.inspect.LiteralType):
        assert all(isinstance(v, str) for v in t.values), t
        return depth, 0
    allowed = (msgspec.inspect.StrType, msgspec.inspect.BoolType, msgspec.inspect.NoneType,
               msgspec.inspect.DateType, msgspec.inspect.CustomType)
    assert isinstance(t, allowed), f"a model admits {t}: schemas.validate's fast path assumes it cannot"
    return depth, 0


def test_every_event_schema_keeps_values_within_the_ijson_limits() -> None:
    # schemas.validate skips loads's depth and integer-length scans for documents its models accept
    # (ijson.loads_within_schema_limits): that is sound only while no model admits a deeper value, a longer
    # integer, a float or an arbitrary value
    for entry in schemas.catalogue():
        deepest, digits = _widest(msgspec.inspect.type_info(entry.envelope_model), 0)
        assert deepest <= MAX_DEPTH and digits <= MAX_INTEGER_DIGITS, entry.type


def _with(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert raw.count(old) == 1
    return raw.replace(old, new)


def test_validate_names_the_ijson_rule_when_a_valid_event_breaks_it() -> None:
    doc = next(d for _, d in valid_documents() if "quantity_kg" in d["data"])
    raw = msgspec.json.encode(doc)  # msgspec's own form: the fast path
    assert schemas.validate(raw).id == doc["id"]
    quantity = b'"quantity_kg":%d' % doc["data"]["quantity_kg"]
    cases = [
        (_with(raw, quantity, b'"quantity_kg":' + b"7" * 25), "/data/quantity_kg", "integer-too-long"),
        (_with(raw, quantity, b'"quantity_kg":' + b"[" * 40 + b"1" + b"]" * 40),
         "/data/quantity_kg" + "/0" * (MAX_DEPTH - 2), "too-deep"),
        (_with(raw, quantity, quantity + b"," + quantity), "/data/quantity_kg", "duplicate-key"),
        (_with(raw, quantity, b'"quantity_kg":1e999'), "/data/quantity_kg", "number-out-of-range"),
    ]
    for bad, path, rule in cases:
        for form in (bad, bytearray(bad), memoryview(bad)):
            with pytest.raises(schemas.SchemaError) as e:
                schemas.validate(form)
            assert [(x.path, x.rule) for x in e.value.errors] == [(path, rule)], bad[:80]


def test_a_valid_event_in_msgspec_form_costs_no_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def full_loads_not_expected(*args: object, **kwargs: object) -> object:
        raise AssertionError("ijson.loads (depth and integer scans) ran on a valid event")

    monkeypatch.setattr(ijson, "loads", full_loads_not_expected)
    for raw in _examples():
        compact = msgspec.json.encode(json.loads(raw))
        assert schemas.validate(compact).envelope == json.loads(raw)
