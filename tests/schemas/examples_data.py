"""The examples and their manifest, for the schemas tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def manifest() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    return doc


def example_bytes(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def valid_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(v["file"], json.loads(example_bytes(v["file"]))) for v in manifest()["valid"]]
