"""The verification status of the ledger head shown on the dashboard: checked here, with chain_anchor.

For the latest sealed block: the header's sequencer signature, the signed checkpoint (C2SP note) under the
ledger's origin, and that the checkpoint states the header's tree size and root. Witness cosignatures on
the checkpoint are counted (not trusted: no witness keys are configured yet). The sequencer's public key
comes from :func:`services.trustset.sequencer_keys` (the trust file, else this deployment's sequencer key
file); without either the status says "unverified" — never "ok".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from chain_anchor.block import BlockHeader, HeaderSignature, verify_header
from chain_anchor.checkpoint import NoteVerifier, parse_note, verify_checkpoint
from chain_anchor.errors import ChainAnchorError
from services.config import Settings
from services.sequencer.sealing import checkpoint_origin
from services.store.postgres import BlockRow
from services.trustset import sequencer_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadStatus:
    height: int
    verified: bool
    detail: str
    tree_size: int
    root: str
    sealed_at: str
    witnesses: int

    def to_json(self) -> dict[str, Any]:
        return {"height": self.height, "verified": self.verified, "detail": self.detail, "tree_size": self.tree_size,
                "root": self.root, "sealed_at": self.sealed_at, "witness_cosignatures": self.witnesses}


class HeadVerifier:
    """Verifies a block row; remembers the last answer (the head changes a few times a second at most)."""

    def __init__(self, settings: Settings) -> None:
        self.keys, self.key_source = sequencer_keys(settings)
        self.origin = checkpoint_origin(settings.ledger_id)
        self.verifiers = [NoteVerifier(self.origin, 1, k) for k in self.keys.values()] if self.keys else []
        self._last: HeadStatus | None = None

    def status(self, row: BlockRow) -> HeadStatus:
        if self._last is not None and self._last.height == row.height:
            return self._last
        verified, detail = self._check(row)
        note = parse_note(row.checkpoint)
        status = HeadStatus(row.height, verified, detail, row.tree_size, row.log_root.hex(),
                            row.sealed_at.isoformat(), max(0, len(note.signatures) - 1))
        self._last = status
        return status

    def _check(self, row: BlockRow) -> tuple[bool, str]:
        if self.keys is None:
            return False, f"unverified: {self.key_source}"
        try:
            header = BlockHeader.from_json(json.loads(row.header))
            verify_header(header, [HeaderSignature.from_json(s) for s in json.loads(row.signatures)], self.keys)
            cp = verify_checkpoint(row.checkpoint, self.verifiers, origin=self.origin)
        except (ChainAnchorError, ValueError) as e:
            return False, f"FAILED: {type(e).__name__}: {e}"
        if (cp.tree_size, cp.root_hash) != (header.tree_size, header.log_root):
            return False, "FAILED: the checkpoint does not state the header's tree size and root"
        return True, f"header and checkpoint signatures verified (key {header.sequencer_key_id[:12]}…)"
