"""A witness's own durable state: the latest checkpoint it cosigned per origin, and the evidence it kept.

Both live in the witness's directory, never in the operator's database:

* ``state.json`` — ``{"origins": {"<origin>": {"size": N, "root": "<base64>", "note": "<cosigned note>"}}}``,
  replaced atomically (write a temporary file, fsync it, rename it over, fsync the directory), so a crash
  leaves either the old or the new state, never a torn one;
* ``evidence/<UTC time>-<status>-<origin hash prefix>.json`` — one file per refused checkpoint that a
  trusted log key signed but that conflicts with what the witness cosigned (a fork or a shortening): both
  signed notes, the old size and proof sent, and the reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint a witness cosigned for one origin."""

    size: int
    root: bytes
    note: str  # the checkpoint as received plus this witness's cosignature line


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` durably: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class WitnessState:
    """``state.json`` and ``evidence/`` under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.evidence_dir = directory / "evidence"
        directory.mkdir(parents=True, exist_ok=True)
        self.evidence_dir.mkdir(exist_ok=True)
        self._origins: dict[str, Cosigned] = self._load()

    def _load(self) -> dict[str, Cosigned]:
        if not self.path.exists():
            return {}
        doc = json.loads(self.path.read_text(encoding="utf-8"))
        return {origin: Cosigned(int(v["size"]), base64.b64decode(v["root"], validate=True), str(v["note"]))
                for origin, v in doc["origins"].items()}

    def get(self, origin: str) -> Cosigned | None:
        return self._origins.get(origin)

    def origins(self) -> dict[str, Cosigned]:
        return dict(self._origins)

    def put(self, origin: str, cosigned: Cosigned) -> None:
        """Record ``cosigned`` as the latest for ``origin``, durably, before it is answered."""
        origins = {**self._origins, origin: cosigned}
        doc = {"origins": {o: {"size": c.size, "root": base64.b64encode(c.root).decode(), "note": c.note}
                           for o, c in sorted(origins.items())}}
        write_atomic(self.path, (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        self._origins = origins

    def keep_evidence(self, origin: str, status: int, reason: str, *, stored: Cosigned | None, submitted: bytes,
                      old_size: int, proof: tuple[bytes, ...]) -> Path:
        """Write one evidence file (both signed checkpoints) and return its path."""
        now = datetime.now(UTC)
        name = f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{status}-{hashlib.sha256(origin.encode()).hexdigest()[:12]}.json"
        doc: dict[str, Any] = {
            "kind": "taijiao-coalchain/witness-evidence/v1",
            "recorded_at": now.isoformat().replace("+00:00", "Z"),
            "origin": origin, "status": status, "reason": reason,
            "cosigned": None if stored is None else {"size": stored.size, "note": stored.note},
            "submitted": {"note": submitted.decode("utf-8", "replace"), "old_size": old_size,
                          "proof": [base64.b64encode(h).decode() for h in proof]},
        }
        path = self.evidence_dir / name
        write_atomic(path, (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        log.warning("refused a checkpoint for %s (%d: %s); evidence kept in %s", origin, status, reason, path)
        return path

    def evidence(self) -> list[dict[str, Any]]:
        """Every evidence document kept, oldest first."""
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.evidence_dir.glob("*.json"))]
