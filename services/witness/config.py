"""The deployment's witnesses file (``COALCHAIN_WITNESSES_FILE``, default ``$COALCHAIN_HOME/witnesses.json``)::

    {"quorum": 2,
     "witnesses": [{"url": "http://127.0.0.1:7381", "vkey": "<C2SP vkey, type 0x04>"}, ...]}

The publisher (``coalchain cosigner``) sends checkpoints to these URLs; ``trust export`` and ``GET /v1/trust``
put the vkeys and the quorum into the trust file. No file: no witnesses, quorum 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, NoteVerifier
from chain_anchor.errors import ChainAnchorError
from services.config import Settings
from services.errors import InputFileError
from services.witness.policy import WitnessPolicy


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str
    vkey: str

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier.parse(self.vkey)


@dataclass(frozen=True)
class WitnessesConfig:
    witnesses: tuple[WitnessEndpoint, ...] = ()
    quorum: int = 0

    def policy(self) -> WitnessPolicy:
        return WitnessPolicy(tuple(w.verifier for w in self.witnesses), self.quorum)


def witnesses_path(settings: Settings) -> Path:
    return settings.witnesses_file or settings.home / "witnesses.json"


def load_witnesses_config(settings: Settings) -> WitnessesConfig:
    path = witnesses_path(settings)
    if not path.exists():
        return WitnessesConfig()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        config = WitnessesConfig(tuple(WitnessEndpoint(str(w["url"]), str(w["vkey"])) for w in doc["witnesses"]),
                                 int(doc["quorum"]))
        for w in config.witnesses:
            if w.verifier.sig_type != SIG_TYPE_COSIGNATURE_V1:
                raise ValueError(f"witness {w.vkey}: a witness key must be of type 0x04 (cosignature/v1)")
        config.policy()  # checks 0 <= quorum <= n
    except (OSError, ValueError, KeyError, TypeError, ChainAnchorError) as e:
        raise InputFileError(f"{path}: malformed witnesses file: {e}") from None
    return config


def write_witnesses_config(path: Path, endpoints: list[WitnessEndpoint], quorum: int) -> None:
    doc = {"quorum": quorum, "witnesses": [{"url": w.url, "vkey": w.vkey} for w in endpoints]}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
