"""chain_anchor is pure: it imports only stdlib, cryptography, rfc8785, nacl and msgspec (a C JSON encoder),
and reads no clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import chain_anchor

PACKAGE = Path(chain_anchor.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))
THIRD_PARTY = {"cryptography", "rfc8785", "nacl", "msgspec"}
FORBIDDEN = {
    "services",
    "schemas",
    "asyncio",
    "asyncpg",
    "aiokafka",
    "faust",
    "fastapi",
    "logging",
    "socket",
    "subprocess",
    "threading",
    "time",
    "os",
    "pathlib",
    "io",
    "random",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter", "open", "print"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            assert node.module is not None
            names.add(node.module.split(".")[0])
    return names


def _called_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                out.add(func.attr)
            elif isinstance(func, ast.Name):
                out.add(func.id)
    return out


def test_modules_found() -> None:
    assert {p.name for p in MODULES} >= {"canonical.py", "merkle.py", "block.py", "checkpoint.py", "errors.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_only_allowed_packages(path: Path) -> None:
    for name in _imports(path):
        assert name not in FORBIDDEN, f"{path.name} imports {name}"
        assert name in sys.stdlib_module_names or name in THIRD_PARTY or name in {"chain_anchor", "__future__"}, (
            f"{path.name} imports {name}"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_clock_no_io_calls(path: Path) -> None:
    assert not _called_names(path) & FORBIDDEN_CALLS, path.name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_ed25519_module_touches_crypto_libraries(path: Path) -> None:
    if path.name != "ed25519.py":
        assert not _imports(path) & {"cryptography", "nacl"}, path.name


def test_no_asyncio_in_source() -> None:
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        assert "async def" not in text and "await " not in text, path.name
