"""``validate(raw) -> Event``: decode, check the schema and the domain rules in one pass, or say why not.

General path (every valid event): msgspec decodes the JSON to a plain dict (kept as ``Event.envelope``),
converts it into the event type's generated frozen Struct — which checks types, enums, patterns, lengths
and bounds in C — runs the few checks msgspec cannot express (``EXTRA_CHECKS``), then the domain rules.
Two shortcuts, each exact: the envelope's six patterns are checked by one regex (``_compile``), and so are
the ``data`` strings the codegen declares plain ``str`` (``models.LIFTED``, another regex), and bytes
skip ijson's depth and long-integer scans, which no document the models accept can fail (any refusal runs
the full :func:`schemas.ijson.loads` first, so I-JSON's rule is still the one reported).

One-pass path (bytes in the compact form publishers and the gateway write, any member order): msgspec
decodes the bytes straight into the model and re-encodes it sorted; equal lengths prove the general path
would read the same document (see :func:`_typed`), and the re-encoding is the envelope's RFC 8785 bytes
(``Event.canonical``, the Merkle leaf). The envelope dict is then decoded only when someone asks for it.
Whatever that path cannot prove, or refuses, the general path above decides, with its own errors.

Slow path (invalid events only): the JSON Schema itself, run by ``jsonschema``, lists *every* error with a
JSON pointer. The general and slow paths accept and reject exactly the same documents, and the one-pass
and general paths decide alike; the test suite checks both on every example and on hypothesis-mutated
events (``tests/schemas/test_agreement.py``, ``tests/schemas/test_fast_path.py``).
"""

from __future__ import annotations

import datetime
import difflib
import functools
import logging
import operator
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from schemas import ijson, models
from schemas.catalogue import EventType, catalogue, parse_type
from schemas.errors import ErrorItem, SchemaError
from schemas.event import Event
from schemas.patterns import liftable_body
from schemas.refdata import refdata
from schemas.rules import Findings, Rules
from schemas.slow import pointer, schema_errors

__all__ = ["fast_structure_ok", "validate"]

log = logging.getLogger(__name__)

_PARTICIPANT_PREFIX_LEN = len("/participants/")


def _encode_sorted_model(model: models.Envelope) -> bytes:
    return _encode_sorted(model)


class _Invalid(Exception):
    """An extra check failed (the slow path will say which)."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: EventType
    model: type[models.Envelope]
    """What the fast path converts to: the envelope model, less the patterns that ``patterns`` checks."""
    checks: tuple[tuple[str, tuple[str, ...], int], ...]
    subject_attr: str
    patterns: re.Pattern[str] | None
    """Every lifted pattern in one: it must ``fullmatch`` the values of ``lifted`` joined by NUL."""
    lifted: tuple[str, ...]
    values: Callable[[models.Envelope], tuple[str, ...]]
    decode: Callable[[bytes], models.Envelope]
    """msgspec's JSON decoder straight into ``model`` (the one-pass path of :func:`_typed`)."""
    data_patterns: re.Pattern[str] | None = None
    """The ``data`` strings of ``models.LIFTED`` in one: ``(?:NUL(?:TAG1 BODY1|TAG2 BODY2|…))*`` must
    fullmatch the values each written as NUL, its path's TAG (the BODY's number, from 1) and the value."""
    data_values: Callable[[models.Envelope], list[str]] | None = None
    """The ``data`` strings of ``models.LIFTED`` below a model, each as NUL + TAG + value (see ``_collector``)."""

    encode: Callable[[models.Envelope], bytes] = _encode_sorted_model
    """msgspec's sorted JSON encoding of ``model``: its plain one when :func:`_declared_sorted` says equal."""

    def patterns_ok(self, model: models.Envelope) -> bool:
        if self.patterns is not None and self.patterns.fullmatch(_JOIN.join(self.values(model))) is None:
            return False
        if self.data_patterns is None or self.data_values is None:
            return True
        found = self.data_values(model)
        joined = "".join(found)
        # as many NULs as values: no value holds one, so the NULs cut ``joined`` into the tagged values; a
        # BODY cannot match NUL, so each piece is matched by its own TAG's BODY whole — the fullmatch holds
        # exactly when every value fullmatches its BODY, i.e. matches its original pattern
        return joined.count(_JOIN) == len(found) and self.data_patterns.fullmatch(joined) is not None


