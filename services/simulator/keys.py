"""Participant keys derived from the seed, the genesis registry, and demo key files.

A participant's key is ``Signer.from_seed(sha256(f"coalchain-sim/{seed}/{participant_id}").digest())``: anyone
who knows the seed can sign as anyone, so these keys are for demos and tests only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chain_anchor.keys import Signer
from schemas.refdata import ParticipantInfo, refdata

__all__ = ["GENESIS_FORMAT", "genesis", "participant_signer", "write_genesis", "write_keys"]

log = logging.getLogger(__name__)

GENESIS_FORMAT = "coalchain-genesis/v1"


@functools.lru_cache(maxsize=4096)
def participant_signer(seed: int, participant_id: str) -> Signer:
    """The deterministic demo key of ``participant_id`` under ``seed``."""
    return Signer.from_seed(hashlib.sha256(f"coalchain-sim/{seed}/{participant_id}".encode()).digest())


def genesis(
    seed: int,
    *,
    created: datetime,
    ledger_id: str = "taijiao",
    participants: Iterable[ParticipantInfo] | None = None,
) -> dict[str, Any]:
    """The genesis participant registry (format in ``docs/events.md``) for the demo participants."""
    members = refdata().participants if participants is None else tuple(participants)
    return {
        "format": GENESIS_FORMAT,
        "ledger_id": ledger_id,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": seed,
        "participants": [_entry(seed, p) for p in members],
    }


def _entry(seed: int, p: ParticipantInfo) -> dict[str, Any]:
    signer = participant_signer(seed, p.id)
    return {
        "id": p.id,
        "name": p.name,
        "name_en": p.name_en,
        "roles": list(p.roles),
        "mines": list(p.mines),
        "stations": list(p.stations),
        "keys": [{"key_id": signer.key_id, "public_key": base64.b64encode(signer.public_key_raw).decode("ascii")}],
    }


def write_genesis(path: Path, doc: dict[str, Any]) -> None:
    """Write the genesis document as indented UTF-8 JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log.info("wrote genesis registry %s (%d participants)", path, len(doc["participants"]))


def write_keys(directory: Path, seed: int, participants: Iterable[ParticipantInfo] | None = None) -> list[Path]:
    """Write ``<participant id>.pem`` (unencrypted PKCS#8, mode 0600) for every participant. Demo only."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for p in refdata().participants if participants is None else participants:
        path = directory / f"{p.id}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(participant_signer(seed, p.id).to_pem())
        os.chmod(path, 0o600)
        written.append(path)
    log.warning("wrote %d demo private keys to %s (derived from seed %d: demo only)", len(written), directory, seed)
    return written
