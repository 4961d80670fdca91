"""Rotation statements: what makes one followed or refused (services/trustset.py), and `coalchain init`."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from chain_anchor.keys import Signer
from services.ceremony import CeremonyError, ceremony
from services.registry import from_genesis
from services.trust import load_trust
from services.trustset import RotationInvalid, make_rotation, trusted_sequencer_keys

A, B, C = (Signer.from_seed(bytes([i]) * 32) for i in (1, 2, 3))


def rot(old: Signer, new: Signer, height: int) -> dict[str, Any]:
    return make_rotation(ledger_id="t", effective_height=height, last_header_hash=bytes([height]) * 32, old=old,
                         new=new, rotated_at="2026-12-01T00:00:00Z")


def test_a_chain_of_rotations_gives_each_height_its_key_from_any_anchor() -> None:
    chain = [rot(A, B, 5), rot(B, C, 9)]
    for anchor in (A, B, C):
        keys = trusted_sequencer_keys([anchor.public_key_raw], chain, ledger_id="t")
        assert [keys.key_id_at(h) for h in (0, 4, 5, 8, 9, 100)] == [A.key_id] * 2 + [B.key_id] * 2 + [C.key_id] * 2
        assert keys.handover_hash(4) == bytes([5]) * 32 and keys.handover_hash(5) is None
    assert trusted_sequencer_keys([A.public_key_raw], [], ledger_id="t").key_id_at(7) is None


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d["statement"].update(effective_height=6), "does not verify"),
    (lambda d: d["signatures"].pop(), "no signature by the new key"),
    (lambda d: d["statement"].update(ledger_id="other"), "ledger_id"),
    (lambda d: d["statement"].update(new_key_id="0" * 64), "new_key_id"),
    (lambda d: d["statement"].update(last_header_hash="zz"), "last_header_hash"),
])
def test_a_damaged_statement_is_refused_naming_the_field(damage: Any, message: str) -> None:
    doc = copy.deepcopy(rot(A, B, 5))
    damage(doc)
    with pytest.raises(RotationInvalid, match=message):
        trusted_sequencer_keys([A.public_key_raw], [doc], ledger_id="t")


def test_a_broken_chain_or_a_foreign_anchor_is_refused() -> None:
    with pytest.raises(RotationInvalid, match="old key is not the key"):
        trusted_sequencer_keys([A.public_key_raw], [rot(A, B, 5), rot(A, C, 9)], ledger_id="t")
    with pytest.raises(RotationInvalid, match="no trusted sequencer key"):
        trusted_sequencer_keys([C.public_key_raw], [rot(A, B, 5)], ledger_id="t")
    keys = trusted_sequencer_keys([A.public_key_raw], [rot(A, B, 5)], ledger_id="t")
    with pytest.raises(RotationInvalid, match="schedule says key"):
        keys.check_block(6, A.key_id, b"\0" * 32)
    with pytest.raises(RotationInvalid, match="hands over"):
        keys.check_block(4, A.key_id, b"\1" * 32)
    keys.check_block(4, A.key_id, bytes([5]) * 32)


def test_init_writes_keys_genesis_and_trust_and_never_overwrites(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    made = ceremony(tmp_path / "deploy", ledger_id="t", admins=["consortium-admin"], participants=[],
                    now=datetime(2026, 12, 1, tzinfo=UTC))
    d = tmp_path / "deploy"
    assert stat.S_IMODE((d / "sequencer.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "admin-keys" / "consortium-admin.pem").stat().st_mode) == 0o600
    seq = Signer.from_pem((d / "sequencer.key").read_bytes())
    assert made["sequencer_key_id"] == seq.key_id
    genesis = json.loads((d / "genesis.json").read_text())
    assert genesis["sequencer_keys"][0]["key_id"] == seq.key_id
    admin = from_genesis(genesis).get("consortium-admin")
    assert admin is not None and admin.roles == {"admin"}
    assert list(load_trust(d / "trust.json").sequencer_keys) == [seq.key_id]
    validator = Signer.from_pem((d / "validator.key").read_bytes())
    assert [v["key_id"] for v in genesis["validators"]] == [made["validator_key_id"]] == [validator.key_id]
    with pytest.raises(CeremonyError, match="never overwrites"):
        ceremony(d, ledger_id="t", admins=["consortium-admin"], participants=[], now=datetime.now(UTC))
    assert Signer.from_pem((d / "sequencer.key").read_bytes()).key_id == seq.key_id