def _collector(paths: list[tuple[tuple[str, ...], str]]) -> Callable[[models.Envelope], list[str]]:
    """A function returning ``prefix + value`` for each string at each (path, prefix) below a model ("*" =
    every item of an array; nothing where an optional member is UNSET). Written as Python source and
    compiled once per event type: one plain function is several times cheaper than walking the paths."""
    tree: dict[str, Any] = {}
    for path, prefix in paths:
        node = tree
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = prefix
    lines = ["def collect(m0):", "    out = []"]
    count = 0

    def walk(var: str, node: dict[str, Any], indent: str) -> None:
        nonlocal count
        for step, sub in node.items():
            count += 1
            v = f"m{count}"
            if step == "*":
                if isinstance(sub, str):
                    lines.append(f"{indent}out += [{sub!r} + x for x in {var}]")
                    continue
                lines.append(f"{indent}for {v} in {var}:")
                walk(v, sub, indent + "    ")
                continue
            if not step.isidentifier():
                raise ValueError(f"not an attribute name: {step!r}")
            lines.append(f"{indent}{v} = {var}.{step}")
            lines.append(f"{indent}if {v} is not UNSET:")
            if isinstance(sub, str):
                lines.append(f"{indent}    out.append({sub!r} + {v})")
            else:
                walk(v, sub, indent + "    ")

    walk("m0", tree, "    ")
    lines.append("    return out")
    namespace: dict[str, Any] = {"UNSET": UNSET}
    exec(compile("\n".join(lines), f"<lifted data patterns of {len(paths)} paths>", "exec"), namespace)
    return typing.cast(Callable[[models.Envelope], list[str]], namespace["collect"])


def _data_patterns(type_: str) -> tuple[re.Pattern[str] | None, Callable[[models.Envelope], list[str]] | None]:
    tags: dict[str, str] = {}
    paths = []
    for path, body in models.LIFTED.get(type_, ()):
        tag = tags.setdefault(body, chr(len(tags) + 1))
        paths.append((path, _JOIN + tag))
    if not tags:
        return None, None
    alternatives = "|".join(f"{re.escape(tag)}(?:{body})" for body, tag in tags.items())
    return re.compile(f"(?:{_JOIN}(?:{alternatives}))*"), _collector(paths)


_JOIN = "\x00"


@functools.cache
def _table() -> dict[str, _Compiled]:
    return {e.type: _compile(e) for e in catalogue()}


def _compile(e: EventType) -> _Compiled:
    """The entry's fast path. msgspec checks a pattern by calling the ``re`` module once per string (about
    1 µs each, six per envelope: most of a conversion's cost); the required top-level strings whose pattern
    is ``^BODY$(?!\\n)`` with a BODY that can never match NUL are instead converted as plain ``str`` and
    checked together: the values joined by NUL must ``fullmatch`` the BODYs joined by NUL. As no BODY can
    match NUL, that holds exactly when each value fullmatches its own BODY (a value holding a NUL has
    more NULs than the joins and fails), i.e. when each value matches its original pattern."""
    fields = msgspec.structs.fields(e.envelope_model)
    lifted: list[tuple[str, str]] = []
    for f in fields:
        body = _liftable_body(f.type) if f.required else None
        if body is not None:
            lifted.append((f.name, body))
    checks, subject_attr = models.EXTRA_CHECKS.get(e.type, ()), e.subject_field[6:]
    groups = _data_patterns(e.type)
    if not lifted:
        return _Compiled(e, e.envelope_model, checks, subject_attr, None, (), lambda model: (),
                         msgspec.json.Decoder(e.envelope_model).decode, *groups, _encoder(e.envelope_model))
    model = msgspec.defstruct(
        f"{e.envelope_model.__name__}Unpatterned", [(name, str) for name, _ in lifted], bases=(e.envelope_model,),
        frozen=True, kw_only=True, module=__name__)
    assert issubclass(model, models.Envelope)
    pattern = re.compile(_JOIN.join(f"(?:{body})" for _, body in lifted))
    names = tuple(name for name, _ in lifted)
    values = typing.cast(Callable[[models.Envelope], tuple[str, ...]],
                         operator.attrgetter(*names) if len(names) > 1 else lambda m: (getattr(m, names[0]),))
    return _Compiled(e, model, checks, subject_attr, pattern, names, values, msgspec.json.Decoder(model).decode,
                     *groups, _encoder(model))


