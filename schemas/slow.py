"""The slow path: the JSON Schemas themselves, run by ``jsonschema`` (Draft 2020-12), to list every error.

Used only when the msgspec fast path has rejected an event, so its cost is paid by bad events alone. Two
adjustments make the reference validator mean exactly what the generated models mean:

* ``integer`` (and ``number``) accept Python ``int`` only — not ``1.0``, not ``True``: signed data holds no
  floats, and ``1.0`` would canonicalise differently from ``1``;
* ``format`` is asserted for ``date`` and ``date-time`` (the date or instant must exist).

Errors are translated to :class:`~schemas.errors.ErrorItem` with a JSON pointer to the offending value
(for ``required`` and ``additionalProperties``: to the missing or unexpected property itself).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
    validators,
)
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]
from jsonschema.protocols import Validator  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from schemas.catalogue import EventType, catalogue, common_schema
from schemas.errors import ErrorItem

__all__ = ["pointer", "schema_errors", "validator_for"]

_FLOAT_HINT = "floats are not allowed: use an integer with the unit in its name, or a two-decimal string"


def _is_int(_checker: object, instance: object) -> bool:
    return type(instance) is int


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_int, "number": _is_int})
StrictValidator = validators.extend(Draft202012Validator, type_checker=_TYPES)

_FORMATS = FormatChecker(formats=())


def _is_date(instance: object) -> bool:
    if isinstance(instance, str):
        datetime.date.fromisoformat(instance)
    return True


def _is_date_time(instance: object) -> bool:
    if isinstance(instance, str):
        datetime.datetime.fromisoformat(instance)
    return True


_FORMATS.checks("date", raises=ValueError)(_is_date)
_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


@functools.cache
def _registry() -> Registry[Any]:
    resources = [(common_schema()["$id"], DRAFT202012.create_resource(common_schema()))]
    resources += [(e.schema_id, DRAFT202012.create_resource(e.schema)) for e in catalogue()]
    return Registry().with_resources(resources)


@functools.cache
def validator_for(type_: str) -> Validator:
    """The reference validator of one event type (cached)."""
    entry = next(e for e in catalogue() if e.type == type_)
    return StrictValidator(entry.schema, registry=_registry(), format_checker=_FORMATS)


def schema_errors(entry: EventType, instance: Mapping[str, Any]) -> list[ErrorItem]:
    """Every schema error of ``instance`` against ``entry``'s schema, ordered by path (empty = valid)."""
    found: dict[tuple[str, str], ErrorItem] = {}
    for error in validator_for(entry.type).iter_errors(instance):
        for item in _translate(error):
            found.setdefault((item.path, item.rule), item)
    return sorted(found.values(), key=lambda i: (_sort_key(i.path), i.rule))


def _sort_key(path: str) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in path.split("/")]


def pointer(parts: Iterable[object]) -> str:
    """RFC 6901 JSON pointer of a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _short(value: object, limit: int = 40) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    text = repr(value) if isinstance(value, str) else _json_scalar(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number with a fraction or exponent"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _label(schema: object) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    return f" ({title})" if title else ""


def _translate(e: ValidationError) -> Iterator[ErrorItem]:
    path = list(e.absolute_path)
    keyword = str(e.validator)
    value, instance, schema = e.validator_value, e.instance, e.schema
    if keyword == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                sub = schema.get("properties", {}).get(name, {}) if isinstance(schema, dict) else {}
                label = _label(sub) or _ref_label(sub)
                yield ErrorItem(path=pointer([*path, name]), rule=keyword,
                                message=f"missing required property '{name}'{label}")
        return
    if keyword == "additionalProperties" and isinstance(instance, dict) and isinstance(schema, dict):
        known = set(schema.get("properties", {}))
        for name in instance:
            if name not in known:
                yield ErrorItem(path=pointer([*path, name]), rule=keyword,
                                message=f"unknown property '{name}'; allowed: {', '.join(sorted(known))}")
        return
    yield ErrorItem(path=pointer(path), rule=keyword, message=_message(keyword, value, instance, schema, e))


def _ref_label(sub: object) -> str:
    if isinstance(sub, dict) and "$ref" in sub:
        return f" ({str(sub['$ref']).rsplit('/', 1)[-1]})"
    return ""


def _message(keyword: str, value: Any, instance: Any, schema: Any, e: ValidationError) -> str:
    label = _label(schema)
    if keyword == "type":
        hint = f"; {_FLOAT_HINT}" if isinstance(instance, float) else ""
        return f"expected {value}, got {_json_type(instance)} {_short(instance)}{label}{hint}"
    if keyword == "enum":
        shown = ", ".join(repr(v) for v in value[:12]) + (", …" if len(value) > 12 else "")
        return f"{_short(instance)} is not one of {shown}{label}"
    if keyword == "const":
        return f"must be {value!r}, got {_short(instance)}{label}"
    if keyword == "pattern":
        return f"{_short(instance)} is not a valid value{label}: it must match {value}"
    if keyword == "format":
        return f"{_short(instance)} is not a real {value}{label}"
    if keyword in ("minimum", "maximum"):
        relation = "less than the minimum" if keyword == "minimum" else "greater than the maximum"
        return f"{_short(instance)} is {relation} {value}{label}"
    if keyword in ("minLength", "maxLength"):
        return f"{_short(instance)} has {len(instance)} characters; {_bound(keyword)} {value}{label}"
    if keyword in ("minItems", "maxItems"):
        return f"has {len(instance)} items; {_bound(keyword)} {value}{label}"
    if keyword == "uniqueItems":
        seen: set[str] = set()
        dups: list[str] = []
        for text in map(repr, instance):
            if text in seen:
                dups.append(text)
            seen.add(text)
        return f"items must be unique; {', '.join(dups[:5])} repeated{label}"
    if keyword == "minProperties":
        return f"needs at least {value} propert{'y' if value == 1 else 'ies'}{label}"
    return str(e.message)


def _bound(keyword: str) -> str:
    return "at least" if keyword.startswith("min") else "at most"
