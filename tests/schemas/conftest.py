"""Fixtures of the schemas tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.schemas.examples_data import example_bytes


@pytest.fixture
def wagons_loaded() -> dict[str, Any]:
    """A fresh copy of the valid WagonsLoaded example (tests may mutate it)."""
    doc: dict[str, Any] = json.loads(example_bytes("valid/transport.WagonsLoaded.json"))
    return doc