def _encoder(model: type[models.Envelope]) -> Callable[[models.Envelope], bytes]:
    if _declared_sorted(model):
        return _encode_declared
    log.warning("%s does not declare its fields sorted: the leaf is encoded sorted", model.__name__)
    return _encode_sorted_model


def _liftable_body(annotation: object) -> str | None:
    """BODY when ``annotation`` is ``Annotated[str, Meta(pattern="^BODY$(?!\\n)")]`` with no other constraint
    and BODY made only of literals, character ranges and classes, groups, alternatives and repeats — none of
    which holds NUL (so BODY cannot match a string holding one); None otherwise."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    base, *metas = typing.get_args(annotation)
    if base is not str or len(metas) != 1 or not isinstance(metas[0], msgspec.Meta):
        return None
    meta = metas[0]
    others = (meta.min_length, meta.max_length, meta.ge, meta.gt, meta.le, meta.lt, meta.multiple_of, meta.tz)
    if meta.pattern is None or any(x is not None for x in others):
        return None
    return liftable_body(meta.pattern)


@functools.cache
def _rules() -> Rules:
    return Rules(refdata())


def validate(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> Event:
    """Validate one event (JSON bytes or text, or an already decoded mapping) and return it typed.

    Raises :class:`~schemas.errors.SchemaError` listing every problem (path, rule, message). A ``dict`` is
    used as is (not copied) and becomes ``Event.envelope``; another mapping is copied once (shallow). Values
    must be JSON types (dict, list, str, int, bool, None).
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        return _typed(data) or _general(data)
    return _validate(_envelope_of(raw))


def _general(data: bytes) -> Event:
    """The general path for bytes: strict I-JSON to a dict, then :func:`_validate`."""
    try:
        return _validate(_object(ijson.loads_within_schema_limits(data)))
    except SchemaError:
        ijson.loads(data)  # I-JSON's refusals (depth, long integers) come before the schema's, as always
        raise


_TYPE_MEMBER = b'"type":"'
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_encode_declared = msgspec.json.Encoder().encode


def _declared_sorted(annotation: object) -> bool:
    """Whether every Struct in ``annotation`` declares its fields in sorted order with ASCII names (as the
    codegen writes them): then msgspec's plain encoding equals its ``order="sorted"`` one, byte for byte (a
    Struct's fields in declaration order, UNSET ones omitted either way; no dicts in a model). ASCII names
    sort alike by code point, by UTF-16 code unit (RFC 8785) and by byte."""
    seen: set[int] = set()

    def walk(info: msgspec.inspect.Type) -> bool:
        if id(info) in seen:
            return True
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            names = [f.encode_name for f in info.fields]
            return all(n.isascii() for n in names) and names == sorted(names) \
                and all(walk(f.type) for f in info.fields)
        if isinstance(info, msgspec.inspect.UnionType):
            return all(walk(t) for t in info.types)
        if isinstance(info, msgspec.inspect.TupleType | msgspec.inspect.VarTupleType | msgspec.inspect.ListType):
            items = info.item_types if isinstance(info, msgspec.inspect.TupleType) else (info.item_type,)
            return all(walk(t) for t in items)
        return not isinstance(info, msgspec.inspect.DictType)  # msgspec sorts dict keys only when asked

    return walk(msgspec.inspect.type_info(annotation))


@functools.cache
def _table_by_type_bytes() -> dict[bytes, _Compiled]:
    return {type_.encode(): compiled for type_, compiled in _table().items()}


