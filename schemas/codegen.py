"""Generate the typed models from the JSON Schemas, and the reference-data enums of the common schema.

    python -m schemas.codegen          # rewrite schemas/definitions/common.v1.json enums and schemas/models.py
    python -m schemas.codegen --check  # exit 1 (and say which) if either file would change

Two outputs, one idea (the schemas are the source of truth, everything typed is derived):

1. ``common.v1.json``: the ``enum`` of StationCode, MineId, ProductCode, CoalClass and WagonType is set
   from ``schemas/data/*.json`` (the reference data, where the facts live).
2. ``models.py``: one frozen msgspec Struct per object schema, one envelope Struct per event type, and
   ``EXTRA_CHECKS`` — the few keywords msgspec cannot express, which the fast path runs after decoding —
   and ``LIFTED``: the ``data`` strings whose only constraint is a pattern that can be checked with others
   in one regex (see :mod:`schemas.patterns`) are declared plain ``str``, and the fast path checks them
   all at once. Fields are declared in RFC 8785 member order (the leaf then needs no sort).

Why msgspec: decoding straight into typed, frozen, slot-based Structs with the constraints compiled in C
is the fastest way to validate in Python (measured in ``bench/schemas_bench.py``), and the same Structs are
the typed, immutable payloads callers get in :class:`schemas.Event`.

Only this JSON Schema subset is accepted (anything else is an error here, so the msgspec fast path and
the ``jsonschema`` slow path can never silently disagree):

* annotations: ``title``, ``description``, ``$comment``, ``examples``, ``x-*`` (ignored by the models);
* ``$ref`` to ``https://schemas.taijiao-coal.cn/common/v1.json#/$defs/<Name>``;
* ``const`` and ``enum`` of strings;
* ``string`` with ``pattern``, ``minLength``, ``maxLength``, ``format`` ``date`` (→ ``datetime.date``) or
  ``date-time`` (→ ``str`` + an extra check that the instant exists);
* ``integer`` with ``minimum``/``maximum`` (a ``maximum`` is required: JSON numbers above 2**53 are not
  portable), ``boolean``;
* ``array`` with ``items``, ``minItems``, ``maxItems`` and ``uniqueItems`` (scalar items; extra check);
* ``object`` with ``properties``, ``required``, ``additionalProperties: false`` (mandatory) and
  ``minProperties`` (extra check). Nested objects need ``x-model-name``.

Optional properties become ``T | UnsetType = UNSET``: "absent" has exactly one spelling (``null`` is never
accepted for an optional field).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.patterns import liftable_body
from schemas.resources import PACKAGE_DIR, dump_json

__all__ = ["CodegenError", "generate", "main"]

COMMON_ID = "https://schemas.taijiao-coal.cn/common/v1.json"
_REF_PREFIX = COMMON_ID + "#/$defs/"
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples"})
_ENVELOPE_VARIABLE = frozenset({"type", "dataschema", "data"})
_MAX_SAFE_INTEGER = 2**53 - 1
_LINE = 110
_HEADER = "# GENERATED — DO NOT EDIT; run python -m schemas.codegen\n"

# A check the fast path runs after msgspec: (keyword, attribute path with "*" for every array item, argument)
Check = tuple[str, tuple[str, ...], int]


class CodegenError(Exception):
    """A schema uses something outside the supported subset (the message names the schema and pointer)."""


# --------------------------------------------------------------------------------------------------------
# 1. reference-data enums


def reference_enums(data_dir: Path) -> dict[str, list[str]]:
    """The enum values of the common schema's reference-data definitions, from the data files."""

    def load(name: str) -> Any:
        return json.loads((data_dir / name).read_text(encoding="utf-8"))

    return {
        "StationCode": [s["code"] for s in load("stations.json")["stations"]],
        "MineId": [m["mine_id"] for m in load("mines.json")["mines"]],
        "ProductCode": [p["code"] for p in load("products.json")["products"]],
        "CoalClass": [c["code"] for c in load("coal_classes.json")["classes"]],
        "WagonType": [w["type"] for w in load("wagons.json")["wagons"]],
    }


