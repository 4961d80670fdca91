"""transparency-dev/merkle RFC 6962 proof vectors (tests/vectors/rfc6962): good cases verify, mutations raise."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from chain_anchor.errors import ChainAnchorError, ProofError
from chain_anchor.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def test_vectors_are_present() -> None:
    assert len(INCLUSION) >= 40
    assert len(CONSISTENCY) >= 40
    assert any(not _load(p)["wantErr"] for p in INCLUSION)
    assert any(_load(p)["wantErr"] for p in CONSISTENCY)


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)

    def verify() -> None:
        verify_inclusion(
            leaf_hash=_b64(case["leafHash"]),
            index=case["leafIdx"],
            tree_size=case["treeSize"],
            proof=_proof(case["proof"]),
            root=_b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError) as info:
            verify()
        assert isinstance(info.value, ChainAnchorError)
    else:
        verify()


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)

    def verify() -> None:
        verify_consistency(
            size1=case["size1"],
            size2=case["size2"],
            root1=_b64(case["root1"]),
            root2=_b64(case["root2"]),
            proof=_proof(case["proof"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()