def _typed(data: bytes) -> Event | None:
    """The one-pass path for bytes: the event, or None when it cannot show that the general path (I-JSON
    parse to a dict, then ``msgspec.convert``) would return the very same event.

    The type is guessed from the first ``"type":"`` in the bytes (a wrong guess fails the decode: the model's
    ``type`` is a ``Literal``), and the bytes are decoded straight into that type's model. msgspec's typed
    decoder is the generic decoder's parser (same strings, integers, UTF-8 and surrogate refusals) with the
    same conversions as ``msgspec.convert``; what it does not refuse is a repeated member (the last one
    wins), whitespace, and escapes or ``-0`` where shorter text means the same. So the model is re-encoded,
    compact and sorted, and the lengths compared: msgspec writes every value in its shortest JSON text
    (strings raw but for the escapes JSON requires, each in its shortest form; integers in canonical
    decimal; a date as the 10 characters it was read from; members once each), so the re-encoding is
    never longer than the input, and it is shorter whenever the input holds a repeated member, whitespace,
    an avoidable escape or ``-0``. Equal lengths therefore prove that the input is msgspec's own compact
    form of a duplicate-free object — exactly what :func:`~schemas.ijson.loads_within_schema_limits`
    accepts after one decode and one encode — and that the general path's dict converts to this model.
    The re-encoding is then the RFC 8785 form of the envelope (``Event.canonical``). Anything the typed
    decode, the proof or a later check refuses returns None, so every refusal is the general path's.
    """
    at = data.find(_TYPE_MEMBER)
    if at < 0:
        return None
    start = at + len(_TYPE_MEMBER)
    compiled = _table_by_type_bytes().get(data[start:data.find(b'"', start)])
    if compiled is None:
        return None
    try:
        model = compiled.decode(data)
    except (msgspec.MsgspecError, RecursionError):
        return None
    canonical = compiled.encode(model)
    if len(canonical) != len(data):
        return None
    try:
        event = _event(compiled, model, _structure(compiled, model))
    except (ValueError, _Invalid):  # a SchemaError is a ValueError: the general path reports it
        return None
    event.__dict__["json"] = data
    event.__dict__["canonical"] = canonical
    return event


def _validate(envelope: dict[str, Any]) -> Event:
    compiled = _compiled_for(envelope)
    try:
        model = msgspec.convert(envelope, compiled.model)
        time = _structure(compiled, model)
    except (msgspec.MsgspecError, ValueError, _Invalid) as e:
        raise _slow_error(compiled.entry, envelope, e) from None
    event = _event(compiled, model, time)
    event.__dict__["envelope"] = envelope
    return event


def _structure(compiled: _Compiled, model: models.Envelope) -> datetime.datetime:
    """The checks of a converted model that msgspec does not make (lifted patterns, real date-times,
    ``EXTRA_CHECKS``); the event's time. Raises ``_Invalid`` or ``ValueError``."""
    if not compiled.patterns_ok(model):
        raise _Invalid
    time = datetime.datetime.fromisoformat(model.time)
    if compiled.checks:
        _run_checks(model, compiled.checks)
    return time


def _event(compiled: _Compiled, model: models.Envelope, time: datetime.datetime) -> Event:
    """The domain rules, then the event (without its envelope: the caller attaches it)."""
    findings = Findings()
    entry = compiled.entry
    _rules().check(entry.name, compiled.subject_attr, model, findings)
    if findings.errors:
        raise SchemaError(findings.errors, event_type=entry.type, event_id=model.id)
    source = model.source
    return Event(model.id, source, entry.type, model.subject, time, entry.schema_id, model.data, model.sigkeyid,
                 model.signature, source[_PARTICIPANT_PREFIX_LEN:], entry.area, entry.name, entry.version,
                 tuple(findings.warnings))  # positionally: Event's field order


def fast_structure_ok(envelope: Mapping[str, Any]) -> bool:
    """Whether the fast path accepts the structure (schema level, before domain rules). For tests."""
    compiled = _compiled_for(_envelope_of(envelope))
    try:
        _structure(compiled, msgspec.convert(envelope, compiled.model))
    except (msgspec.MsgspecError, ValueError, _Invalid):
        return False
    return True


