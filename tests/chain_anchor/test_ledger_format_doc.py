"""docs/ledger-format.md shows exactly the values chain_anchor computes for its worked example."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chain_anchor.ledger_format_example import compute

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"
EXAMPLE = compute()


@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_doc_shows_value(name: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    value = EXAMPLE[name]
    if name in ("checkpoint_note", "cosigned_message"):
        assert "```\n" + value + "```" in text, name
    elif name == "event0_signing_bytes":
        assert value in text, name
    else:
        for line in value.splitlines():
            assert line in text, name
