"""Generated artefacts are up to date, and the schemas stay inside the subset both validators share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

import schemas
from schemas import codegen, gen_docs
from schemas.resources import PACKAGE_DIR

SCHEMA_FILES = sorted((PACKAGE_DIR / "definitions").glob("*.json"))


def test_regenerating_models_and_common_enums_changes_nothing() -> None:
    for path, text in codegen.generate().files.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python -m schemas.codegen"


def test_regenerating_the_docs_changes_nothing() -> None:
    assert gen_docs.DOC_PATH.read_text(encoding="utf-8") == gen_docs.render(), "run python -m schemas.gen_docs"


def test_models_file_says_it_is_generated() -> None:
    assert (PACKAGE_DIR / "models.py").read_text(encoding="utf-8").startswith(
        "# GENERATED — DO NOT EDIT; run python -m schemas.codegen\n")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_every_schema_is_valid_draft_2020_12(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    if path.name.startswith("common."):
        return
    area, name, version = path.name.removesuffix(".json").split(".")
    assert doc["$id"] == f"https://schemas.taijiao-coal.cn/{area}/{name}/{version}.json"
    assert doc["properties"]["dataschema"]["const"] == doc["$id"]
    assert doc["properties"]["type"]["const"] == f"cn.taijiao.coal.{area}.{name}.{version}"
    assert (doc["x-area"], doc["x-name"], f"v{doc['x-version']}") == (area, name, version)


def _nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *[n for v in node.values() for n in _nodes(v)]]
    if isinstance(node, list):
        return [n for v in node for n in _nodes(v)]
    return []


def test_no_floats_and_bounded_integers_everywhere() -> None:
    for path in SCHEMA_FILES:
        for node in _nodes(json.loads(path.read_text(encoding="utf-8"))):
            assert node.get("type") != "number", path.name
            if node.get("type") == "integer":
                assert node["maximum"] <= 2**53 - 1, path.name
            if "pattern" in node:
                assert node["pattern"].startswith("^") and node["pattern"].endswith("$(?!\\n)"), path.name
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, path.name


def test_every_title_has_chinese_and_english() -> None:
    for path in SCHEMA_FILES:
        for node in _nodes(json.loads(path.read_text(encoding="utf-8"))):
            title = node.get("title")
            if isinstance(title, str) and "x-name" not in node:
                assert any("\u4e00" <= c <= "\u9fff" for c in title) and any(c.isascii() and c.isalpha()
                                                                           for c in title), title


def test_codegen_refuses_what_the_fast_path_cannot_enforce() -> None:
    common = json.loads((PACKAGE_DIR / "definitions" / "common.v1.json").read_text(encoding="utf-8"))
    gen = codegen._Generator(defs=common["$defs"])
    for bad in ({"type": "number"}, {"type": "integer", "minimum": 0}, {"type": "string", "format": "email"},
                {"anyOf": [{"type": "string"}]}, {"type": "object", "properties": {}},
                {"type": "array", "items": {"type": "string"}}):
        with pytest.raises(codegen.CodegenError):
            gen.type_expr(bad, "test", "Bad", "", 100)


def test_codegen_check_mode_reports_nothing_stale() -> None:
    assert codegen.main(["--check"]) == 0
    assert gen_docs.main(["--check"]) == 0


def test_the_schemas_package_imports_neither_services_nor_chain_anchor() -> None:
    code = ("import sys, schemas, schemas.gen_docs, schemas.codegen; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('services', 'chain_anchor')]; "
            "assert not bad, bad; schemas.validate(open(sys.argv[1], 'rb').read())")
    example = PACKAGE_DIR / "examples" / "valid" / "transport.WagonsLoaded.json"
    subprocess.run([sys.executable, "-c", code, str(example)], check=True, cwd=PACKAGE_DIR.parent)


def test_public_api() -> None:
    for name in ("validate", "SchemaError", "Event", "catalogue", "event_type", "ErrorItem", "EventWarning", "RULES"):
        assert name in schemas.__all__