def _envelope_of(raw: object) -> dict[str, Any]:
    if type(raw) is dict:
        return raw
    if isinstance(raw, bytes | bytearray | memoryview | str):
        doc = ijson.loads(raw)
    elif isinstance(raw, Mapping):
        doc = raw if type(raw) is dict else dict(raw)
    else:
        doc = raw
    return _object(doc)


def _object(doc: object) -> dict[str, Any]:
    """A decoded document that must be an object: the envelope."""
    if type(doc) is not dict:
        raise SchemaError([ErrorItem(path="", rule="not_object",
                                     message=f"an event is a JSON object, not {_kind(doc)}")])
    return doc


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _compiled_for(envelope: dict[str, Any]) -> _Compiled:
    type_ = envelope.get("type")
    event_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
    if type_ is None:
        missing = ErrorItem(path="/type", rule="required", message="missing required property 'type'")
        raise SchemaError([missing], event_id=event_id)
    if not isinstance(type_, str):
        wrong = ErrorItem(path="/type", rule="type", message=f"'type' must be a string, not {_kind(type_)}")
        raise SchemaError([wrong], event_id=event_id)
    compiled = _table().get(type_)
    if compiled is None:
        raise SchemaError([_unknown_type(type_)], event_type=type_, event_id=event_id)
    return compiled


def _unknown_type(type_: str) -> ErrorItem:
    known = [e.type for e in catalogue()]
    parsed = parse_type(type_)
    if parsed is not None:
        area, name, version = parsed
        versions = [e for e in catalogue() if e.area == area and e.name == name]
        if versions:
            listed = ", ".join(e.type for e in versions)
            return ErrorItem(path="/type", rule="unknown-version",
                             message=f"unknown event type {type_!r}: {area}.{name} has no version {version}; "
                                     f"known: {listed}")
    close = difflib.get_close_matches(type_, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "; expected cn.taijiao.coal.<area>.<EventName>.v<version>"
    return ErrorItem(path="/type", rule="unknown-type", message=f"unknown event type {type_!r}{hint}")


def _slow_error(entry: EventType, envelope: dict[str, Any], fast: Exception) -> SchemaError:
    errors = schema_errors(entry, envelope)
    if not errors:  # the two paths disagree: a bug; still reject, with what msgspec said
        log.error("fast and slow validation disagree on %s: %s", entry.type, fast)
        errors = [ErrorItem(path=_msgspec_pointer(str(fast)), rule="schema", message=str(fast))]
    event_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
    return SchemaError(errors, event_type=entry.type, event_id=event_id)


def _msgspec_pointer(message: str) -> str:
    marker = " - at `$"
    if marker not in message:
        return ""
    path = message.rsplit(marker, 1)[1].rstrip("`")
    parts: list[object] = []
    for chunk in path.replace("[", ".[").split("."):
        if chunk.startswith("[") and chunk.endswith("]"):
            parts.append(chunk[1:-1])
        elif chunk:
            parts.append(chunk)
    return pointer(parts)


def _run_checks(model: models.Envelope, checks: tuple[tuple[str, tuple[str, ...], int], ...]) -> None:
    for keyword, path, arg in checks:
        for value in _values_at(model, path, 0):
            if keyword == "minProperties":
                if sum(getattr(value, f) is not UNSET for f in value.__struct_fields__) < arg:
                    raise _Invalid
            elif keyword == "uniqueItems":
                if len(set(value)) != len(value):
                    raise _Invalid
            elif keyword == "date-time":
                datetime.datetime.fromisoformat(value)


def _values_at(node: Any, path: tuple[str, ...], i: int) -> Iterator[Any]:
    if i == len(path):
        yield node
        return
    step = path[i]
    if step == "*":
        for item in node:
            yield from _values_at(item, path, i + 1)
        return
    child = getattr(node, step)
    if child is not UNSET:
        yield from _values_at(child, path, i + 1)
