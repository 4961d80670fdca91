"""The witness's decision on one ``add-checkpoint`` request, as C2SP tlog-witness specifies it.

Checks, in order (each answer is the spec's): body form (400); origin known (404); a trusted log signature
that verifies, and no trusted one that fails (403); old size <= checkpoint size (400); old size equal to the
size this witness last cosigned (409 with that size, ``text/x.tlog.size``); size 0 has the empty root (422);
old size 0 has an empty proof (422); same size has the same root (422); the consistency proof verifies (422).
Then the new checkpoint is recorded durably and a timestamped ``cosignature/v1`` is answered (200).

Checking the old size and recording the new checkpoint happen under one lock, so two concurrent requests can
never roll the recorded size back. A refused checkpoint that a trusted log key signed and that contradicts the
recorded one (same size with another root, a smaller size, or no valid proof of consistency) is kept as
evidence (:meth:`WitnessState.keep_evidence`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chain_anchor.checkpoint import (
    SIG_TYPE_COSIGNATURE_V1,
    Checkpoint,
    NoteVerifier,
    cosign,
    parse_checkpoint,
    parse_note,
    verify_note,
)
from chain_anchor.errors import BadSignature, ChainAnchorError, CheckpointError, NoteParseError, QuorumNotMet
from chain_anchor.hashing import EMPTY_ROOT
from chain_anchor.keys import Signer
from chain_anchor.merkle import verify_consistency
from services.witness.protocol import (
    SIZE_CONTENT_TYPE,
    ProtocolError,
    format_cosignatures,
    format_size,
    parse_add_checkpoint,
)
from services.witness.state import Cosigned, WitnessState

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = TEXT


def _text(status: int, message: str) -> Answer:
    return Answer(status, (message + "\n").encode("utf-8"))


class Witness:
    """One witness key, the log keys it trusts (by origin) and its state."""

    def __init__(self, name: str, signer: Signer, logs: Iterable[NoteVerifier], state: WitnessState,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.signer = signer
        self.verifier = NoteVerifier(name, SIG_TYPE_COSIGNATURE_V1, signer.public_key_raw)
        self.logs: dict[str, list[NoteVerifier]] = {}
        for v in logs:
            self.logs.setdefault(v.name, []).append(v)
        self.state = state
        self._clock = clock
        self._lock = asyncio.Lock()

    async def add_checkpoint(self, body: bytes) -> Answer:
        async with self._lock:
            return self._add(body)

    def _add(self, body: bytes) -> Answer:
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.checkpoint)
            checkpoint = parse_checkpoint(note.text)
        except (ProtocolError, NoteParseError, CheckpointError) as e:
            return _text(400, f"bad request: {e}")
        verifiers = self.logs.get(checkpoint.origin)
        if verifiers is None:
            return _text(404, f"unknown log origin {checkpoint.origin!r}")
        try:
            verify_note(request.checkpoint, verifiers)
        except (BadSignature, QuorumNotMet, ChainAnchorError) as e:
            return _text(403, f"the checkpoint carries no valid signature of a trusted key of the log: {e}")
        stored = self.state.get(checkpoint.origin)
        if request.old_size > checkpoint.tree_size:
            reason = f"old size {request.old_size} is greater than the checkpoint size {checkpoint.tree_size}"
            if stored is not None and checkpoint.tree_size < stored.size:  # a signed, shortened head: keep it
                self._evidence(checkpoint, 400, f"{reason}; shorter than the cosigned size {stored.size}", stored,
                               request.checkpoint, request.old_size, request.proof)
            return _text(400, reason)
        stored_size = stored.size if stored else 0
        if request.old_size != stored_size:
            if stored is not None and (checkpoint.tree_size < stored.size or (
                    checkpoint.tree_size == stored.size and checkpoint.root_hash != stored.root)):
                what = "shorter" if checkpoint.tree_size < stored.size else "same size, another root"
                self._evidence(checkpoint, 409, f"conflicts with the cosigned size {stored.size} ({what})",
                               stored, request.checkpoint, request.old_size, request.proof)
            return Answer(409, format_size(stored_size), SIZE_CONTENT_TYPE)
        if checkpoint.tree_size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            return _text(422, "a checkpoint of size 0 must have the empty tree's root")
        if request.old_size == 0 and request.proof:
            return _text(422, "the consistency proof from size 0 must be empty")
        if stored is not None:
            if checkpoint.tree_size == stored.size and checkpoint.root_hash != stored.root:
                return self._evidence(checkpoint, 422, f"same size {stored.size} as the cosigned checkpoint, another"
                                      " root (split view)", stored, request.checkpoint, request.old_size, request.proof)
            try:
                verify_consistency(size1=stored.size, size2=checkpoint.tree_size, root1=stored.root,
                                   root2=checkpoint.root_hash, proof=request.proof)
            except ChainAnchorError as e:
                return self._evidence(checkpoint, 422, f"the consistency proof from size {stored.size} does not"
                                      f" verify: {e}", stored, request.checkpoint, request.old_size, request.proof)
        return self._cosign(checkpoint, request.checkpoint)

    def _cosign(self, checkpoint: Checkpoint, note_bytes: bytes) -> Answer:
        timestamp = max(1, int(self._clock()))
        line = cosign(checkpoint.text(), self.signer, self.name, timestamp)
        note = note_bytes.decode("utf-8")
        self.state.put(checkpoint.origin, Cosigned(checkpoint.tree_size, checkpoint.root_hash, note + line.line()))
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.tree_size)
        return Answer(200, format_cosignatures([line]))

    def _evidence(self, checkpoint: Checkpoint, status: int, reason: str, stored: Cosigned | None, submitted: bytes,
                  old_size: int, proof: tuple[bytes, ...]) -> Answer:
        self.state.keep_evidence(checkpoint.origin, status, reason, stored=stored, submitted=submitted,
                                 old_size=old_size, proof=proof)
        return _text(status, f"refused: {reason}")

    def latest(self, origin_hash: str) -> bytes | None:
        """The cosigned note of the origin whose SHA-256 (lower-case hex) is ``origin_hash`` (monitoring)."""
        for origin, cosigned in self.state.origins().items():
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                return cosigned.note.encode("utf-8")
        return None
