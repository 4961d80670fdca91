"""Witness policy: a checkpoint counts when the log signed it and at least k of n trusted witnesses cosigned it.

Pure (no I/O): used by ``receipt verify``, ``verify``, replicas, the publisher and the dashboard. The policy is
in the trust file: ``"witnesses": [<vkey>, ...]`` (C2SP vkeys of type 0x04, tlog-cosignature/v1) and
``"witness_quorum": k``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chain_anchor.checkpoint import Checkpoint, NoteVerifier, parse_note, verify_checkpoint
from chain_anchor.errors import QuorumNotMet

__all__ = ["WitnessPolicy", "cosigners", "verify_policy"]


@dataclass(frozen=True)
class WitnessPolicy:
    """k of n: ``quorum`` distinct witnesses among ``witnesses`` must cosign. ``quorum == 0``: no policy."""

    witnesses: tuple[NoteVerifier, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ValueError(f"witness_quorum must be in [0, {len(self.witnesses)}] (the number of witnesses),"
                             f" got {self.quorum}")

    @property
    def enabled(self) -> bool:
        return self.quorum > 0


def cosigners(note: str | bytes, witnesses: Iterable[NoteVerifier]) -> list[str]:
    """Names of the trusted witnesses whose cosignature on ``note`` verifies, in note order.

    A trusted witness's line that fails to verify raises :class:`~chain_anchor.errors.BadSignature` (the note
    is malformed, signed-note rules); lines of unknown keys are ignored.
    """
    trusted = {(w.name, w.key_id): w for w in witnesses}
    signed = parse_note(note)
    text = signed.text.encode("utf-8")
    names: list[str] = []
    for line in signed.signatures:
        witness = trusted.get((line.name, line.key_id))
        if witness is None:
            continue
        witness.verify(text, line)
        if line.name not in names:
            names.append(line.name)
    return names


def verify_policy(note: str | bytes, log_keys: Sequence[NoteVerifier], policy: WitnessPolicy, *,
                  origin: str) -> tuple[Checkpoint, list[str]]:
    """The checkpoint of ``note`` and the witnesses that cosigned it, if the log signed it under ``origin`` and
    the policy's quorum is met. Raises ``ChainAnchorError`` subclasses: ``QuorumNotMet`` (too few
    cosignatures, or no log signature), ``BadSignature``, ``NoteParseError``, ``CheckpointError``."""
    checkpoint = verify_checkpoint(note, log_keys, origin=origin)
    names = cosigners(note, policy.witnesses)
    if len(names) < policy.quorum:
        raise QuorumNotMet(required=policy.quorum, verified=len(names))
    return checkpoint, names
