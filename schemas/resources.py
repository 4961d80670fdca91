"""Where the package's JSON files live, read through :mod:`importlib.resources` (works installed or in-tree)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PACKAGE_DIR", "dump_json", "load_json", "read_bytes", "schema_file_names"]

PACKAGE_DIR = Path(__file__).resolve().parent
"""The source directory of the package (used by the generators, which write files)."""


def read_bytes(*parts: str) -> bytes:
    """The bytes of a package file, e.g. ``read_bytes("data", "stations.json")``."""
    return resources.files("schemas").joinpath(*parts).read_bytes()


def load_json(*parts: str) -> Any:
    """A package JSON file, decoded."""
    return json.loads(read_bytes(*parts))


def schema_file_names() -> list[str]:
    """File names of every JSON Schema under ``schemas/definitions/`` (common first, then sorted)."""
    names = sorted(
        p.name for p in resources.files("schemas").joinpath("definitions").iterdir() if p.name.endswith(".json")
    )
    return sorted(names, key=lambda n: (not n.startswith("common."), n))


def dump_json(doc: Any) -> str:
    """The one JSON file layout of this package: 2-space indent, UTF-8 characters kept, final newline."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
