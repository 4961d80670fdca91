"""Trust files: the public keys a participant relies on to check the ledger offline.

    {"ledger_id": "taijiao",
     "sequencer_keys": ["<base64 raw Ed25519 public key>", ...],
     "participants": [<genesis participant objects: id, name, roles, keys, mines, stations>],
     "validators": [{"name": ..., "key_id": ..., "public_key": "<base64>"}, ...],
     "witnesses": ["<C2SP vkey>", ...],
     "witness_quorum": k,
     "sequencer_rotations": [<signed rotation documents, services/trustset.py>]}

``witnesses`` are tlog-cosignature/v1 vkeys (type 0x04); a checkpoint counts under the policy when at least
``witness_quorum`` of them cosigned it (0 or absent: no witness policy). See services/witness/policy.py.

``coalchain trust export`` writes one from the genesis file and the sequencer key.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain_anchor.checkpoint import NoteVerifier
from chain_anchor.errors import ChainAnchorError
from chain_anchor.keys import KeyRing
from services.errors import InputFileError
from services.registry import Registry, from_genesis, validator_keys
from services.trustset import SequencerKeys, trusted_sequencer_keys
from services.witness.policy import WitnessPolicy


@dataclass(frozen=True)
class Trust:
    ledger_id: str
    sequencer_keys: KeyRing
    registry: Registry
    witnesses: tuple[NoteVerifier, ...] = ()
    validators: KeyRing = field(default_factory=KeyRing)  # whose verdicts the sequencer may seal
    witness_quorum: int = 0

    def witness_policy(self) -> WitnessPolicy:
        """The k-of-n witness policy of this trust file (``quorum == 0``: none configured)."""
        return WitnessPolicy(self.witnesses, self.witness_quorum)
    sequencer_schedule: SequencerKeys = field(default_factory=lambda: SequencerKeys(KeyRing()))

    def sequencer_key_problem(self, height: int, sequencer_key_id: str) -> str | None:
        """Why ``height`` must not be sealed by ``sequencer_key_id`` under the trusted rotations, if so."""
        want = self.sequencer_schedule.key_id_at(height)
        if want is None or want == sequencer_key_id:
            return None
        return f"block {height} is sealed by key {sequencer_key_id}, but the trusted rotations give it to key {want}"

    def checkpoint_verifiers(self, origin: str) -> list[NoteVerifier]:
        """The sequencer keys as C2SP note verifiers under the checkpoint origin's name."""
        return [NoteVerifier(origin, 1, raw) for raw in self.sequencer_keys.values()]


def trust_from_json(doc: dict[str, Any]) -> Trust:
    ledger_id = str(doc["ledger_id"])
    schedule = trusted_sequencer_keys([base64.b64decode(k, validate=True) for k in doc["sequencer_keys"]],
                                      doc.get("sequencer_rotations", []), ledger_id=ledger_id)
    return Trust(
        ledger_id=ledger_id,
        sequencer_keys=schedule.ring,
        registry=from_genesis({"participants": doc.get("participants", [])}),
        witnesses=tuple(NoteVerifier.parse(v) for v in doc.get("witnesses", [])),
        validators=validator_keys(doc),
        witness_quorum=_quorum(doc),
        sequencer_schedule=schedule,
    )


def _quorum(doc: dict[str, Any]) -> int:
    k = doc.get("witness_quorum", 0)
    n = len(doc.get("witnesses", []))
    if type(k) is not int or not 0 <= k <= n:
        raise ValueError(f"witness_quorum must be an integer in [0, {n}] (the number of witnesses), got {k!r}")
    return k


def load_trust(path: Path) -> Trust:
    """The trust file at ``path``; :class:`~services.errors.InputFileError` naming the file and the member."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputFileError(f"{path}: cannot read the trust file: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputFileError(f"{path}: not a trust file (not JSON: {e})") from None
    if not isinstance(doc, dict):
        raise InputFileError(f"{path}: not a trust file (a JSON object is expected; make one with"
                             " `coalchain trust export`)")
    try:
        return trust_from_json(doc)
    except KeyError as e:
        raise InputFileError(f"{path}: not a trust file: member {e.args[0]!r} is missing (make one with"
                             " `coalchain trust export`)") from None
    except (ValueError, TypeError, AttributeError, ChainAnchorError) as e:
        raise InputFileError(f"{path}: malformed trust file: {e}") from None


def trust_json(ledger_id: str, sequencer_public_keys: list[bytes], genesis: dict[str, Any],
               witnesses: list[str] | None = None, witness_quorum: int = 0,
               rotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ledger_id": ledger_id,
        "sequencer_keys": [base64.b64encode(k).decode() for k in sequencer_public_keys],
        "participants": genesis.get("participants", []),
        "validators": genesis.get("validators", []),
        "witnesses": list(witnesses or []),
        "witness_quorum": witness_quorum,
    }
    if rotations:
        doc["sequencer_rotations"] = rotations
    return doc