def sync_common(common: Mapping[str, Any], enums: Mapping[str, list[str]]) -> dict[str, Any]:
    """A copy of the common schema with the reference-data enums set."""
    out = copy.deepcopy(dict(common))
    for name, values in enums.items():
        if len(set(values)) != len(values):
            raise CodegenError(f"reference data for {name} has duplicate codes")
        out["$defs"][name]["enum"] = list(values)
    return out


# --------------------------------------------------------------------------------------------------------
# 2. models


def _py_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _py_tuple(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_py_str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def _literal(values: list[Any], indent: str, budget: int) -> str:
    if not values or not all(isinstance(v, str) for v in values):
        raise CodegenError(f"enum/const must be non-empty strings: {values!r}")
    one_line = f"Literal[{', '.join(_py_str(v) for v in values)}]"
    if _width(one_line) <= budget:
        return one_line
    inner = "".join(f"{indent}    {_py_str(v)},\n" for v in values)
    return f"Literal[\n{inner}{indent}]"


def _annotated(base: str, meta: list[str], indent: str, budget: int) -> str:
    if not meta:
        return base
    one_line = f"Annotated[{base}, Meta({', '.join(meta)})]"
    if "\n" not in one_line and _width(one_line) <= budget:
        return one_line
    args = "".join(f"{indent}        {m},\n" for m in meta)
    return f"Annotated[\n{indent}    {base},\n{indent}    Meta(\n{args}{indent}    ),\n{indent}]"


def _width(text: str) -> int:
    """Display width as ruff measures line length: East Asian wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap by display width (a word wider than the line is split by characters)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while _width(word) > width:
            cut = len(word)
            while _width(word[:cut]) > width:
                cut -= 1
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if _width(candidate) > width and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _class_name_of_ref(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise CodegenError(f"unsupported $ref {ref!r} (only {_REF_PREFIX}<Name>)")
    return ref[len(_REF_PREFIX) :]


def _docstring(node: Mapping[str, Any], indent: str) -> str:
    text = str(node.get("title", "")).replace('"""', "'''").replace("\\", "\\\\")
    lines = _wrap(text, _LINE - len(indent) - 6)
    if node.get("description"):
        description = str(node["description"]).replace('"""', "'''").replace("\\", "\\\\")
        lines += ["", *_wrap(description, _LINE - len(indent) - 3)]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""\n'
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}{indent}"""\n'


def _comment(text: str, indent: str) -> str:
    return "".join(f"{indent}#: {line}\n" for line in _wrap(text, _LINE - len(indent) - 3))


def _lifted_body(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str | None:
    """The BODY of a ``data`` string whose only constraint is a liftable pattern (a ``$ref`` followed): the
    model declares it plain ``str`` and the fast path checks it in one regex with the others; else None."""
    if "$ref" in node:
        node = defs[_class_name_of_ref(str(node["$ref"]))]
    keys = {k for k in node if k not in _ANNOTATIONS and not k.startswith("x-")}
    if node.get("type") != "string" or keys != {"type", "pattern"}:
        return None
    return liftable_body(str(node["pattern"]))


@dataclass
class _Generator:
    defs: Mapping[str, Any]
    lift: bool = False
    """Generating ``data`` models: strings with a liftable pattern become plain ``str`` (see ``LIFTED``)."""
    aliases: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    emitted: dict[str, int] = field(default_factory=dict)  # name -> id(schema node) that made it

    # ---- type expressions

    def type_expr(
        self, node: Mapping[str, Any], where: str, name_hint: str | None, indent: str, budget: int
    ) -> str:
        """The Python type of ``node``; one line if it fits in ``budget`` columns, else indented by ``indent``."""
        keys = {k for k in node if k not in _ANNOTATIONS and not k.startswith("x-")}
        if self.lift and _lifted_body(node, self.defs) is not None:
            if "$ref" in node:
                self.ensure_def(_class_name_of_ref(str(node["$ref"])))
            return "str"
        if "$ref" in node:
            if keys != {"$ref"}:
                raise CodegenError(f"{where}: $ref with sibling keywords {sorted(keys - {'$ref'})}")
            return self.ensure_def(_class_name_of_ref(str(node["$ref"])))
        if "const" in node or "enum" in node:
            self._only(node, keys, {"const", "enum", "type"}, where)
            if node.get("type", "string") != "string":
                raise CodegenError(f"{where}: const/enum must be of type string")
            return _literal([node["const"]] if "const" in node else list(node["enum"]), indent, budget)
        kind = node.get("type")
        if kind == "string":
            return self._string(node, keys, where, indent, budget)
        if kind == "integer":
            return self._integer(node, keys, where, indent, budget)
        if kind == "boolean":
            self._only(node, keys, {"type"}, where)
            return "bool"
        if kind == "array":
            return self._array(node, keys, where, indent, budget)
        if kind == "object":
            name = node.get("x-model-name") or name_hint
            if not name:
                raise CodegenError(f"{where}: nested object needs x-model-name")
            self.ensure_class(str(name), node, where)
            return str(name)
        raise CodegenError(f"{where}: unsupported schema {dict(node)!r}")

    @staticmethod
    def _only(node: Mapping[str, Any], keys: set[str], allowed: set[str], where: str) -> None:
        extra = keys - allowed
        if extra:
            raise CodegenError(f"{where}: unsupported keywords {sorted(extra)}")

    def _string(self, node: Mapping[str, Any], keys: set[str], where: str, indent: str, budget: int) -> str:
        self._only(node, keys, {"type", "pattern", "minLength", "maxLength", "format"}, where)
        fmt = node.get("format")
        if fmt == "date":
            if keys - {"type", "format", "pattern"}:
                raise CodegenError(f"{where}: a date takes only a pattern")
            return "datetime.date"
        if fmt not in (None, "date-time"):
            raise CodegenError(f"{where}: unsupported format {fmt!r}")
        meta = []
        if "pattern" in node:
            meta.append(f"pattern={_py_str(node['pattern'])}")
        if "minLength" in node:
            meta.append(f"min_length={int(node['minLength'])}")
        if "maxLength" in node:
            meta.append(f"max_length={int(node['maxLength'])}")
        return _annotated("str", meta, indent, budget)

    def _integer(self, node: Mapping[str, Any], keys: set[str], where: str, indent: str, budget: int) -> str:
        self._only(node, keys, {"type", "minimum", "maximum"}, where)
        if "maximum" not in node or "minimum" not in node:
            raise CodegenError(f"{where}: integers need minimum and maximum")
        if not -_MAX_SAFE_INTEGER <= int(node["minimum"]) <= int(node["maximum"]) <= _MAX_SAFE_INTEGER:
            raise CodegenError(f"{where}: integer bounds must lie within ±(2**53 - 1)")
        return _annotated("int", [f"ge={int(node['minimum'])}", f"le={int(node['maximum'])}"], indent, budget)

    def _array(self, node: Mapping[str, Any], keys: set[str], where: str, indent: str, budget: int) -> str:
        self._only(node, keys, {"type", "items", "minItems", "maxItems", "uniqueItems"}, where)
        if "items" not in node or "maxItems" not in node:
            raise CodegenError(f"{where}: arrays need items and maxItems")
        item = self.type_expr(node["items"], where + "/items", None, indent + "    ", _LINE - len(indent) - 16)
        meta = []
        if "minItems" in node:
            meta.append(f"min_length={int(node['minItems'])}")
        meta.append(f"max_length={int(node['maxItems'])}")
        return _annotated(f"tuple[{item}, ...]", meta, indent, budget)

    # ---- definitions and classes

    def ensure_def(self, name: str) -> str:
        if name not in self.defs:
            raise CodegenError(f"unknown definition {name!r} in the common schema")
        node = self.defs[name]
        if node.get("type") == "object":
            self.ensure_class(name, node, f"common#/$defs/{name}")
        elif name not in self.emitted:
            self.emitted[name] = id(node)
            lift, self.lift = self.lift, False  # an alias keeps its pattern: the envelope uses some
            expr = self.type_expr(node, f"common#/$defs/{name}", None, "", _LINE - len(name) - 3)
            self.lift = lift
            self.aliases.append(f"{name} = {expr}\n")
        return name

    def ensure_class(self, name: str, node: Mapping[str, Any], where: str) -> None:
        if name in self.emitted:
            if self.emitted[name] != id(node):
                raise CodegenError(f"{where}: model name {name!r} is used twice")
            return
        self.emitted[name] = id(node)
        self.classes.append(self.class_source(name, "Model", node, where))

    def class_source(self, name: str, base: str, node: Mapping[str, Any], where: str) -> str:
        keys = {k for k in node if k not in _ANNOTATIONS and not k.startswith("x-")}
        extra = keys - {"type", "properties", "required", "additionalProperties", "minProperties"}
        if extra:
            raise CodegenError(f"{where}: unsupported object keywords {sorted(extra)}")
        if node.get("additionalProperties") is not False:
            raise CodegenError(f"{where}: objects must say additionalProperties: false")
        required = set(node.get("required", ()))
        props: Mapping[str, Any] = node.get("properties", {})
        if required - set(props):
            raise CodegenError(f"{where}: required names unknown properties {sorted(required - set(props))}")
        fields = {prop: self.field_source(prop, props[prop], prop in required, f"{where}/{prop}") for prop in props}
        return self.struct_source(name, base, node, fields)

    @staticmethod
    def struct_source(name: str, base: str, node: Mapping[str, Any], fields: Mapping[str, str]) -> str:
        """The class with its fields in RFC 8785 member order (ASCII names: code points = UTF-16 units), so
        msgspec's plain encoding of a model already is its canonical member order."""
        if not all(prop.isascii() for prop in fields):
            raise CodegenError(f"{name}: property names must be ASCII")
        lines = [f"class {name}({base}, frozen=True, kw_only=True):\n", _docstring(node, "    ")]
        lines += [fields[prop] for prop in sorted(fields)]
        return "".join(lines)

    def field_source(self, prop: str, node: Mapping[str, Any], required: bool, where: str) -> str:
        if not prop.isidentifier() or prop.startswith("_"):
            raise CodegenError(f"{where}: property name is not a plain identifier")
        suffix = "" if required else " | UnsetType = UNSET"
        expr = self.type_expr(node, where, None, "    ", _LINE - len(f"    {prop}: {suffix}"))
        title = node.get("title") or self._ref_title(node)
        comment = _comment(str(title), "    ") if title else ""
        return f"{comment}    {prop}: {expr}{suffix}\n"

    def _ref_title(self, node: Mapping[str, Any]) -> str:
        if "$ref" in node:
            return str(self.defs[_class_name_of_ref(str(node["$ref"]))].get("title", ""))
        return ""


