"""The ``data`` patterns lifted out of the models (``models.LIFTED``, checked in one regex by
:mod:`schemas.validation`) refuse exactly what their JSON Schema patterns refuse, wherever the string sits:
in arrays, in optional members, in nested objects. The oracle is ``jsonschema`` (the slow path)."""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas import models
from schemas.slow import schema_errors
from schemas.validation import _general, _typed, fast_structure_ok
from tests.schemas.test_fast_path import _documents


def _collect(node: Any, path: tuple[str, ...], prefix: tuple[Any, ...], out: list[tuple[Any, ...]]) -> None:
    if not path:
        out.append(prefix)
        return
    step, rest = path[0], path[1:]
    if step == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                _collect(item, rest, (*prefix, i), out)
    elif isinstance(node, dict) and step in node:
        _collect(node[step], rest, (*prefix, step), out)


def _lifted_slots() -> list[tuple[dict[str, Any], tuple[Any, ...], str]]:
    out = []
    for doc in _documents():
        for path, body in models.LIFTED.get(doc["type"], ()):
            found: list[tuple[Any, ...]] = []
            _collect(doc, path, (), found)
            out += [(doc, slot, body) for slot in found]
    return out


_SLOTS = _lifted_slots()


def _put(doc: dict[str, Any], slot: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for step in slot[:-1]:
        node = node[step]
    node[slot[-1]] = value
    return out


def _near(value: str) -> st.SearchStrategy[str]:
    """Strings close to a valid value: edits with characters a pattern treats specially, NUL and newline."""
    chars = st.sampled_from(list("\x00\n\r aZ09.-_/+=é煤") + list(value or "a"))
    edit = st.tuples(st.integers(0, len(value)), st.integers(0, 3), st.text(chars, max_size=3))
    return st.one_of(
        st.text(chars, max_size=70),
        edit.map(lambda e: value[:e[0]] + e[2] + value[e[0] + e[1]:]),
        st.sampled_from([value + "\n", value + "\x00", "\x00" + value, value + "\x00" + value, ""]),
    )


@st.composite
def _mutant(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Any, ...], str, str]:
    doc, slot, body = draw(st.sampled_from(_SLOTS))
    node: Any = doc
    for step in slot:
        node = node[step]
    value = draw(_near(node))
    return _put(doc, slot, value), slot, body, value


def test_every_lifted_path_is_exercised_by_the_documents() -> None:
    types = {doc["type"] for doc, _, _ in _SLOTS}
    assert len(types) >= 12 and len(_SLOTS) > 1000


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutant())
def test_a_lifted_pattern_refuses_exactly_what_its_schema_pattern_refuses(
        mutant: tuple[dict[str, Any], tuple[Any, ...], str, str]) -> None:
    doc, _, body, value = mutant
    accepted = fast_structure_ok(doc)
    assert accepted == (schema_errors(schemas.event_type(doc["type"]), doc) == []), (value, body)
    if re.search(f"^{body}$(?!\\n)", value) is None:  # the original pattern refuses the value
        assert not accepted
    raw = msgspec.json.encode(doc)
    try:
        general = _general(raw)
    except schemas.SchemaError as e:
        assert _typed(raw) is None
        try:
            schemas.validate(raw)
        except schemas.SchemaError as again:
            assert (again.errors, str(again)) == (e.errors, str(e))
        else:
            raise AssertionError("validate accepted what the general path refused") from None
    else:
        typed = _typed(raw)
        assert typed is None or (typed == general and typed.canonical == general.canonical)
