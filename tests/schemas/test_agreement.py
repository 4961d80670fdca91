"""The msgspec fast path and the jsonschema slow path accept and reject exactly the same documents.

Hypothesis mutates valid examples at random places — deleting, adding and replacing properties, nudging
numbers across their bounds, corrupting strings just past their patterns — and checks that both paths
agree, and that ``validate`` only ever returns an Event or raises SchemaError.
"""

from __future__ import annotations

import copy
import json
import re
import typing
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas.slow import schema_errors
from schemas.validation import _liftable_body, _table, fast_structure_ok
from tests.schemas.examples_data import valid_documents

DOCS = [doc for _, doc in valid_documents()]
MAX_SAFE = 2**53 - 1


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _variants(value: Any) -> list[Any]:
    """Near-misses of a value: the edges where two validators might disagree."""
    common: list[Any] = [None, True, 0, -1, 1.5, 1.0, "", [], {}, MAX_SAFE + 1]
    if isinstance(value, bool):
        return [*common, not value, int(value)]
    if isinstance(value, int):
        return [*common, value + 1, value - 1, -value, float(value), str(value), value * 1000]
    if isinstance(value, str):
        return [*common, value + "\n", value + " ", value[:-1], value.upper(), value.lower(), value + "0",
                "0" + value, value.replace("-", "/"), value.replace("0", "O"), value * 2, f"{value}\u00e9",
                value.replace("T", "t"), value.replace("Z", "+00:00"), value[:10], "2025-02-29", "2024-02-29",
                "2025-03-01T24:00:00Z", "2025-03-01T23:59:60Z", "12.3", "12.345", "100.00", "100.01", "-1.00",
                value + "\x00", "\x00" + value, value[:1] + "\x00" + value[2:], value + "\x00" + value]
    if isinstance(value, list):
        return [*common, value + value[:1], value[:-1], [*value, None]]
    if isinstance(value, dict):
        return [*common, {**value, "extra": 1}, dict(list(value.items())[:-1])]
    return common


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p and p[0] not in ("type",)]
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["x", "extra_kg", "note", "min", "assay", "id"]))] = draw(
                st.sampled_from(_variants(parent[key])))
        else:
            parent[key] = draw(st.sampled_from(_variants(parent[key])))
    return doc


def _slow_ok(doc: dict[str, Any]) -> bool:
    return schema_errors(schemas.event_type(doc["type"]), doc) == []


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_and_slow_paths_agree_on_mutated_events(doc: dict[str, Any]) -> None:
    assert fast_structure_ok(doc) == _slow_ok(doc), json.dumps(doc, ensure_ascii=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_validate_returns_an_event_or_raises_schema_error_only(doc: dict[str, Any]) -> None:
    raw = json.dumps(doc, ensure_ascii=False).encode()
    try:
        event = schemas.validate(raw)
    except schemas.SchemaError as e:
        assert e.errors
        assert all(item.rule and item.message for item in e.errors)
        assert "Traceback" not in str(e)
        if fast_structure_ok(doc):
            assert not _slow_ok(doc) or all(item.rule not in _SCHEMA_KEYWORDS for item in e.errors)
        else:
            assert {item.rule for item in e.errors} <= _SCHEMA_KEYWORDS
        return
    assert _slow_ok(doc)
    assert event.envelope == doc


_SCHEMA_KEYWORDS = {"required", "additionalProperties", "type", "enum", "const", "pattern", "format", "minimum",
                    "maximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_library_errors(raw: bytes) -> None:
    try:
        schemas.validate(raw)
    except schemas.SchemaError as e:
        assert e.errors


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                       max_size=4), max_leaves=20))
def test_arbitrary_json_never_escapes_as_library_errors(value: Any) -> None:
    try:
        schemas.validate(json.dumps(value))
    except schemas.SchemaError as e:
        assert e.errors


def test_lifted_patterns_agree_with_their_originals_value_by_value() -> None:
    # the fast path checks the envelope's patterns as one regex over the values joined by NUL
    # (schemas.validation._compile): each value must pass alone exactly when it passes its own pattern
    doc = DOCS[0]
    compiled = _table()[doc["type"]]
    assert set(compiled.lifted) == {"id", "source", "subject", "time", "sigkeyid", "signature"}
    for name in compiled.lifted:
        original = _PATTERNS[name]
        for value in [doc[name], *(v for v in _variants(doc[name]) if isinstance(v, str))]:
            mutated = {**doc, name: value}
            ok = fast_structure_ok(mutated)
            assert ok == _slow_ok(mutated), (name, value)
            if re.search(original, value) is None:
                assert not ok, (name, value)


_PATTERNS = {f.name: typing.get_args(f.type)[1].pattern
             for f in msgspec.structs.fields(schemas.event_type(DOCS[0]["type"]).envelope_model)
             if typing.get_origin(f.type) is typing.Annotated}


@pytest.mark.parametrize(("pattern", "body"), [
    ("^[0-9a-f]{64}$(?!\\n)", "[0-9a-f]{64}"),
    ("^(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)$(?!\\n)", "(?:[1-9]?[0-9]\\.[0-9]{2}|100\\.00)"),
    ("^a+?b$(?!\\n)", "a+?b"),
    ("^.{3}$(?!\\n)", None),  # "." matches NUL
    ("^[^a]$(?!\\n)", None),  # so does a negated set
    ("^\\W$(?!\\n)", None),  # and a category
    ("^[\\x00-\\x1f]$(?!\\n)", None),  # and a range from NUL
    ("^a\\x00$(?!\\n)", None),  # and NUL itself
    ("^[a\\x00]$(?!\\n)", None),
    ("^a(?=b)b$(?!\\n)", None),  # a look-ahead: not lifted
    ("^(a)\\1$(?!\\n)", None),  # a back reference: not lifted
    ("^a$", None),  # not the generated anchoring
    ("[a-z]+$(?!\\n)", None),  # unanchored start: a search, not a fullmatch
    ("^a|b$(?!\\n)", None),  # (^a)|(b$): a search for either
    ("^(?:a|b)$(?!\\n)", "(?:a|b)"),
])
def test_only_patterns_that_cannot_match_nul_are_lifted(pattern: str, body: str | None) -> None:
    assert _liftable_body(Annotated[str, msgspec.Meta(pattern=pattern)]) == body
    if body is not None:
        assert re.fullmatch(body, "x\x00y") is None


def test_constrained_or_non_string_fields_are_not_lifted() -> None:
    assert _liftable_body(Annotated[str, msgspec.Meta(pattern="^a$(?!\\n)", max_length=3)]) is None
    assert _liftable_body(Annotated[int, msgspec.Meta(ge=1)]) is None
    assert _liftable_body(Annotated[str, "not a Meta"]) is None
    assert _liftable_body(str) is None
