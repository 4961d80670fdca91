"""The package re-exports its main names."""

from __future__ import annotations

import chain_anchor


def test_reexports_resolve() -> None:
    for name in chain_anchor.__all__:
        assert getattr(chain_anchor, name) is not None
    assert chain_anchor.verify_inclusion.__module__ == "chain_anchor.merkle"