# ---- extra checks (walk one event schema, following $refs)


def _checks(node: Mapping[str, Any], defs: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[Check]:
    if "$ref" in node:
        yield from _checks(defs[_class_name_of_ref(str(node["$ref"]))], defs, path)
        return
    kind = node.get("type")
    if kind == "string" and node.get("format") == "date-time":
        yield ("date-time", path, 0)
    elif kind == "array":
        if node.get("uniqueItems"):
            yield ("uniqueItems", path, 0)
        yield from _checks(node["items"], defs, (*path, "*"))
    elif kind == "object":
        if "minProperties" in node:
            yield ("minProperties", path, int(node["minProperties"]))
        for prop, sub in node.get("properties", {}).items():
            yield from _checks(sub, defs, (*path, prop))


def _lifted(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    """(attribute path with "*" for every array item, BODY) of every lifted string below ``node``."""
    body = _lifted_body(node, defs)
    if body is not None:
        yield (path, body)
        return
    if "$ref" in node:
        yield from _lifted(defs[_class_name_of_ref(str(node["$ref"]))], defs, path)
        return
    kind = node.get("type")
    if kind == "array":
        yield from _lifted(node["items"], defs, (*path, "*"))
    elif kind == "object":
        for prop, sub in node.get("properties", {}).items():
            yield from _lifted(sub, defs, (*path, prop))


def _without_annotations(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_annotations(v)
            for k, v in node.items()
            if k not in _ANNOTATIONS and not k.startswith("x-")
        }
    return node


def _envelope_shape(schema: Mapping[str, Any]) -> tuple[str, str]:
    props = {k: v for k, v in schema["properties"].items() if k not in _ENVELOPE_VARIABLE}
    return json.dumps(_without_annotations(props), sort_keys=True), json.dumps(sorted(schema["required"]))


def _model_name(schema: Mapping[str, Any]) -> str:
    return f"{schema['x-name']}V{schema['x-version']}"


def _type_name(schema: Mapping[str, Any]) -> str:
    return str(schema["properties"]["type"]["const"])


def generate_models(common: Mapping[str, Any], events: list[Mapping[str, Any]]) -> str:
    """The source of ``schemas/models.py`` for these schemas."""
    gen = _Generator(defs=common["$defs"])
    shapes = {_envelope_shape(s) for s in events}
    if len(shapes) != 1:
        raise CodegenError("every event schema must declare the same envelope attributes")
    gen.lift = True
    for schema in events:
        gen.ensure_class(_model_name(schema), schema["properties"]["data"], f"{schema['$id']}#/properties/data")
    gen.lift = False
    first = events[0]
    envelope_node: dict[str, Any] = {
        "title": "CloudEvents 1.0 信封 Envelope attributes shared by every event type",
        "description": "Generated from the envelope properties every event schema declares.",
        "type": "object",
        "properties": {k: v for k, v in first["properties"].items() if k not in _ENVELOPE_VARIABLE},
        "required": [r for r in first["required"] if r not in _ENVELOPE_VARIABLE],
        "additionalProperties": False,
    }
    gen.class_source("Envelope", "Model", envelope_node, "envelope")  # the checks of the subset
    required = set(envelope_node["required"])
    envelope_fields = {prop: gen.field_source(prop, node, prop in required, f"envelope/{prop}")
                       for prop, node in envelope_node["properties"].items()}
    # declared here, narrowed by each event type's envelope class, so that every field has its sorted place
    narrowed = "(narrowed by each event type's envelope class)"
    envelope_fields["type"] = f"    #: 事件类型 Event type {narrowed}\n    type: str\n"
    envelope_fields["dataschema"] = f"    #: 数据模式 Data schema {narrowed}\n    dataschema: str\n"
    envelope_fields["data"] = f"    #: 数据 The typed payload {narrowed}\n    data: EventData\n"
    envelope_src = gen.struct_source("Envelope", "Model", envelope_node, envelope_fields)
    parts = [_HEADER, _MODULE_DOC, _IMPORTS, _BASE, "\n\n", "\n".join(gen.aliases), "\n\n"]
    parts.append("\n\n".join(gen.classes))
    union = "".join(f"    {'| ' if i else ''}{_model_name(s)}\n" for i, s in enumerate(events))
    parts.append(f"\n\nEventData: TypeAlias = (\n{union})\n\n\n{envelope_src}")
    for schema in events:
        cls = f"{_model_name(schema)}Envelope"
        parts.append(
            f"\n\nclass {cls}(Envelope, frozen=True, kw_only=True):\n"
            f'    """Envelope of {_type_name(schema)}."""\n\n'
            f"    type: {_literal([_type_name(schema)], '    ', _LINE - 10)}\n"
            f"    dataschema: {_literal([schema['$id']], '    ', _LINE - 16)}\n"
            f"    data: {_model_name(schema)}\n"
        )
    parts.append(_tables(common, events))
    return "".join(parts)


def _tables(common: Mapping[str, Any], events: list[Mapping[str, Any]]) -> str:
    env = "".join(f"    {_py_str(_type_name(s))}: {_model_name(s)}Envelope,\n" for s in events)
    data = "".join(f"    {_py_str(_type_name(s))}: {_model_name(s)},\n" for s in events)
    lifted = []
    for s in events:
        found_lifted = list(_lifted(s["properties"]["data"], common["$defs"], ("data",)))
        if found_lifted:
            body = "".join(f"        ({_py_tuple(p)}, {_py_str(b)}),\n" for p, b in found_lifted)
            lifted.append(f"    {_py_str(_type_name(s))}: (\n{body}    ),\n")
    checks = []
    for s in events:
        found = [c for c in _checks(s, common["$defs"], ()) if c[1] != ("time",)]
        if found:
            body = "".join(f"        ({_py_str(k)}, {_py_tuple(p)}, {n}),\n" for k, p, n in found)
            checks.append(f"    {_py_str(_type_name(s))}: (\n{body}    ),\n")
    return (
        "\n\nENVELOPE_MODELS: dict[str, type[Envelope]] = {\n" + env + "}\n"
        '"""Event type → its envelope Struct (what the fast path decodes into)."""\n'
        "\nDATA_MODELS: dict[str, type[Model]] = {\n" + data + "}\n"
        '"""Event type → its typed payload Struct."""\n'
        "\nEXTRA_CHECKS: dict[str, tuple[tuple[str, tuple[str, ...], int], ...]] = {\n"
        + "".join(checks)
        + "}\n"
        '"""Event type → (keyword, attribute path, argument) checks msgspec cannot express; "*" = every item."""\n'
        "\nLIFTED: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {\n"
        + "".join(lifted)
        + "}\n"
        '"""Event type → (attribute path, BODY) of the data strings declared plain ``str``: each must fullmatch\n'
        "BODY (its pattern is ``^BODY$(?!\\\\n)``); :mod:`schemas.validation` checks them all in one regex.\"\"\"\n"
    )


_MODULE_DOC = '''"""msgspec models of every event type, generated from the JSON Schemas in ``schemas/definitions/``.

Frozen, slotted Structs: decoding validates types, enums, patterns, lengths and bounds in C. Optional fields
are ``UNSET`` when absent. ``EXTRA_CHECKS`` lists what msgspec cannot express (uniqueItems, minProperties,
real date-times); ``LIFTED`` the ``data`` strings declared plain ``str`` whose patterns are checked together
in one regex (msgspec would call ``re`` once per string); :mod:`schemas.validation` runs both: decode with it.
Do not edit: change the schemas and regenerate.
"""
'''

_IMPORTS = """
import datetime
from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Meta, UnsetType

__all__ = ["DATA_MODELS", "ENVELOPE_MODELS", "EXTRA_CHECKS", "LIFTED", "UNSET", "Envelope", "EventData", "Model"]
"""

_BASE = '''

class Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True, gc=False):
    """Base of every generated model: immutable, unknown fields rejected, UNSET fields omitted on encode."""
'''


# --------------------------------------------------------------------------------------------------------
# driver


@dataclass(frozen=True)
class Outputs:
    files: dict[Path, str]


def generate(package_dir: Path = PACKAGE_DIR) -> Outputs:
    """Compute every generated file (path → text) without writing anything."""
    json_dir = package_dir / "definitions"
    common_path = json_dir / "common.v1.json"
    common = sync_common(
        json.loads(common_path.read_text(encoding="utf-8")), reference_enums(package_dir / "data")
    )
    events = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(json_dir.glob("*.json"))
        if p.name != common_path.name
    ]
    events.sort(key=lambda s: (_AREA_ORDER.index(s["x-area"]), s["x-name"], s["x-version"]))
    return Outputs({common_path: dump_json(common), package_dir / "models.py": generate_models(common, events)})


_AREA_ORDER = ["demand", "inventory", "transport", "receipt", "registry"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.codegen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if anything would change")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generate().files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        sys.stderr.write(f"{'stale' if args.check else 'wrote'}: {path}\n")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
