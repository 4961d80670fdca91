"""Key files on disk (chain_anchor itself never touches files)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from chain_anchor.keys import Signer
from services.config import Settings

log = logging.getLogger(__name__)


def sequencer_key_path(settings: Settings) -> Path:
    return settings.sequencer_key_file or settings.home / "keys" / "sequencer.key"


def load_or_create_signer(path: Path, *, create: bool) -> Signer:
    """Read a PKCS#8 PEM Ed25519 key; in development create it (mode 0600) when missing."""
    if path.exists():
        return Signer.from_pem(path.read_bytes())
    if not create:
        raise FileNotFoundError(f"no key at {path} (keys are generated only in development)")
    signer = Signer.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.to_pem())
    try:
        os.link(tmp, path)  # atomic, and never replaces a key another process created meanwhile
    except FileExistsError:
        return Signer.from_pem(path.read_bytes())
    finally:
        tmp.unlink()
    log.warning("generated a new development key %s (key id %s)", path, signer.key_id)
    return signer


def sequencer_signer(settings: Settings) -> Signer:
    return load_or_create_signer(sequencer_key_path(settings), create=settings.is_development())


def validator_key_path(settings: Settings) -> Path:
    return settings.validator_key_file or settings.home / "keys" / "validator.key"


def validator_signer(settings: Settings) -> Signer:
    """The key validators sign their verdicts with (created in development; production names a file)."""
    return load_or_create_signer(validator_key_path(settings), create=settings.is_development())


def genesis_path(settings: Settings) -> Path:
    return settings.genesis_file or settings.home / "genesis.json"


def ensure_development_validator(settings: Settings) -> Signer:
    """Development: create the validator key if missing and make sure the genesis file lists it."""
    from services.registry import add_genesis_validator

    signer = validator_signer(settings)
    add_genesis_validator(genesis_path(settings), signer.public_key_raw, "validator (development)")
    return signer
