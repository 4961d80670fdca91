"""The package boundaries of ARCHITECTURE.md: chain_anchor and schemas never import services."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module))
    return found


@pytest.mark.parametrize("package", ["chain_anchor", "schemas"])
def test_core_packages_do_not_import_services(package: str) -> None:
    offenders = sorted((f, m) for f, m in imported_modules(package) if m == "services" or m.startswith("services."))
    assert offenders == []
    assert imported_modules(package), f"{package} has no imports at all? the scan is broken"
