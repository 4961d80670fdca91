"""The one-pass path of ``schemas.validate(bytes)`` (typed decode + length proof) decides exactly like the
general path (strict I-JSON to a dict, then ``msgspec.convert``): the same Event — fields, envelope (member
order included) and leaf bytes — or the same SchemaError (type, errors, event type and id, message).

Inputs: every valid example and a stretch of simulator traffic, as publishers write them, and hypothesis
mutations of their bytes — whitespace, repeated members, member order, unicode and other escapes, long
integers, ``-0``, floats and exponents, deep nesting, lone surrogates, broken UTF-8, truncation, trailing
data — and of their documents (wrong types, missing and extra members). Also: ``Event.canonical`` is
byte-identical to the ``rfc8785`` reference over the catalogue's value space (arbitrary text and integers
wherever the schemas let them through).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from typing import Any

import msgspec
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas.validation import _general, _typed
from tests.schemas.examples_data import valid_documents
from tests.schemas.test_agreement import mutated


@functools.cache
def _documents() -> tuple[dict[str, Any], ...]:
    from services.simulator import SimConfig, simulate

    simulated = itertools.islice(simulate(SimConfig(seed=7)), 600)
    docs = [doc for _, doc in valid_documents()] + [json.loads(json.dumps(e)) for e in simulated]
    return tuple(docs)


def _outcome(raw: bytes, *, general: bool) -> tuple[Any, ...]:
    try:
        event = _general(raw) if general else schemas.validate(raw)
    except schemas.SchemaError as e:
        return ("refused", type(e), tuple(e.errors), e.event_type, e.event_id, str(e))
    envelope = event.envelope
    return ("accepted", event, envelope, json.dumps(envelope, ensure_ascii=False), event.canonical)


def _same(raw: bytes) -> tuple[Any, ...]:
    """Both paths' outcome, asserted equal; the typed path's own answer agrees when it gives one."""
    fast, general = _outcome(raw, general=False), _outcome(raw, general=True)
    assert fast == general, raw
    typed = _typed(raw)
    if typed is not None:
        assert general[0] == "accepted" and typed == general[1], raw
        assert typed.canonical == general[4] and typed.envelope == general[2]
    if fast[0] == "accepted":
        assert fast[4] == rfc8785.dumps(fast[2])
    return fast


# --- the traffic itself takes the one-pass path ---------------------------------------------------------

def test_publishers_bytes_take_the_one_pass_path_and_give_the_general_paths_event() -> None:
    taken = 0
    for doc in _documents():
        raw = msgspec.json.encode(doc)
        assert raw == json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        outcome = _same(raw)
        if outcome[0] == "accepted":
            assert _typed(raw) is not None
            taken += 1
    assert taken >= 500


def test_the_envelope_is_the_general_paths_dict_member_order_included() -> None:
    doc = _documents()[0]
    backwards = dict(reversed(list(doc.items())))
    raw = msgspec.json.encode(backwards)
    event = _typed(raw)
    assert event is not None
    assert list(event.envelope) == list(backwards) and event.envelope == _general(raw).envelope
    assert event.canonical == rfc8785.dumps(backwards) == _general(raw).canonical


# --- byte-level mutations -------------------------------------------------------------------------------

class _Obj(list[tuple[Any, Any]]):
    """An object as its members in order (a name may repeat)."""


class _Raw(str):
    """Token text written as is."""


def _tree(value: Any) -> Any:
    if isinstance(value, dict):
        return _Obj((k, _tree(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_tree(v) for v in value]
    return value


def _text(node: Any) -> str:
    if isinstance(node, _Raw):
        return str(node)
    if isinstance(node, _Obj):
        return "{" + ",".join(f"{_text(k)}:{_text(v)}" for k, v in node) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_text(v) for v in node) + "]"
    return json.dumps(node, ensure_ascii=False)


def _slots(node: Any) -> list[tuple[Any, Any, bool]]:
    """(container, index, is_name) of every value and member name below ``node``."""
    out: list[tuple[Any, Any, bool]] = []
    if isinstance(node, _Obj):
        for i, (_, v) in enumerate(node):
            out += [(node, i, True), (node, i, False), *_slots(v)]
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += [(node, i, False), *_slots(v)]
    return out


def _get(container: Any, index: int, is_name: bool) -> Any:
    if isinstance(container, _Obj):
        return container[index][0 if is_name else 1]
    return container[index]


def _put(container: Any, index: int, is_name: bool, value: Any) -> None:
    if isinstance(container, _Obj):
        name, old = container[index]
        container[index] = (value, old) if is_name else (name, value)
    else:
        container[index] = value


def _escaped(text: str, draw: st.DrawFn) -> _Raw:
    """``text`` as a JSON string with one character (or all) written as an escape: the same string."""
    if not text or draw(st.booleans()):
        return _Raw(json.dumps(text, ensure_ascii=True))
    i = draw(st.integers(0, len(text) - 1))
    c = text[i]
    if ord(c) > 0xFFFF:
        hi, lo = divmod(ord(c) - 0x10000, 0x400)
        escape = f"\\u{0xD800 + hi:04x}\\u{0xDC00 + lo:04X}"
    else:
        escape = draw(st.sampled_from([f"\\u{ord(c):04x}", f"\\u{ord(c):04X}"] + (["\\/"] if c == "/" else [])))
    head, tail = json.dumps(text[:i], ensure_ascii=False), json.dumps(text[i + 1:], ensure_ascii=False)
    return _Raw(head[:-1] + escape + tail[1:])


_NUMBERS = ["-0", "0.0", "1.0", "1e2", "1E+2", "10e-1", "1.5", "-1.5e3", "1e400", "-1e400", "NaN", "Infinity",
            "9007199254740993", "123456789012345678901234567890", "01", "+1", "0x10"]


@st.composite
def _byte_mutants(draw: st.DrawFn) -> bytes:
    tree = _tree(copy.deepcopy(draw(st.sampled_from(_documents()))))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(tree)
        container, index, is_name = draw(st.sampled_from(slots))
        value = _get(container, index, is_name)
        kind = draw(st.sampled_from(["reorder", "duplicate", "escape", "number", "deep", "lone", "replace"]))
        if kind == "reorder":
            objects = [tree] + [c for c, _, _ in slots if isinstance(c, _Obj)]
            obj = draw(st.sampled_from(objects))
            obj[:] = draw(st.permutations(list(obj)))
        elif kind == "duplicate" and isinstance(container, _Obj):
            name, member = container[index]
            again = member if draw(st.booleans()) else draw(st.sampled_from([member, "x", 1, None, [], _Obj()]))
            container.insert(draw(st.integers(0, len(container))), (name, again))
        elif kind == "escape" and isinstance(value, str) and not isinstance(value, _Raw):
            _put(container, index, is_name, _escaped(value, draw))
        elif kind == "number" and not is_name:
            number = draw(st.sampled_from(_NUMBERS + ([f"{value}.0", f"{value}e0", f"{value}0"]
                                                      if type(value) is int else [])))
            _put(container, index, is_name, _Raw(number))
        elif kind == "deep" and not is_name:
            depth = draw(st.integers(3, 40))
            deep = _Raw("[" * depth + _text(value) + "]" * depth) if draw(st.booleans()) else \
                _Raw('{"a":' * depth + _text(value) + "}" * depth)
            _put(container, index, is_name, deep)
        elif kind == "lone":
            lone = draw(st.sampled_from(['"\\ud800"', '"a\\udc00"', '"\\ud83d\\u0041"']))
            _put(container, index, is_name, _Raw(lone))
        elif not is_name:
            _put(container, index, is_name, draw(st.sampled_from([None, True, 0, -1, "", [], _Obj(), "é", 2**53])))
    raw = _text(tree).encode()
    edit = draw(st.sampled_from(["none", "none", "space", "bytes", "truncate", "trailing"]))
    at = draw(st.integers(0, len(raw)))
    if edit == "space":
        raw = raw[:at] + draw(st.sampled_from([b" ", b"\n", b"\t", b"\r", b"  \r\n"])) + raw[at:]
    elif edit == "bytes":
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"\x00", b"\x1f"])) + raw[at:]
    elif edit == "truncate":
        raw = raw[:at]
    elif edit == "trailing":
        raw = raw + draw(st.sampled_from([b" ", b"x", b"{}", b"\x00"]))
    return raw


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_byte_mutants())
def test_byte_mutations_decide_like_the_general_path(raw: bytes) -> None:
    _same(raw)


@pytest.mark.parametrize("edit", [
    lambda raw: raw.replace(b'","', b'", "', 1),  # whitespace between members
    lambda raw: raw[:-1] + b',"id":"00000000-0000-4000-8000-000000000000"}',  # a repeated envelope member
    lambda raw: raw.replace(b'"data":{', b'"data":{"station":"XWV",', 1),  # a repeated data member
    lambda raw: raw.replace(b"/", b"\\/", 1),  # an avoidable escape
    lambda raw: raw + b"\n",  # trailing whitespace
])
def test_what_the_proof_cannot_show_goes_the_general_way(edit: Any) -> None:
    raw = edit(msgspec.json.encode(_documents()[0]))
    assert _typed(raw) is None
    _same(raw)


# --- document-level mutations (wrong types, missing and extra members), written compactly ------------

@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_document_mutations_decide_like_the_general_path(doc: dict[str, Any], reorder: bool) -> None:
    if reorder:
        doc = dict(reversed(list(doc.items())))
    _same(msgspec.json.encode(doc))


# --- the leaf is RFC 8785 over the catalogue's value space ---------------------------------------------

_text_values = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
_PROBE_TEXT = "é\U0001f682\n\"\\\x00\u2028"


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    out: list[tuple[tuple[Any, ...], Any]] = []
    for k, v in items:
        out += _leaves(v, (*path, k)) if isinstance(v, dict | list) else [((*path, k), v)]
    return out


def _replaced(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _accepted(doc: dict[str, Any]) -> bool:
    try:
        schemas.validate(doc)
    except schemas.SchemaError:
        return False
    return True


@functools.cache
def _open_slots() -> tuple[tuple[dict[str, Any], tuple[tuple[tuple[Any, ...], Any], ...]], ...]:
    """Documents with the leaves where the schemas let arbitrary text (or another integer) through: notes,
    reasons, names, labs; amounts."""
    out = []
    for doc in _documents()[:80]:
        slots = tuple((path, v) for path, v in _leaves(doc) if type(v) in (str, int) and _accepted(
            _replaced(doc, path, _PROBE_TEXT if type(v) is str else v + 1)))
        if slots:
            out.append((doc, slots))
    return tuple(out)


@st.composite
def _valued(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with arbitrary text in its free-text members and other integers in its amounts."""
    doc: dict[str, Any]
    doc, slots = draw(st.sampled_from(_open_slots()))
    for path, value in draw(st.lists(st.sampled_from(slots), min_size=1, max_size=4)):
        near = st.integers(max(0, value - 10**4), value + 10**4) if type(value) is int else _text_values
        doc = _replaced(doc, path, draw(near))
    return doc


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_valued())
def test_the_leaf_is_rfc8785_wherever_values_get_through(doc: dict[str, Any]) -> None:
    raw = msgspec.json.encode(doc)
    outcome = _same(raw)
    if outcome[0] == "accepted":
        assert outcome[4] == rfc8785.dumps(doc)


def test_free_text_takes_every_kind_of_character() -> None:
    """Escapes JSON requires, DEL, U+2028, astral characters: the one-pass leaf is still the reference's."""
    doc = next(d for d in _documents() if d["type"].endswith("DemandWithdrawn.v1"))
    for note in ['"\\\b\f\n\r\t\x00\x1f', "\x7f\u2028\u2029\ufeff", "煤\U0001f682\U0010fffd", "</script>&"]:
        raw = msgspec.json.encode({**doc, "data": {**doc["data"], "note": note}})
        outcome = _same(raw)
        assert outcome[0] == "accepted" and _typed(raw) is not None, outcome
        assert outcome[4] == rfc8785.dumps(outcome[2])


def test_an_event_not_made_by_validate_says_it_has_no_envelope() -> None:
    event = schemas.validate(msgspec.json.encode(_documents()[0]))
    bare = schemas.Event(*(getattr(event, f) for f in event.__struct_fields__))
    assert bare == event
    with pytest.raises(AttributeError, match="no envelope"):
        bare.envelope  # noqa: B018
