"""``coalchain verify`` against cosigned checkpoints held outside the database: names a shortened or forked chain.

Sources: witness state files (``state.json`` of ``coalchain witness``; by default every
``$COALCHAIN_HOME/witnesses/*/state.json``) or files holding one cosigned checkpoint note (``--cosigned``).
Each checkpoint must carry a valid sequencer signature under the ledger's origin (others are reported and not
used). The database must reach its size and have its root there; a database that ends before it was shortened
(e.g. head blocks deleted behind the triggers), one with another root there is a fork.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from chain_anchor.checkpoint import NoteVerifier, verify_checkpoint
from chain_anchor.errors import ChainAnchorError
from services.store import proofs
from services.store.postgres import LedgerStore
from services.witness.policy import cosigners

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    source: str
    note: bytes


def read_sources(paths: list[Path], origin: str) -> list[Held]:
    """The checkpoint notes of ``origin`` in each file (a witness state file, or one note)."""
    held: list[Held] = []
    for path in paths:
        raw = path.read_bytes()
        if raw.lstrip().startswith(b"{"):
            entry = json.loads(raw).get("origins", {}).get(origin)
            if entry is not None:
                held.append(Held(str(path), str(entry["note"]).encode("utf-8")))
        else:
            held.append(Held(str(path), raw))
    return held


def default_sources(home: Path) -> list[Path]:
    return sorted((home / "witnesses").glob("*/state.json"))


async def compare(store: LedgerStore, held: list[Held], log_keys: list[NoteVerifier], origin: str,
                  witnesses: tuple[NoteVerifier, ...] = ()) -> tuple[list[str], int]:
    """(problems, how many checkpoints were compared)."""
    head = await store.head()
    size = head.tree_size if head else 0
    problems: list[str] = []
    compared = 0
    for h in held:
        try:
            cp = verify_checkpoint(h.note, log_keys, origin=origin)
            names = cosigners(h.note, witnesses) if witnesses else []
        except ChainAnchorError as e:
            problems.append(f"{h.source}: the checkpoint there does not verify ({e}); not used")
            continue
        compared += 1
        by = f" (cosigned by {', '.join(names)})" if names else ""
        if cp.tree_size > size:
            problems.append(f"SHORTENED: the database ends at tree size {size}, but {h.source} holds a checkpoint"
                            f" of size {cp.tree_size} signed by the sequencer{by}: {cp.tree_size - size} leaves"
                            " are missing")
        elif await proofs.root_at(store, cp.tree_size) != cp.root_hash:
            problems.append(f"FORKED: at tree size {cp.tree_size} the database's root differs from the checkpoint"
                            f" in {h.source}{by}")
    return problems, compared
